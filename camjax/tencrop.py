"""The ten-crop test protocol of the released ILSVRC code (docs/localization.md).

The released MATLAB pipeline (``prepare_image.m``, ``ILSVRC_generate_heatmap.m``,
``mergeTenCrop.m``) resizes each image to 256x256, cuts ten 224x224 crops (the
four corners, the centre, and the horizontal flips of these five), averages the
class scores over the crops, computes each crop's CAM for the chosen classes,
resizes it to 224x224, puts every crop's map back where the crop came from
(flipped crops flipped back) and sums the absolute values over the crops.

Crop order, as ``prepare_image.m`` cuts them (offsets as (row, column) in the
256 frame): (0, 0), (32, 0), (0, 32), (32, 32), (16, 16), then the flips of the
same five. The order matters for nothing but bookkeeping: scores are averaged
and maps summed.

Note: ``mergeTenCrop.m`` as released places the crops cut at (32, 0) and (0, 32)
at each other's position (the MATLAB code swaps width and height between cutting
and merging for those two). :func:`merge_ten_crop_maps` puts every crop back
where it was cut; ``swap_off_diagonal=True`` reproduces the released file.

All functions are pure ``jax.numpy`` and jit-friendly.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

FULL = 256
CROP = 224
# (row, column) offsets of crops 0..4; crops 5..9 are their horizontal flips
OFFSETS = ((0, 0), (32, 0), (0, 32), (32, 32), (16, 16))
NUM_CROPS = 10


def resize_to_full(images: jax.Array, method: str = "bilinear") -> jax.Array:
    """(B, H, W, C) images -> (B, 256, 256, C), ``bilinear`` (the released code's
    ``imresize(.., 'bilinear')``, antialiased when shrinking as MATLAB does)."""
    images = jnp.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (B, H, W, C), got shape {images.shape}")
    kind = {"bilinear": "linear", "bicubic": "cubic"}[method]
    B, _, _, C = images.shape
    return jax.image.resize(images, (B, FULL, FULL, C), kind, antialias=True)


def ten_crop(images: jax.Array, *, resize: bool = True) -> jax.Array:
    """(B, H, W, C) -> (B, 10, 224, 224, C): corners, centre, then their flips.

    With ``resize`` False the images must already be 256x256.
    """
    images = jnp.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (B, H, W, C), got shape {images.shape}")
    if resize:
        images = resize_to_full(images)
    elif images.shape[1:3] != (FULL, FULL):
        raise ValueError(f"images must be 256x256 when resize=False, got {images.shape[1:3]}")
    crops = [images[:, r:r + CROP, c:c + CROP] for r, c in OFFSETS]
    crops += [crop[:, :, ::-1] for crop in crops]
    return jnp.stack(crops, axis=1)


def merge_ten_crop_maps(maps: jax.Array, *, swap_off_diagonal: bool = False) -> jax.Array:
    """Crop maps (B, 10, ..., 224, 224) -> (B, ..., 256, 256): each crop's map put back
    where the crop was cut (flipped crops flipped back), absolute values summed.

    Maps smaller or larger than 224 must be resized to 224 first (the released code
    resizes each crop's CAM with ``imresize``; see :func:`camjax.cam.upsample`).
    """
    maps = jnp.asarray(maps)
    if maps.ndim < 4 or maps.shape[1] != NUM_CROPS or maps.shape[-2:] != (CROP, CROP):
        raise ValueError(f"maps must be (B, 10, ..., 224, 224), got shape {maps.shape}")
    offsets = list(OFFSETS)
    if swap_off_diagonal:
        offsets[1], offsets[2] = offsets[2], offsets[1]
    lead = maps.shape[:1] + maps.shape[2:-2]
    pad_axes = [(0, 0)] * (len(lead) - 1)
    total = jnp.zeros(lead + (FULL, FULL), maps.dtype)
    for i in range(NUM_CROPS):
        m = jnp.abs(maps[:, i])
        if i >= 5:
            m = m[..., ::-1]                      # undo the horizontal flip
        r, c = offsets[i % 5]
        total = total + jnp.pad(m, [(0, 0)] + pad_axes +
                                [(r, FULL - CROP - r), (c, FULL - CROP - c)])
    return total


def crop_coverage() -> jax.Array:
    """(256, 256) number of crops covering each pixel of the 256 frame."""
    ones = jnp.ones((1, NUM_CROPS, CROP, CROP), jnp.float32)
    return merge_ten_crop_maps(ones)[0]


def average_crop_scores(scores: jax.Array) -> jax.Array:
    """Scores of the crops, (B * 10, C) or (B, 10, C) -> (B, C), the mean over crops."""
    scores = jnp.asarray(scores)
    if scores.ndim == 2:
        if scores.shape[0] % NUM_CROPS:
            raise ValueError(f"scores (B*10, C) need a multiple of 10 rows, got {scores.shape}")
        scores = scores.reshape(-1, NUM_CROPS, scores.shape[-1])
    if scores.ndim != 3 or scores.shape[1] != NUM_CROPS:
        raise ValueError(f"scores must be (B, 10, C) or (B*10, C), got shape {scores.shape}")
    return scores.mean(axis=1)


def ten_crop_maps(maps_fn, images: jax.Array, *, resize: bool = True):
    """Run ``maps_fn`` on the ten crops of each image and merge.

    ``maps_fn(crops)`` takes (B * 10, 224, 224, C) crops and returns
    ``(scores (B * 10, C'), maps (B * 10, k, 224, 224))``; the result is
    ``(scores averaged over crops (B, C'), merged maps (B, k, 256, 256))``.
    To follow the released code exactly, ``maps_fn`` should compute the maps for
    classes chosen from the averaged scores (see :func:`average_crop_scores`).
    """
    crops = ten_crop(images, resize=resize)
    B = crops.shape[0]
    scores, maps = maps_fn(crops.reshape(B * NUM_CROPS, *crops.shape[2:]))
    maps = jnp.asarray(maps)
    maps = maps.reshape(B, NUM_CROPS, *maps.shape[1:])
    return average_crop_scores(scores), merge_ten_crop_maps(maps)
