"""Position embeddings of a ViT at another input size: the patch-token grid resampled.

A ViT learns one position embedding per patch of its native grid (14x14 for ``vit_b_16`` at
224). At another input size the grid changes (a 160x224 input gives 10x14 patches of 16) and
the embeddings are resampled onto it; the class token's embedding is kept as it is. Two rules
exist and they give different numbers:

- ``"timm"`` (camjax's default): timm's ``resample_abs_pos_embed``, what timm's ViTs and DeiTs
  do with ``dynamic_img_size=True``: ``F.interpolate(mode="bicubic", antialias=True,
  align_corners=False)``. With ``antialias=True`` PyTorch uses its separable
  antialiasing kernel (Keys' cubic with a = -0.5, as PIL; widened by the scale when
  shrinking; taps outside the grid dropped and the weights renormalised), even when it
  enlarges.
- ``"torchvision"``: torchvision's ``interpolate_embeddings`` (used to adapt a checkpoint to
  a new ``image_size``): ``F.interpolate(mode="bicubic", align_corners=True)`` without
  antialiasing (Keys' cubic with a = -0.75, border taps clamped to the edge); torchvision
  only makes square grids, camjax applies the same rule per axis to any grid.

Both are linear maps along each axis, so they are computed here once per (native, new) size
as small matrices in float64 numpy and applied with one einsum: exact, cheap, differentiable
and static under ``jit``.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

RULES = ("timm", "torchvision")


def _keys_cubic(x: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel with parameter ``a``."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


def antialias_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): PyTorch's bicubic ``antialias=True`` resampling along one axis
    (``align_corners=False``, scale ``n_in / n_out``)."""
    scale = n_in / n_out
    support = 2.0 * max(scale, 1.0)           # the cubic's radius, widened when shrinking
    stretch = 1.0 / max(scale, 1.0)
    matrix = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)  # int() truncates, as the C++ cast does
        hi = min(int(center + support + 0.5), n_in)
        taps = np.arange(lo, hi)
        weights = _keys_cubic((taps - center + 0.5) * stretch, -0.5)
        matrix[i, lo:hi] = weights / weights.sum()
    return matrix


def align_corners_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): PyTorch's bicubic ``align_corners=True`` without antialiasing (the
    corners of both grids coincide; the four taps are clamped to the grid)."""
    scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    matrix = np.zeros((n_out, n_in))
    for i in range(n_out):
        source = i * scale
        base = int(np.floor(source))
        t = source - base
        for offset, distance in zip((-1, 0, 1, 2), (t + 1, t, 1 - t, 2 - t)):
            matrix[i, min(max(base + offset, 0), n_in - 1)] += _keys_cubic(distance, -0.75)
    return matrix


@functools.lru_cache(maxsize=64)
def resize_matrices(old: tuple[int, int], new: tuple[int, int],
                    rule: str) -> tuple[np.ndarray, np.ndarray]:
    """The (rows, columns) matrices that take an ``old`` grid to a ``new`` one."""
    if rule not in RULES:
        raise ValueError(f"pos_embed_resize must be one of {RULES}, got {rule!r}")
    make = antialias_matrix if rule == "timm" else align_corners_matrix
    return make(old[0], new[0]).astype(np.float32), make(old[1], new[1]).astype(np.float32)


def resample_grid(grid: jax.Array, new: tuple[int, int], rule: str = "timm") -> jax.Array:
    """(h, w, D) embeddings -> (new_h, new_w, D) by ``rule``."""
    rows, cols = resize_matrices(tuple(grid.shape[:2]), tuple(new), rule)
    return jnp.einsum("ih,hwd,jw->ijd", rows, grid, cols,
                      precision=jax.lax.Precision.HIGHEST)


def resample_pos_embed(pos_embed: jax.Array, grid: tuple[int, int], *, prefix_tokens: int = 1,
                       rule: str = "timm") -> jax.Array:
    """(1, prefix + n*n, D) embeddings of a native n x n grid -> (1, prefix + h*w, D) for the
    patch grid ``grid`` = (h, w); the prefix (class token) rows are kept. The native grid is
    returned unchanged (as timm and torchvision do)."""
    _, length, dim = pos_embed.shape
    side = int(round((length - prefix_tokens) ** 0.5))
    if side * side != length - prefix_tokens:
        raise ValueError(f"position embeddings of {length - prefix_tokens} patches are not a "
                         "square grid")
    if tuple(grid) == (side, side):
        return pos_embed
    patches = pos_embed[0, prefix_tokens:].reshape(side, side, dim)
    patches = resample_grid(patches, grid, rule).reshape(1, grid[0] * grid[1], dim)
    return jnp.concatenate([pos_embed[:, :prefix_tokens], patches.astype(pos_embed.dtype)],
                           axis=1)
