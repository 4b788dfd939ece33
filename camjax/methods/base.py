"""What every map method shares: input checks, the eval-mode model, and the two gradients.

The methods are pure functions of ``nnx.split`` state, in the manner of pytorch-grad-cam's
``base_cam.py`` (which owns the forward pass and the gradients; each method supplies only
its channel weights), but without hooks:

* :func:`logits_features_gradients` - one forward pass, then ``d logit[b, classes[b, j]] /
  d features[b]`` for the k requested classes. ``features`` are the network's second
  output (every camjax network returns ``(logits, features)``) and the gradient runs
  through ``model.head`` (features -> logits), so only the head is differentiated.
  Grad-CAM, Grad-CAM++ and LayerCAM all go through it.
* :func:`input_gradients` - ``d logit[b, classes[b, j]] / d images[b]``, the same for the
  image: backprop saliency, SmoothGrad and Integrated Gradients go through it.

The model is merged in evaluation mode inside the pure function (BatchNorm running
statistics, no dropout), whatever mode ``graphdef`` was split in, so each image's maps are
independent of the rest of the batch and a batch sharded along ``data`` gives the maps of
the whole batch computed on one device. Everything is differentiable: a loss on the maps
can be differentiated with respect to ``state`` (second-order for the gradient methods).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.models import class_weights


def eval_model(graphdef, state) -> nnx.Module:
    """The network of ``(graphdef, state)`` in evaluation mode (a fresh merged copy)."""
    model = nnx.merge(graphdef, state)
    model.eval()
    return model


# Class selection is a contraction with one-hot vectors, not a gather: a gather whose
# indices are sharded along an explicit mesh axis has no unambiguous output sharding
# (jax raises ShardingTypeError), a contraction over the class axis does. HIGHEST keeps it
# exact where the default matmul precision is lower (TPU).
def class_scores(logits, classes):
    """(B, ..., C) scores, (B, k) classes -> (B, ..., k) scores of the requested classes."""
    hot = jax.nn.one_hot(classes, logits.shape[-1], dtype=logits.dtype)      # (B, k, C)
    return jnp.einsum("b...c,bkc->b...k", logits, hot, precision=jax.lax.Precision.HIGHEST)


def class_columns(kernel, classes):
    """(K, C) classifier kernel, (B, k) classes -> (B, k, K) the requested columns."""
    hot = jax.nn.one_hot(classes, kernel.shape[-1], dtype=kernel.dtype)
    return jnp.einsum("Kc,bkc->bkK", kernel, hot, precision=jax.lax.Precision.HIGHEST)


def per_class_gradients(fn, x, classes):
    """Logits ``fn(x)`` (B, C) and ``d fn(x)[b, classes[b, j]] / d x[b]`` (B, k, ...).

    ``fn`` maps (N, ...) to (N, C) row by row (an eval-mode network or head). The batch is
    repeated k times, image-major, and one VJP of the summed class scores gives every
    gradient: unlike a vmap over k of the pullback, this keeps a batch sharded along an
    explicit ``data`` axis sharded (the vmapped transpose would merge k into the batch
    axis, which jax refuses), at the price of k forward passes instead of one.
    """
    b, k = classes.shape
    repeated = jnp.broadcast_to(x[:, None], (b, k) + x.shape[1:]).reshape((b * k,) + x.shape[1:])

    def total(inputs):
        logits = fn(inputs)
        hot = jax.nn.one_hot(classes.reshape(b * k), logits.shape[-1], dtype=logits.dtype)
        return (logits * hot).sum(), logits

    grads, logits = jax.grad(total, has_aux=True)(repeated)
    return logits.reshape((b, k) + logits.shape[1:])[:, 0], grads.reshape((b, k) + x.shape[1:])


def logits_features_gradients(graphdef, state, images, classes):
    """``(logits (B, C), features (B, h, w, K), grads (B, k, h, w, K))`` where
    ``grads[b, j] = d logits[b, classes[b, j]] / d features[b]``. Pure, traceable."""
    model = eval_model(graphdef, state)
    _, features = model(images)
    logits, grads = per_class_gradients(model.head, features, classes)
    return logits, features, grads


def input_gradients(graphdef, state, images, classes):
    """``(logits (B, C), grads (B, k, H, W, 3))`` with ``grads[b, j] = d logits[b,
    classes[b, j]] / d images[b]``. Pure, traceable."""
    model = eval_model(graphdef, state)
    return per_class_gradients(lambda x: model(x)[0], images, classes)


def weighted_sum(features, weights):
    """sum_K weights[b, j, K] * features[b, y, x, K] -> (B, k, h, w)."""
    return jnp.einsum("byxk,bck->bcyx", features, weights.astype(features.dtype))


# --------------------------------------------------------------------------- wrappers
def check_images(images) -> jax.Array:
    images = images if isinstance(images, jax.Array) else jnp.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (B, H, W, 3), got shape {images.shape}")
    if not jnp.issubdtype(images.dtype, jnp.floating):
        raise TypeError(f"images must be floating point, got {images.dtype}")
    return images


def check_classes(classes, batch: int, num_classes: int | None = None) -> jax.Array:
    """(B, k) or (B,) integer class indices -> (B, k), each in [0, num_classes)."""
    classes = classes if isinstance(classes, jax.Array) else jnp.asarray(classes)
    if classes.ndim == 1:
        classes = classes[:, None]
    if classes.ndim != 2 or classes.shape[0] != batch or classes.shape[1] < 1:
        raise ValueError(f"classes must be (B={batch}, k) or (B,), got shape {classes.shape}")
    if not jnp.issubdtype(classes.dtype, jnp.integer):
        raise TypeError(f"classes must be integers, got {classes.dtype}")
    if num_classes is not None and classes.size:
        lo, hi = int(classes.min()), int(classes.max())
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"classes must lie in [0, {num_classes}), got values in "
                             f"[{lo}, {hi}]")
    return classes


def _num_classes(model) -> int | None:
    try:
        return int(class_weights(model).shape[-1])
    except TypeError:      # not a camjax network with a pooling head: checked later
        return None


def on_model(pure):
    """``pure(graphdef, state, images, classes, **options)`` ->
    ``method(model, images, classes, **options)``: checks the inputs, splits the model
    (left in the mode it is in) and calls the pure function."""
    @functools.wraps(pure)
    def method(model: nnx.Module, images, classes, **options) -> jax.Array:
        images = check_images(images)
        classes = check_classes(classes, images.shape[0], _num_classes(model))
        graphdef, state = nnx.split(model)
        return pure(graphdef, state, images, classes, **options)
    method.__doc__ = (f"{pure.__doc__}\n\n    Called as ``(model, images (B, H, W, 3), classes "
                      f"(B, k) or (B,), **options)``; the pure form is ``{pure.__name__}``.")
    method.__name__ = method.__qualname__ = pure.__name__.removesuffix("_fn")
    return method


def weighted_input_gradients(graphdef, state, point, weights, classes, batch_size: int):
    """``sum_s weights[s] * d logit / d image`` at the images ``point(s)``, s = 0..n-1.

    ``point(s)`` maps a scalar index to a (B, H, W, 3) batch (traceable); the n points are
    differentiated ``batch_size`` at a time (``lax.scan`` over chunks, a backward pass
    holding B x batch_size images, image-major so a ``data``-sharded batch stays sharded).
    Returns (B, k, H, W, 3): the sum, e.g. a mean (SmoothGrad) or a quadrature (IG).
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    n = weights.shape[0]
    chunk = min(batch_size, n)
    chunks = -(-n // chunk)
    index = jnp.arange(chunks * chunk).reshape(chunks, chunk)
    padded = jnp.pad(weights, (0, chunks * chunk - n)).reshape(chunks, chunk)  # pads: 0
    b, k = classes.shape
    repeated = jnp.broadcast_to(classes[:, None], (b, chunk, k)).reshape(b * chunk, k)

    def add_chunk(total, xs):
        ids, w = xs
        points = jax.vmap(point, out_axes=1)(ids)                      # (B, chunk, H, W, 3)
        shape = points.shape
        _, grads = input_gradients(graphdef, state, points.reshape((b * chunk,) + shape[2:]),
                                   repeated)
        grads = grads.reshape((b, chunk, k) + shape[2:])
        # a product and a sum, not a contraction: exact where matmuls default to bf16 (TPU)
        w = w.astype(grads.dtype).reshape((1, chunk) + (1,) * (grads.ndim - 2))
        return total + (grads * w).sum(axis=1), None

    # zeros shaped and sharded like the images (an explicit mesh types the scan's carry)
    first = point(0)
    start = jnp.broadcast_to(jnp.zeros_like(first)[:, None], (b, k) + first.shape[1:])
    total, _ = jax.lax.scan(add_chunk, start, (index, padded))
    return total
