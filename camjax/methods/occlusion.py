"""Occlusion (Zeiler & Fergus, ECCV 2014, Sec. 4.2): the score lost when a patch is hidden.

A ``window`` (an int or (h, w)) of the ``baseline`` value (0: the dataset mean of
normalised images, the paper's grey square) slides over the image in steps of
``stride``; at each position the drop ``s(x) - s(x with the patch hidden)`` of the class
score ``s`` (``score="probability"``, the softmax probability the paper plots, or
``"logit"``) is recorded. Each pixel's value is the mean drop over the positions whose
patch covers it (Captum's ``Occlusion``; PAIR's ``Occlusion`` sums them at stride 1, a
per-pixel count that is constant away from the borders); pixels no patch covers (when
``(H - window) % stride != 0``) are 0. The positions are ``floor((H - window) / stride) +
1`` per axis. Positive where hiding the pixel lowers the score, negative where it raises
it. ``batch_size`` positions per forward pass (B x ``batch_size`` images, ``lax.scan``).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from camjax.methods.base import class_scores, eval_model, logits_of
from camjax.methods.registry import register
from camjax.methods.scorecam import check_batch_size

SCORES = ("probability", "logit")


def pair(value, name):
    value = (value, value) if isinstance(value, int) else tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) and v >= 1 for v in value):
        raise ValueError(f"{name} must be a positive int or (h, w), got {value!r}")
    return value


def positions(size, window, stride):
    """The patches' top-left corners per axis."""
    return [jnp.arange((n - k) // s + 1) * s for n, k, s in zip(size, window, stride)]


@partial(jax.jit, static_argnames=("graphdef", "window", "stride", "score", "batch_size"))
def _occlusion(graphdef, state, images, classes, baseline, *, window, stride, score,
               batch_size):
    model = eval_model(graphdef, state)
    b, h, w, _ = images.shape

    def scores_of(x):
        logits = logits_of(model(x.reshape((-1,) + images.shape[1:])))
        logits = logits.reshape(x.shape[:2] + logits.shape[-1:])
        if score == "probability":
            logits = jax.nn.softmax(logits, axis=-1)
        return class_scores(logits, classes)                            # (B, n, k)

    original = scores_of(images[:, None])                               # (B, 1, k)
    ys, xs = positions((h, w), window, stride)
    corners = jnp.stack(jnp.meshgrid(ys, xs, indexing="ij"), -1).reshape(-1, 2)
    n = corners.shape[0]
    chunk = min(batch_size, n)
    chunks = -(-n // chunk)
    corners = jnp.pad(corners, ((0, chunks * chunk - n), (0, 0)), constant_values=-h - w)
    rows, cols = jnp.arange(h), jnp.arange(w)

    def patch(corner):                                                   # (H, W) in {0, 1}
        inside_y = (rows >= corner[0]) & (rows < corner[0] + window[0])
        inside_x = (cols >= corner[1]) & (cols < corner[1] + window[1])
        return (inside_y[:, None] & inside_x[None, :]).astype(images.dtype)

    def add(carry, chunk_corners):
        total, count = carry
        patches = jax.vmap(patch)(chunk_corners)                         # (n, H, W)
        hidden = images[:, None] * (1 - patches[..., None]) + baseline * patches[..., None]
        drops = original - scores_of(hidden)                             # (B, n, k)
        return (total + jnp.einsum("bnk,nyx->bkyx", drops, patches),
                count + patches.sum(axis=0)), None

    start = (jnp.zeros((b, classes.shape[1], h, w), images.dtype), jnp.zeros((h, w),
                                                                          images.dtype))
    (total, count), _ = jax.lax.scan(add, start, corners.reshape(chunks, chunk, 2))
    return total / jnp.maximum(count, 1)


@register("occlusion", resolution="image",
          options={"window": 16, "stride": 8, "baseline": 0.0, "score": "probability",
                   "batch_size": 32})
def occlusion_fn(graphdef, state, images, classes, *, window=16, stride=8, baseline=0.0,
                 score: str = "probability", batch_size: int = 32):
    """Occlusion (Zeiler & Fergus 2014): the class score's drop under a sliding patch."""
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    check_batch_size(batch_size)
    window, stride = pair(window, "window"), pair(stride, "stride")
    if window[0] > images.shape[1] or window[1] > images.shape[2]:
        raise ValueError(f"window {window} is larger than the images "
                         f"{images.shape[1:3]}")
    return _occlusion(graphdef, state, images, classes, jnp.asarray(baseline, images.dtype),
                      window=window, stride=stride, score=score, batch_size=batch_size)
