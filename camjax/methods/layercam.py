"""LayerCAM (Jiang et al., IEEE TIP 2021): positive gradients weight each position.

``map(i, j) = ReLU(sum_K ReLU(g_K(i, j)) A_K(i, j))`` with ``g = d logit_c / d A`` (eq. 5-6;
pytorch-grad-cam's ``layer_cam.py`` and torchcam's ``LayerCAM`` use the same), on the
features the network returns (the paper also fuses several layers; camjax uses the one
CAM uses).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from camjax.methods.base import logits_features_gradients, on_model


@partial(jax.jit, static_argnames=("graphdef",))
def layer_cam_fn(graphdef, state, images, classes):
    """LayerCAM (B, k, h, w) at the feature resolution, after its ReLU."""
    _, features, grads = logits_features_gradients(graphdef, state, images, classes)
    maps = jnp.einsum("bcyxk,byxk->bcyx", jax.nn.relu(grads), features)
    return jax.nn.relu(maps)


layer_cam = on_model(layer_cam_fn)
