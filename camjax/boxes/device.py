"""The paper rule on the accelerator: jitted connected-component labelling in JAX.

``largest_component_boxes_device(maps, threshold)`` gives the boxes of
:func:`camjax.boxes.largest_component_boxes` for a batch of maps (..., H, W)
without leaving the device:

1. foreground ``m > threshold * max(m)``, the comparison made in float64 as the
   host path makes it (NumPy promotes the float64 threshold), so the masks agree
   bit for bit; ``threshold`` is a static argument for that reason;
2. 8-connected labelling by label propagation: every foreground pixel starts with
   its own raster index; each round takes the minimum label over the 3x3
   neighbourhood, hooks the current label's slot to it (a scatter-min, as in
   union-find) and jumps pointers (``L <- L[L]``); a ``lax.while_loop`` runs until
   nothing changes. The fixed point labels each component with its first pixel
   in raster order;
3. component sizes by a scatter-add; ``argmax`` takes the largest, and among
   equal sizes the smallest label, i.e. the component whose first pixel comes
   first: the host path's tie rule (``skimage.measure.label`` numbers components
   in raster order and ``argmax`` takes the lowest label);
4. the bounding box (x0, y0, x1, y1) of that component, inclusive; a map with no
   foreground gives (0, 0, 0, 0).

Boxes come back as int32 on the device. XLA on CPU and GPU flushes subnormal floats to
zero, so a map whose values lie below float32's smallest normal number (1.2e-38) is all
zero here, where the host path still sees its pixels; maps at that scale carry no
localization, and the two paths agree everywhere else.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np


def _foreground(maps: jax.Array, threshold: float) -> jax.Array:
    with jax.enable_x64(True):
        m = maps.astype(jnp.float64)
        peak = m.max(axis=(-2, -1), keepdims=True)
        return m > jnp.asarray(threshold, jnp.float64) * peak


def _labels(fg: jax.Array) -> jax.Array:
    """(N, H, W) bool -> (N, H*W) int32 labels, the component's first raster index;
    background pixels get H*W."""
    N, H, W = fg.shape
    HW = H * W
    sentinel = jnp.int32(HW)
    flat_fg = fg.reshape(N, HW)
    init = jnp.where(flat_fg, jnp.arange(HW, dtype=jnp.int32)[None], sentinel)
    # one spare slot per map at index HW holds the sentinel, so gathers stay in range
    L0 = jnp.concatenate([init, jnp.full((N, 1), sentinel)], axis=1)
    rows = jnp.arange(N)[:, None]

    def neighbour_min(L):
        img = L[:, :HW].reshape(N, H, W)
        m = jax.lax.reduce_window(img, sentinel, jax.lax.min, (1, 3, 3), (1, 1, 1),
                                  ((0, 0), (1, 1), (1, 1)))
        return jnp.where(flat_fg, m.reshape(N, HW), sentinel)

    def body(state):
        L, _ = state
        m = neighbour_min(L)
        hooked = L.at[rows, L[:, :HW]].min(m)                 # parent[L[p]] <- min(., m[p])
        new = jnp.minimum(hooked[:, :HW], m)
        new = jnp.concatenate([new, L[:, HW:]], axis=1)
        new = jnp.take_along_axis(new, new, axis=1)           # pointer jumping, twice
        new = jnp.take_along_axis(new, new, axis=1)
        return new, jnp.any(new != L)

    L, _ = jax.lax.while_loop(lambda s: s[1], body, (L0, jnp.bool_(True)))
    return L[:, :HW]


def _largest_box(fg: jax.Array) -> jax.Array:
    N, H, W = fg.shape
    HW = H * W
    L = _labels(fg)
    rows = jnp.arange(N)[:, None]
    counts = jnp.zeros((N, HW + 1), jnp.int32).at[rows, L].add(1)[:, :HW]
    best = jnp.argmax(counts, axis=1).astype(jnp.int32)      # first max: smallest label
    any_fg = counts.max(axis=1) > 0
    inside = (L == best[:, None]) & any_fg[:, None]
    idx = jnp.arange(HW, dtype=jnp.int32)
    ys, xs = idx // W, idx % W
    big = jnp.int32(HW)

    def lo(v):
        return jnp.where(inside, v[None], big).min(axis=1)

    def hi(v):
        return jnp.where(inside, v[None], -1).max(axis=1)

    box = jnp.stack([lo(xs), lo(ys), hi(xs), hi(ys)], axis=1)
    return jnp.where(any_fg[:, None], box, 0).astype(jnp.int32)


@partial(jax.jit, static_argnames=("threshold",))
def _device_boxes(maps: jax.Array, threshold: float) -> jax.Array:
    lead = maps.shape[:-2]
    flat = maps.reshape(-1, *maps.shape[-2:])
    boxes = _largest_box(_foreground(flat, threshold))
    return boxes.reshape(*lead, 4)


@partial(jax.jit, static_argnames=())
def _labels_jit(fg):
    return _labels(fg)


def component_labels_device(mask) -> jax.Array:
    """8-connected labels of boolean masks (..., H, W): each pixel's component's first
    raster index (``y * W + x``), background ``H * W``. Jitted."""
    mask = jnp.asarray(mask)
    if mask.ndim < 2 or mask.dtype != jnp.bool_:
        raise ValueError(f"mask must be a bool array (..., H, W), got {mask.dtype} {mask.shape}")
    flat = mask.reshape(-1, *mask.shape[-2:])
    return _labels_jit(flat).reshape(mask.shape)


def largest_component_boxes_device(maps, threshold: float = 0.2, *,
                                   check: bool = True) -> jax.Array:
    """Paper-rule boxes (..., 4) int32 for float maps (..., H, W), on the device.

    Same boxes as :func:`camjax.boxes.largest_component_boxes` for one threshold.
    ``threshold`` is static (one compilation per value). ``check`` verifies that the
    maps are finite (one scalar read back from the device); without it NaN pixels
    are simply background.
    """
    maps = jnp.asarray(maps)
    if maps.ndim < 2:
        raise ValueError(f"maps must have at least 2 dims (..., H, W), got shape {maps.shape}")
    if not jnp.issubdtype(maps.dtype, jnp.floating):
        raise TypeError(f"maps must be float maps, got dtype {maps.dtype}")
    t = float(np.asarray(threshold, np.float64))
    if not np.isfinite(t) or not 0.0 <= t <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
    if maps.shape[-1] * maps.shape[-2] >= 2 ** 31 - 1:
        raise ValueError(f"maps of {maps.shape[-2:]} pixels are too large for int32 labels")
    if check and maps.size and not bool(jnp.isfinite(maps).all()):
        raise ValueError("maps hold NaN or inf values; normalise them first "
                         "(camjax.cam.normalize maps such maps to zeros)")
    if maps.size == 0:
        return jnp.zeros((*maps.shape[:-2], 4), jnp.int32)
    return _device_boxes(maps, t)
