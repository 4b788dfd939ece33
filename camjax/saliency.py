"""Gradient baselines next to CAM: backpropagation saliency and Grad-CAM, jitted and batched.

* :func:`gradient_saliency` - Simonyan et al. (2014), the paper's baseline (section 3.1,
  Table 2 "Backprop"): the gradient of the class score (the logit, before softmax) with
  respect to the input image, then the maximum of its absolute value over the colour
  channels: a (B, k, H, W) map at input resolution.
* :func:`grad_cam` - Selvaraju et al. (2017) on the features the model returns (the last
  conv layer, the one CAM uses): ``ReLU(sum_k alpha_k A_k)`` with ``alpha_k`` the spatial
  mean of d score / d A_k. On a GAP network whose dense layer has no bias,
  ``alpha_k = W[k, c] / (h w)``, so Grad-CAM equals ``ReLU(CAM) / (h w)``.

Both are pure functions of ``nnx.split`` state under ``jax.jit`` (``*_fn`` variants);
the wrappers put the model in evaluation mode (BatchNorm statistics, no dropout), so
each image's gradient is independent of the rest of the batch. Maps come back raw (not
normalised): pass them through ``camjax.cam.upsample`` / ``normalize`` as CAMs are.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from flax import nnx


def _check(images, classes):
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (B, H, W, 3), got shape {images.shape}")
    classes = jnp.asarray(classes)
    if classes.ndim == 1:
        classes = classes[:, None]
    if classes.ndim != 2 or classes.shape[0] != images.shape[0]:
        raise ValueError(f"classes must be (B={images.shape[0]}, k), got shape {classes.shape}")
    if not jnp.issubdtype(classes.dtype, jnp.integer):
        raise TypeError(f"classes must be integers, got {classes.dtype}")
    return classes


@partial(jax.jit, static_argnames=("graphdef",))
def input_gradients_fn(graphdef, state, images, classes):
    """d logit[b, classes[b, j]] / d images[b]: (B, k, H, W, 3). Pure over split state."""
    def score(x, column):            # the sum over the batch: images are independent
        logits, _ = nnx.merge(graphdef, state)(x)
        return jnp.take_along_axis(logits, column[:, None], axis=1).sum()

    grads = jax.vmap(jax.grad(score), in_axes=(None, 1), out_axes=1)(images, classes)
    return grads


@partial(jax.jit, static_argnames=("graphdef",))
def gradient_saliency_fn(graphdef, state, images, classes):
    """Backprop saliency (B, k, H, W): max over channels of |d score / d image|."""
    return jnp.abs(input_gradients_fn(graphdef, state, images, classes)).max(axis=-1)


@partial(jax.jit, static_argnames=("graphdef", "relu"))
def grad_cam_fn(graphdef, state, images, classes, relu: bool = True):
    """Grad-CAM (B, k, h, w) on the returned features; the model must have a ``head``
    mapping features to logits (every camjax network does)."""
    model = nnx.merge(graphdef, state)
    _, features = model(images)

    def score(f, column):
        logits = model.head(f)
        return jnp.take_along_axis(logits, column[:, None], axis=1).sum()

    grads = jax.vmap(jax.grad(score), in_axes=(None, 1), out_axes=1)(features, classes)
    alpha = grads.mean(axis=(2, 3))                                  # (B, k, K)
    maps = jnp.einsum("byxk,bck->bcyx", features, alpha)
    return jax.nn.relu(maps) if relu else maps


def _split(model: nnx.Module):
    model.eval()
    return nnx.split(model)


def input_gradients(model: nnx.Module, images, classes) -> jax.Array:
    """Raw input gradients (B, k, H, W, 3) of the class scores ``classes`` (B, k)."""
    classes = _check(images, classes)
    graphdef, state = _split(model)
    return input_gradients_fn(graphdef, state, jnp.asarray(images), classes)


def gradient_saliency(model: nnx.Module, images, classes) -> jax.Array:
    """The paper's backprop baseline: (B, k, H, W) saliency of ``classes`` (B, k) or (B,)."""
    classes = _check(images, classes)
    graphdef, state = _split(model)
    return gradient_saliency_fn(graphdef, state, jnp.asarray(images), classes)


def grad_cam(model: nnx.Module, images, classes, *, relu: bool = True) -> jax.Array:
    """Grad-CAM (B, k, h, w) of ``classes`` on the model's final features."""
    classes = _check(images, classes)
    graphdef, state = _split(model)
    return grad_cam_fn(graphdef, state, jnp.asarray(images), classes, relu)
