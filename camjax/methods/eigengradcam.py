"""Eigen-Grad-CAM: pytorch-grad-cam's ``EigenGradCAM`` (no paper of its own).

Eigen-CAM (:mod:`camjax.methods.eigencam`) applied to the class-specific products
``g A`` (``g = d logit_c / d A``) instead of the activations: the first principal
component of the ``h w`` positions' K products, centred, with camjax's sign convention
(largest magnitude positive; pytorch-grad-cam's sign is LAPACK's), then a ReLU. It is
HiResCAM with ``eigen_smooth=True``; ``eigen_smooth`` is accepted here and changes nothing.
"""
from __future__ import annotations

from functools import partial

import jax

from camjax.methods.base import layer_gradients
from camjax.methods.projection import first_component
from camjax.methods.registry import register


@register("eigen_grad_cam", resolution="features", options={"relu": True})
@partial(jax.jit, static_argnames=("graphdef", "layer", "relu", "eigen_smooth"))
def eigen_grad_cam_fn(graphdef, state, images, classes, *, layer=None, relu: bool = True,
                      eigen_smooth: bool = False):
    """Eigen-Grad-CAM (pytorch-grad-cam): first principal component of gradient x activation."""
    _, activations, grads = layer_gradients(graphdef, state, images, classes, layer)
    maps = first_component(grads * activations[:, None])
    return jax.nn.relu(maps) if relu else maps
