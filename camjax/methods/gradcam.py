"""Grad-CAM (Selvaraju et al., ICCV 2017) on the features the network returns.

``ReLU(sum_K alpha_K A_K)`` with ``alpha_K`` the spatial mean of ``d logit_c / d A_K`` (the
score before softmax, as in the paper, pytorch-grad-cam and torchcam). On a GAP network
whose dense layer has no bias ``alpha_K = W[K, c] / (h w)``, so Grad-CAM = ReLU(CAM) / (h w);
under GMP the mean gradient is the same, so the identity holds there too.
"""
from __future__ import annotations

from functools import partial

import jax

from camjax.methods.base import logits_features_gradients, on_model, weighted_sum


@partial(jax.jit, static_argnames=("graphdef", "relu"))
def grad_cam_fn(graphdef, state, images, classes, *, relu: bool = True):
    """Grad-CAM (B, k, h, w) at the feature resolution; ``relu=False`` keeps the signed map."""
    _, features, grads = logits_features_gradients(graphdef, state, images, classes)
    maps = weighted_sum(features, grads.mean(axis=(2, 3)))
    return jax.nn.relu(maps) if relu else maps


grad_cam = on_model(grad_cam_fn)
