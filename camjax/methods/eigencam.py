"""Eigen-CAM (Muhammad & Yeasin, IJCNN 2020): the first principal component of a layer.

The layer's activations at the ``h w`` positions, ``A`` (h w, K), are factorised by an SVD
and the map is their projection on the first right singular vector, ``A v1`` (eq. 4-5),
reshaped to (h, w): no gradient and no class, so every class of an image gets the same
map. As pytorch-grad-cam's ``eigen_cam.py`` (``get_2d_projection``) camjax centres the
activations over the positions first (the paper factorises them as they are; uncentred,
the first component of non-negative activations is their dominant direction and carries
their mean) and rectifies the map (``relu=False`` keeps it signed). The sign of a singular
vector is arbitrary: pytorch-grad-cam keeps whatever LAPACK returns, so its map may light
up the background; camjax makes the entry of largest magnitude positive
(:mod:`camjax.methods.projection`: Seg-Eigen-CAM's correction, scikit-learn's
``svd_flip``). ``eigen_smooth`` is accepted and changes nothing: the map already is
the first component (of the activations times 1).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from camjax.methods.base import layer_activations
from camjax.methods.projection import first_component
from camjax.methods.registry import register


def per_class(maps, classes):
    """(B, h, w) class-independent maps -> (B, k, h, w) for the k classes."""
    return jnp.broadcast_to(maps[:, None], (maps.shape[0], classes.shape[1]) + maps.shape[1:])


@register("eigen_cam", resolution="features", options={"relu": True})
@partial(jax.jit, static_argnames=("graphdef", "layer", "relu", "eigen_smooth"))
def eigen_cam_fn(graphdef, state, images, classes, *, layer=None, relu: bool = True,
                 eigen_smooth: bool = False):
    """Eigen-CAM (Muhammad & Yeasin 2020): the activations' first principal component."""
    _, activations = layer_activations(graphdef, state, images, layer)
    maps = per_class(first_component(activations), classes)
    return jax.nn.relu(maps) if relu else maps
