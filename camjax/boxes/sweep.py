"""Many thresholds in one pass: the WSOL rule (V1, V2) and the paper rule.

A fine threshold list (``arange(0, 1, 0.001)``) has far fewer distinct
binarisations than thresholds: the WSOL rule binarises ``u8 > floor(tau * max)``
with ``u8`` integer, so an image has at most 255 of them, and a threshold list
for the paper rule has as many as its distinct cutoffs. Each distinct
binarisation is computed once, from one compiled component tree per image
(:mod:`camjax.boxes.unionfind`: a union-find sweep over the pixels sorted by
level; the level sets are nested):

* V2 (all contours): the boxes of all contours of ``u8 >= v`` are the bounding
  boxes of its 8-connected components (outer borders) and, one pixel larger, of its
  holes (4-connected background components not touching the image edge): one tree
  of the foreground and one of the background per image.
* V1 (largest contour by ``cv2.contourArea``, ties to OpenCV's first): the
  foreground tree, and the area of each component's outer border computed once by
  following the border as OpenCV does. A level where two outer borders of
  different boxes share the largest area is traced with OpenCV (its order decides).
* Paper rule: the tree of the maps quantised by the sorted cutoffs; the largest
  component by pixel count, ties to the first pixel in raster order.

The batch is split over ``workers`` threads (the compiled code releases the GIL).
The results are identical to the per-threshold loops (``wsol_boxes_reference``,
``largest_component_boxes``); the tests check this on thousands of maps.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from camjax.boxes import rules_numba, unionfind
from camjax.boxes.checks import check_maps, check_thresholds
from camjax.boxes.contours import BoxSet, check_scoremaps, to_uint8

_MAX_SIDE = (1 << unionfind._SHIFT) - 1   # boxes are packed in 16 bits per coordinate


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _chunks(n: int, parts: int):
    bounds = np.linspace(0, n, parts + 1).astype(int)
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _map_chunks(fn, n: int, workers: int):
    """fn(start, stop) over ``workers`` contiguous chunks of range(n), in threads."""
    parts = _chunks(n, max(1, min(workers, n)))
    if len(parts) == 1:
        return [fn(*parts[0])]
    with ThreadPoolExecutor(len(parts)) as pool:
        return list(pool.map(lambda ab: fn(*ab), parts))


# ---------------------------------------------------------------- WSOL rule
def _float_maps(scoremaps) -> np.ndarray:
    """(N, H, W) float32/float64 maps, C-contiguous; other inputs through the checks
    of ``check_scoremaps`` (its errors), e.g. float16 converted exactly to float64."""
    arr = np.asarray(scoremaps)
    if arr.dtype not in (np.float32, np.float64) or arr.ndim not in (2, 3):
        check_scoremaps(arr)                     # raises for what it refuses
        arr = arr.astype(np.float64)
    maps = arr[None] if arr.ndim == 2 else arr
    if max(maps.shape[1:]) > _MAX_SIDE:
        raise ValueError(f"scoremaps larger than {_MAX_SIDE} pixels a side are not "
                         f"supported, got {maps.shape[1:]}")
    return np.ascontiguousarray(maps)


class _OutOfRange(Exception):
    """A map with values outside [0, 1] (or not finite): check_scoremaps says which."""


def _v2(maps: np.ndarray, taus: np.ndarray, offset: int) -> BoxSet:
    boxes, image, thr, ok = rules_numba.v2_batch(maps, taus)
    if not ok:
        raise _OutOfRange
    return BoxSet(boxes, image + offset, thr)


def _v1_opencv(img: np.ndarray, v: int) -> tuple[int, int, int, int]:
    """The box of the largest contour of ``img >= v`` (first of equal areas), by OpenCV.

    Traced on the crop of the image to the foreground's bounding box: OpenCV pads
    with background, so the contours, and the order it returns them in, are those
    of the whole image, shifted back by the crop's offset.
    """
    H, W = img.shape
    rows = np.flatnonzero(img.max(axis=1) >= v)
    cols = np.flatnonzero(img.max(axis=0) >= v)
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    binary = (img[y0:y1, x0:x1] >= v).view(np.uint8)
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE,
                                offset=(int(x0), int(y0)))[-2]
    best = max(contours, key=cv2.contourArea)
    x, y, w, h = cv2.boundingRect(best)
    return x, y, min(x + w, W - 1), min(y + h, H - 1)


def _v1(maps: np.ndarray, taus: np.ndarray, offset: int) -> BoxSet:
    boxes, unsure, levels, ok = rules_numba.v1_batch(maps, taus)
    if not ok:
        raise _OutOfRange
    n, T = levels.shape
    # levels with tied largest outer borders: OpenCV's order decides, once per level
    traced, u8 = {}, {}
    for i, j in zip(*np.nonzero(unsure)):
        key = (int(i), int(levels[i, j]))
        if key not in traced:
            if key[0] not in u8:
                u8[key[0]] = to_uint8(maps[i])
            traced[key] = _v1_opencv(u8[key[0]], key[1])
        boxes[i, j] = traced[key]
    img, thr = np.divmod(np.arange(n * T), T)
    return BoxSet(boxes.reshape(-1, 4), img + offset, thr)


def _concat(parts: list[BoxSet]) -> BoxSet:
    if len(parts) == 1:
        return parts[0]
    return BoxSet(*(np.concatenate(x) for x in zip(*parts)))


def wsol_boxes_sweep(scoremaps, thresholds, multi_contour: bool = False, *,
                     workers: int | None = None) -> BoxSet:
    """The WSOL rule for every (map, threshold) pair, each binarisation computed once.

    Same output as :func:`camjax.boxes.wsol_boxes_reference`. ``workers`` threads
    share the batch (default: the CPU count, at most 8).
    """
    maps = _float_maps(scoremaps)
    taus = check_thresholds(thresholds, "thresholds")
    n = len(maps)
    if n == 0:
        z = np.zeros(0, np.int64)
        return BoxSet(np.zeros((0, 4), np.int64), z, z)
    fn = _v2 if multi_contour else _v1
    workers = default_workers() if workers is None else int(workers)
    try:
        return _concat(_map_chunks(lambda a, b: fn(maps[a:b], taus, a), n, workers))
    except _OutOfRange:
        check_scoremaps(maps)                    # raises the error of the checks
        raise


# ---------------------------------------------------------------- paper rule
def component_boxes_sweep(maps, thresholds, *, workers: int | None = None) -> np.ndarray:
    """The paper rule for maps (..., H, W) at T thresholds: (..., T, 4) boxes.

    Identical to :func:`camjax.boxes.components.largest_component_boxes_reference`
    (one ``skimage.measure.label`` per map and threshold): per map, the sorted
    distinct cutoffs ``t * max`` (float64) quantise the map to levels (foreground at
    cutoff k is level >= k + 1) and one component tree answers all thresholds.
    """
    maps = check_maps(maps, "maps")
    thresholds = check_thresholds(thresholds, "thresholds")
    flat = maps.reshape(-1, *maps.shape[-2:])
    if flat.shape[0] == 0:
        return np.zeros((*maps.shape[:-2], thresholds.size, 4), np.int64)
    if flat.dtype not in (np.float32, np.float64):
        flat = flat.astype(np.float64)        # exact for float16; compared in float64
    flat = np.ascontiguousarray(flat)
    workers = default_workers() if workers is None else int(workers)
    parts = _map_chunks(lambda a, b: rules_numba.paper_batch(flat[a:b], thresholds),
                        flat.shape[0], workers)
    out = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return out.reshape(*maps.shape[:-2], thresholds.size, 4)
