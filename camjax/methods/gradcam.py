"""Grad-CAM (Selvaraju et al., ICCV 2017) at any layer.

``ReLU(sum_K alpha_K A_K)`` with ``alpha_K`` the spatial mean of ``d logit_c / d A_K`` (the
score before softmax, as in the paper, pytorch-grad-cam and torchcam). On a GAP network
whose dense layer has no bias ``alpha_K = W[K, c] / (h w)`` at its features, so Grad-CAM =
ReLU(CAM) / (h w); under GMP the mean gradient is the same, so the identity holds there too.
"""
from __future__ import annotations

from camjax.methods.base import gradient_method
from camjax.methods.registry import register


@register("grad_cam", resolution="features", options={"relu": True})
@gradient_method
def grad_cam_fn(activations, grads):
    """Grad-CAM (Selvaraju et al. 2017): channels weighted by their mean gradient."""
    return grads.mean(axis=(2, 3))
