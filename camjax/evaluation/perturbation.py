"""Pieces of the faithfulness metrics (faithfulness.py): input checks, class probabilities,
RISE's blur, the pixel order of a map, the step schedule, the AUC, and a ``score_fn`` as a
pytree (so a jitted caller takes the model's arrays as arguments). Arrays in, arrays out;
jitted where the work is on the device."""
from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

ScoreFn = Callable[[jax.Array], Any]


def check_inputs(images, maps, classes, unit_maps: bool):
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (N, H, W, 3), got shape {images.shape}")
    if maps.shape != images.shape[:3]:
        raise ValueError(f"maps must be (N, H, W) = {images.shape[:3]} (one map per image at "
                         f"the image resolution), got shape {maps.shape}")
    if classes.shape != images.shape[:1] or not jnp.issubdtype(classes.dtype, jnp.integer):
        raise ValueError(f"classes must be (N={images.shape[0]},) integers, got shape "
                         f"{classes.shape} {classes.dtype}")
    if maps.size:
        lo, hi = float(jnp.min(maps)), float(jnp.max(maps))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError("maps hold NaN or inf")
        if unit_maps and (lo < 0 or hi > 1):
            raise ValueError(f"maps must lie in [0, 1] (got [{lo:.3g}, {hi:.3g}]): normalise "
                             "them first, e.g. camjax.cam.normalize(maps)")


def as_arrays(images, maps, classes):
    as_jax = lambda a: a if isinstance(a, jax.Array) else jnp.asarray(a)    # noqa: E731
    return as_jax(images), as_jax(maps), as_jax(classes)


@jax.jit
def class_probability(probs, classes):
    """(N, s, C) or (N, C) probabilities -> (N, s) or (N,) of each image's class; a one-hot
    contraction (a gather with sharded indices has no unambiguous sharding)."""
    probs = probs.reshape(classes.shape[0], -1, probs.shape[-1])
    hot = jax.nn.one_hot(classes, probs.shape[-1], dtype=probs.dtype)
    return jnp.einsum("nsc,nc->ns", probs, hot, precision=jax.lax.Precision.HIGHEST)


def class_scores(score_fn: ScoreFn, images, classes, check: bool = False) -> jax.Array:
    """score_fn on (N * s, ...) images -> (N, s) probabilities of the classes."""
    probs = jnp.asarray(score_fn(images))
    if probs.ndim != 2 or probs.shape[0] != images.shape[0]:
        raise ValueError(f"score_fn must return (N={images.shape[0]}, C) class probabilities, "
                         f"got shape {probs.shape}")
    if check and classes.size and not 0 <= int(jnp.min(classes)) <= int(
            jnp.max(classes)) < probs.shape[1]:
        raise ValueError(f"classes must lie in [0, {probs.shape[1]}) (score_fn's classes)")
    return class_probability(probs, classes)


def rise_blur_kernel(size: int = 11, sigma: float = 5.0) -> np.ndarray:
    """RISE's ``gkern``: a (size, size) delta smoothed by scipy's gaussian_filter (sums to 1)."""
    from scipy.ndimage import gaussian_filter
    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1
    return gaussian_filter(delta, sigma)


def blur_bands(kernel, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``kernel`` (k, k) as sums of separable terms (its SVD; RISE's Gaussian has one), each
    term's 1-D filters as banded (H, H) and (W, W) matrices with zero padding built in:
    ``blur_with_bands`` is then two matrix products (XLA:CPU runs a 3-channel depthwise
    convolution at under 1 GFLOP/s, matrix products at tens)."""
    kernel = np.asarray(kernel, np.float64)
    u, s, vt = np.linalg.svd(kernel)
    terms = [t for t in range(len(s)) if s[t] > 1e-12 * s[0]] or [0]
    k = kernel.shape[0]

    def band(n, taps):                    # out[i] = sum_j band[i, j] in[j]: a correlation
        offset = np.arange(n)[None, :] - np.arange(n)[:, None] + k // 2
        inside = (offset >= 0) & (offset < k)
        return np.where(inside, taps[np.clip(offset, 0, k - 1)], 0.0)
    rows = np.stack([band(height, u[:, t] * np.sqrt(s[t])) for t in terms])
    cols = np.stack([band(width, vt[t] * np.sqrt(s[t])) for t in terms])
    return rows.astype(np.float32), cols.astype(np.float32)


@jax.jit
def blur_with_bands(images, rows, cols):
    """(N, H, W, C) images blurred by the separable terms of ``blur_bands``."""
    x = jnp.einsum("tih,nhwc->tniwc", rows.astype(images.dtype), images,
                   precision=jax.lax.Precision.HIGHEST)
    return jnp.einsum("tjw,tniwc->nijc", cols.astype(images.dtype), x,
                      precision=jax.lax.Precision.HIGHEST)


def blur(images, kernel):
    """Each channel convolved with ``kernel`` (k, k), zero padding (RISE's conv2d)."""
    return blur_with_bands(images, *blur_bands(kernel, *images.shape[1:3]))


@jax.jit
def pixel_ranks(maps):
    """(N, H, W) -> (N, H W) int32: each pixel's place in decreasing order of the map,
    ties broken by the row-major index (lower first)."""
    flat = maps.reshape(maps.shape[0], -1)
    order = jnp.argsort(-flat, axis=1, stable=True)
    place = jnp.arange(flat.shape[1], dtype=jnp.int32)   # the inverse permutation: a scatter
    # per row (vmapped: the rows keep the batch's sharding, explicit or not)
    return jax.vmap(lambda o: jnp.zeros(o.shape, jnp.int32).at[o].set(
        place, unique_indices=True))(order)


def as_partial(score_fn: ScoreFn) -> jax.tree_util.Partial:
    """``score_fn`` as a ``jax.tree_util.Partial``, to be passed to a jitted function.

    A ``functools.partial`` whose arguments are arrays (e.g. ``partial(probabilities,
    graphdef, state)``: a graphdef has no leaves) keeps them as leaves: the jitted caller
    takes the weights as arguments. Any other callable is traced with what it closes over,
    which the compiler embeds as constants (fine for small networks; pass a partial, or a
    ``jax.tree_util.Partial``, to keep a large network's weights out of the program)."""
    if isinstance(score_fn, jax.tree_util.Partial):
        return score_fn
    if isinstance(score_fn, functools.partial):
        pure = jax.tree_util.Partial(score_fn.func, *score_fn.args, **score_fn.keywords)
        if all(isinstance(leaf, (jax.Array, np.ndarray)) for leaf in jax.tree.leaves(pure)):
            return pure
    return jax.tree_util.Partial(score_fn)


def step_counts(num_pixels: int, steps: int) -> np.ndarray:
    """Pixels changed after each of the steps + 1 points: floor(i H W / steps)."""
    return (np.arange(steps + 1) * num_pixels) // steps


def auc(curves) -> np.ndarray:
    """Trapezoid rule over [0, 1] of (..., steps + 1) curves at i / steps (RISE's ``auc``)."""
    c = np.asarray(curves, np.float64)
    return (c.sum(axis=-1) - (c[..., 0] + c[..., -1]) / 2) / (c.shape[-1] - 1)
