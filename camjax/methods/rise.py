"""RISE (Petsiuk et al., BMVC 2018): the class probability averaged over random masks.

``N`` masks ``M_i`` (H, W) in [0, 1]; the saliency of class c (eq. 6 of the paper, Monte
Carlo over the masks) is

    S_c = (1 / (N p)) sum_i P_c(I * M_i) M_i

with ``P_c`` the softmax probability (RISE's model ends with a softmax) and ``p`` the
probability of a grid cell being kept. The masks (the paper's Sec. 3.2, RISE's
``generate_masks``): a ``grid`` x ``grid`` binary grid, each cell 1 with probability ``p``,
upsampled bilinearly to ``(grid + 1) * cell`` (``cell = ceil(H / grid)``) and cropped at a
random shift in ``[0, cell)`` on each axis. RISE resizes with scikit-image
(``resize(order=1, mode='reflect')``: half-pixel centres, mirrored edges); camjax builds the
same bilinear map as two interpolation matrices, equal to it (tested against
scikit-image).

``masks``: an (N, H, W) array to use (then ``samples`` is its N), or None to draw them:
mask i from ``jax.random.fold_in(key, i)`` (grid cells, then the two shifts), the same
masks for every image of the batch, as RISE; ``key`` defaults to ``jax.random.key(0)``.
Masks are drawn and scored ``batch_size`` at a time (``lax.scan``; a forward pass holds B x
``batch_size`` images), never all at once. RISE's ``RISEBatch`` leaves out the 1 / (N p),
a positive scale. The map is at the image resolution and non-negative.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from camjax.methods.base import class_scores, eval_model, logits_of
from camjax.methods.registry import register
from camjax.methods.scorecam import check_batch_size


def interpolation_matrix(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in): bilinear resize with half-pixel centres and mirrored edges
    (scikit-image's ``resize(order=1, mode='reflect')``, scipy's 'mirror')."""
    coord = (np.arange(size_out) + 0.5) * size_in / size_out - 0.5
    lo = np.floor(coord).astype(int)
    frac = coord - lo
    out = np.zeros((size_out, size_in))

    def mirror(i):
        if size_in == 1:
            return np.zeros_like(i)
        period = 2 * (size_in - 1)
        i = np.abs(i) % period
        return np.where(i >= size_in, period - i, i)
    np.add.at(out, (np.arange(size_out), mirror(lo)), 1 - frac)
    np.add.at(out, (np.arange(size_out), mirror(lo + 1)), frac)
    return out


def draw_mask(key, grid: int, p, size):
    """One RISE mask (H, W) and its grid and shifts, from ``key``."""
    h, w = size
    cells = (-(-h // grid), -(-w // grid))
    k_grid, k_y, k_x = jax.random.split(key, 3)
    cells_kept = jax.random.bernoulli(k_grid, p, (grid, grid)).astype(jnp.float32)
    dy = jax.random.randint(k_y, (), 0, cells[0])
    dx = jax.random.randint(k_x, (), 0, cells[1])
    rows = jnp.asarray(interpolation_matrix(grid, (grid + 1) * cells[0]), jnp.float32)
    cols = jnp.asarray(interpolation_matrix(grid, (grid + 1) * cells[1]), jnp.float32)
    rows = jax.lax.dynamic_slice_in_dim(rows, dy, h)
    cols = jax.lax.dynamic_slice_in_dim(cols, dx, w)
    mask = jnp.einsum("yi,ij,xj->yx", rows, cells_kept, cols,
                      precision=jax.lax.Precision.HIGHEST)
    return mask, cells_kept, (dy, dx)


def draw_masks(key, samples: int, grid: int, p, size):
    """(N, H, W) masks as :func:`rise` draws them (mask i from ``fold_in(key, i)``)."""
    return jax.vmap(lambda i: draw_mask(jax.random.fold_in(key, i), grid, p, size)[0])(
        jnp.arange(samples))


@partial(jax.jit, static_argnames=("graphdef", "samples", "grid", "batch_size", "drawn"))
def _rise(graphdef, state, images, classes, key, masks, p, *, samples, grid, batch_size,
          drawn):
    model = eval_model(graphdef, state)
    b, h, w, _ = images.shape
    k = classes.shape[1]
    chunk = min(batch_size, samples)
    chunks = -(-samples // chunk)
    index = jnp.arange(chunks * chunk).reshape(chunks, chunk)

    def mask_of(i):
        if drawn:
            return draw_mask(jax.random.fold_in(key, i), grid, p, (h, w))[0]
        return masks[jnp.minimum(i, samples - 1)]

    def add(total, ids):
        chunk_masks = jax.vmap(mask_of)(ids).astype(images.dtype)           # (n, H, W)
        chunk_masks = jnp.where((ids < samples)[:, None, None], chunk_masks, 0)
        masked = images[:, None] * chunk_masks[None, :, :, :, None]
        logits = logits_of(model(masked.reshape((b * chunk,) + images.shape[1:])))
        probs = class_scores(jax.nn.softmax(logits.reshape(b, chunk, -1), axis=-1), classes)
        return total + jnp.einsum("bnk,nyx->bkyx", probs, chunk_masks), None

    start = jnp.zeros((b, k, h, w), images.dtype)
    total, _ = jax.lax.scan(add, start, index)
    return total / (samples * p)


@register("rise", resolution="image",
          options={"samples": 4000, "grid": 7, "p": 0.5, "masks": None, "key": None,
                   "batch_size": 32})
def rise_fn(graphdef, state, images, classes, *, samples: int = 4000, grid: int = 7,
            p: float = 0.5, masks=None, key=None, batch_size: int = 32):
    """RISE (Petsiuk et al. 2018): probabilities of randomly masked inputs, mask-weighted."""
    check_batch_size(batch_size)
    drawn = masks is None
    if not 0 < p <= 1:
        raise ValueError(f"p must be in (0, 1], got {p!r}")
    if drawn:
        if not isinstance(samples, int) or samples < 1:
            raise ValueError(f"samples must be a positive int, got {samples!r}")
        if not isinstance(grid, int) or grid < 1:
            raise ValueError(f"grid must be a positive int, got {grid!r}")
        masks = jnp.zeros((1, 1, 1), images.dtype)
    else:
        masks = jnp.asarray(masks)
        if masks.ndim != 3 or masks.shape[1:] != images.shape[1:3]:
            raise ValueError(f"masks must be (N, H, W) = (N, {images.shape[1]}, "
                             f"{images.shape[2]}), got shape {masks.shape}")
        samples = masks.shape[0]
    key = jax.random.key(0) if key is None else key
    return _rise(graphdef, state, images, classes, key, masks, p, samples=samples,
                 grid=grid, batch_size=batch_size, drawn=drawn)
