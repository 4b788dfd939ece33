"""XRAI (Kapishnikov et al., ICCV 2019): integrated-gradients attributions gathered into
image regions, the regions added greedily by attribution density.

1. Attributions: Integrated Gradients of the class logit from two baselines, the image's
   minimum and maximum (constant images: PAIR's black and white), ``steps`` points each at
   ``alpha = linspace(0, 1, steps)`` (PAIR's ``IntegratedGradients``: a plain mean over the
   points, both ends included), averaged over the baselines, then the max over the colour
   channels (PAIR's ``_attr_aggregation_max``).
2. Segments (host side, scikit-image, as PAIR's ``_get_segments_felzenszwalb``): the image
   rescaled to [-1, 1] and resized to 224 x 224 (cubic, anti-aliased), Felzenszwalb's
   graph segmentation at scales 50, 100, 150, 250, 500, 1200 (sigma 0.8, min_size 150),
   each segmentation resized back (nearest), every segment a mask, each mask dilated by a
   disk of radius 5.
3. Greedy regions (PAIR's full ``_xrai``): from nothing covered, repeatedly add the mask
   whose not-yet-covered pixels have the highest mean attribution (the "gain"; ties: the
   first mask), dropping masks that would add fewer than ``min_pixel_diff`` (50) pixels;
   the added part is a region. Pixels no mask reaches form the last region.

The map is each region's mean attribution on its pixels (PAIR's ``attribution_mask``).
Here the segmentation and the greedy choice run on the host through
``jax.pure_callback`` (so the method stays one pure, jittable function) and return each
pixel's region number; the region means are computed on the device from the
attributions, so the map is differentiable in them. The greedy step keeps, per mask, the
count and sum of its uncovered pixels and updates them only for the newly covered pixels
(a sparse mask-by-pixel matrix), instead of PAIR's pass over every mask and pixel per
region; the choices are PAIR's (up to float ties). The paper also proposes area-threshold
and a fast variant; PAIR's defaults (full, area 1.0) are used.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from camjax.methods._paths import path_gradients
from camjax.methods.base import check_images
from camjax.methods.registry import register

SCALES = (50, 100, 150, 250, 500, 1200)
SIGMA, MIN_SIZE, RESIZE, DILATION = 0.8, 150, (224, 224), 5


def segment_masks(image: np.ndarray) -> np.ndarray:
    """(M, H, W) bool: PAIR's dilated Felzenszwalb masks of one (H, W, 3) image."""
    from scipy import ndimage
    from skimage import segmentation
    from skimage.morphology import disk
    from skimage.transform import resize
    image = np.asarray(image, np.float64)
    lo, hi = image.min(), image.max()
    scaled = (image - lo) / (hi - lo) * 2.0 - 1.0 if hi > lo else np.zeros_like(image) - 1
    scaled = resize(scaled, RESIZE, order=3, mode="constant", preserve_range=True,
                    anti_aliasing=True)
    footprint = disk(DILATION).astype(bool)
    masks = []
    for scale in SCALES:
        seg = segmentation.felzenszwalb(scaled, scale=scale, sigma=SIGMA, min_size=MIN_SIZE)
        seg = resize(seg, image.shape[:2], order=0, preserve_range=True, mode="constant",
                     anti_aliasing=False).astype(int)
        boxes = ndimage.find_objects(seg - seg.min() + 1)
        for label, box in zip(range(seg.min(), seg.max() + 1), boxes):
            mask = np.zeros(seg.shape, bool)
            if box is not None:          # dilate inside the segment's box, padded
                grown = tuple(slice(max(s.start - DILATION, 0), s.stop + DILATION)
                              for s in box)
                mask[grown] = ndimage.binary_dilation(seg[grown] == label, footprint)
            masks.append(mask)
    return np.stack(masks)


