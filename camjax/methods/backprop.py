"""Backpropagation saliency (Simonyan et al., ICLR workshop 2014), the paper's baseline.

Section 3.1 / Table 2 "Backprop" of the CAM paper: the gradient of the class score (the
logit, before softmax) with respect to the input image, then the maximum of its absolute
value over the colour channels: a (B, k, H, W) map at the image resolution.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from camjax.methods import base
from camjax.methods.registry import Method, register


def saliency_of(grads):
    """(..., H, W, 3) image gradients -> (..., H, W) max over channels of |gradient|."""
    return jnp.abs(grads).max(axis=-1)


@partial(jax.jit, static_argnames=("graphdef",))
def input_gradients_fn(graphdef, state, images, classes):
    """d logit[b, classes[b, j]] / d images[b]: (B, k, H, W, 3)."""
    return base.input_gradients(graphdef, state, images, classes)[1]


@register("saliency", resolution="image")
@partial(jax.jit, static_argnames=("graphdef",))
def saliency_fn(graphdef, state, images, classes):
    """Backprop saliency (Simonyan et al. 2014): max over channels of |d logit / d image|."""
    return saliency_of(base.input_gradients(graphdef, state, images, classes)[1])



# not a map method (the raw (B, k, H, W, 3) gradients), so not registered
input_gradients = base.on_model(Method("input_gradients", input_gradients_fn, "image"))