def greedy_regions(masks: np.ndarray, attr: np.ndarray, min_pixel_diff: int = 50):
    """(H, W) int32 region numbers (1, 2, ... in the order added; 0: no mask reached)."""
    from scipy import sparse
    m = masks.shape[0]
    flat = sparse.csc_matrix(masks.reshape(m, -1).astype(np.float64))
    a = np.asarray(attr, np.float64).ravel()
    counts = np.asarray(flat.sum(axis=1)).ravel()
    sums = np.asarray(flat @ a).ravel()
    alive = np.ones(m, bool)
    covered = np.zeros(a.size, bool)
    regions = np.zeros(a.size, np.int32)
    number = 1
    while True:
        alive &= counts >= min_pixel_diff
        if not alive.any():
            break
        gains = np.where(alive, sums / np.maximum(counts, 1), -np.inf)
        best = int(np.argmax(gains))
        new = np.flatnonzero(masks.reshape(m, -1)[best] & ~covered)
        regions[new] = number
        number += 1
        covered[new] = True
        part = flat[:, new]
        counts -= np.asarray(part.sum(axis=1)).ravel()
        sums -= np.asarray(part @ a[new]).ravel()
        alive[best] = False
    return regions.reshape(attr.shape)


def _regions_on_host(images, attr, min_pixel_diff):
    out = np.zeros(attr.shape, np.int32)
    for b in range(images.shape[0]):
        masks = segment_masks(images[b])
        for j in range(attr.shape[1]):
            out[b, j] = greedy_regions(masks, attr[b, j], int(min_pixel_diff))
    return out


def region_means(attr, regions):
    """(B, k, H, W): each pixel's region's mean of ``attr`` (regions numbered per map)."""
    n = attr.shape[2] * attr.shape[3] + 1

    def one(a, r):                  # per map (vmapped: a sharded batch stays sharded)
        sums = jax.ops.segment_sum(a.ravel(), r.ravel(), num_segments=n)
        counts = jax.ops.segment_sum(jnp.ones_like(a.ravel()), r.ravel(), num_segments=n)
        return (sums / jnp.maximum(counts, 1))[r]
    return jax.vmap(jax.vmap(one))(attr, regions)


def ig_two_baselines(graphdef, state, images, classes, steps, batch_size):
    """PAIR's IG from the image's min and max, averaged: (B, k, H, W, 3)."""
    lo = images.min(axis=(1, 2, 3), keepdims=True)
    hi = images.max(axis=(1, 2, 3), keepdims=True)
    alphas = jnp.linspace(0.0, 1.0, steps, dtype=images.dtype)

    def point(s):
        base = jnp.where(s < steps, lo, hi) * jnp.ones_like(images)
        delta = images - base
        return base + alphas[s % steps] * delta, delta / (2 * steps)
    return path_gradients(graphdef, state, point, 2 * steps, classes, batch_size)


@partial(jax.jit, static_argnames=("graphdef", "steps", "min_pixel_diff", "batch_size"))
def _xrai(graphdef, state, images, classes, *, steps, min_pixel_diff, batch_size):
    attr = ig_two_baselines(graphdef, state, images, classes, steps, batch_size).max(axis=-1)
    shape = jax.ShapeDtypeStruct(attr.shape, jnp.int32)
    regions = jax.pure_callback(partial(_regions_on_host, min_pixel_diff=min_pixel_diff),
                                shape, jax.lax.stop_gradient(images),
                                jax.lax.stop_gradient(attr), vmap_method="sequential")
    return region_means(attr, like(regions, attr))


def like(x, reference):
    """``x`` sharded as ``reference`` where the mesh's axes are explicit (the callback's
    result comes back whole)."""
    sharding = jax.typeof(reference).sharding
    mesh = getattr(sharding, "mesh", None)
    if mesh is None or mesh.empty or not any(
            t == jax.sharding.AxisType.Explicit for t in mesh.axis_types):
        return x
    return jax.sharding.reshard(x, sharding)


@register("xrai", resolution="image",
          options={"steps": 100, "min_pixel_diff": 50, "batch_size": 16})
def xrai_fn(graphdef, state, images, classes, *, steps: int = 100, min_pixel_diff: int = 50,
            batch_size: int = 16):
    """XRAI (Kapishnikov et al. 2019): IG attributions averaged over greedy image regions."""
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    if not isinstance(min_pixel_diff, int) or min_pixel_diff < 1:
        raise ValueError(f"min_pixel_diff must be a positive int, got {min_pixel_diff!r}")
    return _xrai(graphdef, state, check_images(images), classes, steps=steps,
                 min_pixel_diff=min_pixel_diff, batch_size=batch_size)
