"""Many thresholds in one pass: the WSOL rule (V1, V2) and the paper rule.

A fine threshold list (``arange(0, 1, 0.001)``) has far fewer distinct
binarisations than thresholds: the WSOL rule binarises ``u8 > floor(tau * max)``
with ``u8`` integer, so an image has at most 255 of them, and a threshold list
for the paper rule has as many as its distinct cutoffs. Each distinct
binarisation is computed once:

* V2 (all contours): the boxes of all contours of ``u8 >= v`` are the bounding
  boxes of its 8-connected components (outer borders) and, one pixel larger, of its
  holes (4-connected background components not touching the image edge). The
  components of every level come from one component tree
  (:mod:`camjax.boxes.tree`) of the foreground and one of the background, for the
  whole batch at once, instead of one contour tracing per threshold.
* V1 (largest contour by polygon area, ties to OpenCV's first): one OpenCV
  tracing per distinct level of each image, the images spread over threads
  (OpenCV releases the GIL).
* Paper rule: the component tree of the maps quantised by the sorted cutoffs.

The results are identical to the per-threshold loops (``wsol_boxes_reference``,
``largest_component_boxes``); the tests check this on thousands of maps.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from camjax.boxes.checks import check_maps, check_thresholds
from camjax.boxes.contours import BoxSet, check_scoremaps, cutoffs
from camjax.boxes.tree import component_tree

_SHIFT = 16   # box coordinates packed in one int64 sort key: needs H, W <= 65535


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


# ---------------------------------------------------------------- V2: trees
def _v2_entries(u8: np.ndarray):
    """All contour boxes of every level of a batch: (image, lo, hi, boxes), alive
    (as boxes of ``u8 >= v``) for ``lo < v <= hi``."""
    _, H, W = u8.shape
    fg = component_tree(u8, 255, 8, counts=False)
    bg = component_tree(255 - u8, 255, 4, counts=False)
    inner = (bg.x0 > 0) & (bg.y0 > 0) & (bg.x1 < W - 1) & (bg.y1 < H - 1)
    # background at hole level w is u8 < 256 - w: alive for 255 - hi < v <= 255 - lo
    image = np.concatenate([fg.image, bg.image[inner]])
    lo = np.concatenate([fg.lo, 255 - bg.hi[inner]])
    hi = np.concatenate([fg.hi, 255 - bg.lo[inner]])
    boxes = np.concatenate([
        np.stack([fg.x0, fg.y0, np.minimum(fg.x1 + 1, W - 1),
                  np.minimum(fg.y1 + 1, H - 1)], 1),
        np.stack([bg.x0[inner] - 1, bg.y0[inner] - 1, np.minimum(bg.x1[inner] + 2, W - 1),
                  np.minimum(bg.y1[inner] + 2, H - 1)], 1)])
    return image, lo, hi, boxes


def _pack(boxes: np.ndarray) -> np.ndarray:
    b = boxes.astype(np.int64)
    return ((b[:, 0] << _SHIFT | b[:, 1]) << _SHIFT | b[:, 2]) << _SHIFT | b[:, 3]


def _assemble(levels: np.ndarray, peak: np.ndarray, image, lo, hi, boxes,
              offset: int = 0) -> BoxSet:
    """Expand level-range entries to the BoxSet of the (image, threshold) pairs.

    ``levels`` (n, T): the foreground level ``v`` of each pair (binary = u8 >= v);
    a level above the image's peak is an empty binarisation: one (0, 0, 0, 0) box.
    """
    n, T = levels.shape
    stride = 257
    # the distinct (image, level) pairs that are needed and not empty
    pair_key = np.arange(n)[:, None] * stride + levels
    live = levels <= peak[:, None]
    keys = np.unique(pair_key[live])
    if keys.size == 0:                                      # every binarisation empty
        img, thr = np.divmod(np.arange(n * T), T)
        return BoxSet(np.zeros((n * T, 4), np.int64), img + offset, thr)
    # entries -> the needed keys inside (lo, hi] of their image
    base = image * stride
    start = np.searchsorted(keys, base + lo + 1)
    stop = np.searchsorted(keys, base + hi + 1)
    reps = stop - start
    ent = np.repeat(np.arange(image.size), reps)
    within = np.arange(ent.size) - np.repeat(np.cumsum(reps) - reps, reps)
    u = np.repeat(start, reps) + within                    # index into keys
    order = np.lexsort((_pack(boxes)[ent], u))
    u, ent = u[order], ent[order]
    ubound = np.searchsorted(u, np.arange(keys.size + 1))  # rows of key k: ubound[k]:[k+1]
    # each pair in order (image, threshold): its key's rows, or one empty box
    k = np.searchsorted(keys, pair_key.ravel())
    k = np.where(live.ravel(), k, -1)
    length = np.where(k >= 0, ubound[np.maximum(k, 0) + 1] - ubound[np.maximum(k, 0)], 1)
    rstart = np.where(k >= 0, ubound[np.maximum(k, 0)], -1)
    total = int(length.sum())
    pair = np.repeat(np.arange(n * T), length)
    within = np.arange(total) - np.repeat(np.cumsum(length) - length, length)
    src = np.repeat(rstart, length) + within
    out = np.zeros((total, 4), np.int64)
    full = np.repeat(k >= 0, length)
    out[full] = boxes[ent[src[full]]]
    img, thr = np.divmod(pair, T)
    return BoxSet(out, img + offset, thr)


def _levels(u8: np.ndarray, taus: np.ndarray):
    peak = u8.max(axis=(1, 2)).astype(np.int64)
    return cutoffs(peak, taus) + 1, peak


def _v2(u8: np.ndarray, taus: np.ndarray, offset: int) -> BoxSet:
    levels, peak = _levels(u8, taus)
    return _assemble(levels, peak, *_v2_entries(u8), offset=offset)


# ---------------------------------------------------------------- V1: OpenCV per level
def _v1_image(img: np.ndarray, levels: np.ndarray, peak: int) -> dict:
    """{level: box} of the largest contour (cv2.contourArea, first of ties) per level.

    Each level is traced on the crop of the image to its foreground's bounding box:
    OpenCV pads with background, so the contours, and the order it returns them
    in, are those of the whole image, shifted back by ``offset``.
    """
    H, W = img.shape
    row_max, col_max = img.max(axis=1), img.max(axis=0)
    out = {}
    for v in np.unique(levels):
        v = int(v)
        if v > peak:
            continue
        rows = np.flatnonzero(row_max >= v)
        cols = np.flatnonzero(col_max >= v)
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        binary = (img[y0:y1, x0:x1] >= v).view(np.uint8)
        contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE,
                                    offset=(int(x0), int(y0)))[-2]
        best = max(contours, key=cv2.contourArea)
        x, y, w, h = cv2.boundingRect(best)
        out[v] = (x, y, min(x + w, W - 1), min(y + h, H - 1))
    return out


def _v1(u8: np.ndarray, taus: np.ndarray, offset: int) -> BoxSet:
    levels, peak = _levels(u8, taus)
    n, T = levels.shape
    boxes = np.zeros((n, T, 4), np.int64)
    for i in range(n):
        table = _v1_image(u8[i], levels[i], int(peak[i]))
        for j, v in enumerate(levels[i]):
            if v <= peak[i]:
                boxes[i, j] = table[int(v)]
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
    share the batch (default: the CPU count, at most 8; for V2, whose work is NumPy
    passes, one thread per 32 maps at most).
    """
    u8 = check_scoremaps(scoremaps)
    taus = check_thresholds(thresholds, "thresholds")
    fn = _v2 if multi_contour else _v1
    if workers is None:
        workers = default_workers()
        if multi_contour:       # NumPy work, GIL held between array passes: big chunks only
            workers = max(1, min(workers, len(u8) // 32))
    return _concat(_map_chunks(lambda a, b: fn(u8[a:b], taus, a), len(u8), int(workers)))


# ---------------------------------------------------------------- paper rule
def _quantise(flat: np.ndarray, thresholds: np.ndarray):
    """Per map, the sorted distinct cutoffs ``t * max`` and the level image
    ``#{cutoffs < m}`` (foreground at cutoff k is level >= k + 1), and each
    threshold's level."""
    n = flat.shape[0]
    cuts = thresholds[None, :] * flat.reshape(n, -1).max(axis=1).astype(np.float64)[:, None]
    lev = np.empty(flat.shape, np.int64)
    level_of = np.empty((n, thresholds.size), np.int64)
    for i in range(n):
        u, inv = np.unique(cuts[i], return_inverse=True)
        lev[i] = np.searchsorted(u, flat[i].astype(np.float64), side="left")
        level_of[i] = inv + 1
    return lev, level_of


def _largest_per_level(nodes, level_of: np.ndarray) -> np.ndarray:
    """(n, T, 4) boxes: per (map, threshold) the largest alive node, ties to the first
    pixel in raster order; (0, 0, 0, 0) where nothing is alive."""
    n, T = level_of.shape
    K = int(level_of.max()) + 1
    reps = nodes.hi - nodes.lo
    ent = np.repeat(np.arange(nodes.image.size), reps)
    within = np.arange(ent.size) - np.repeat(np.cumsum(reps) - reps, reps)
    level = np.repeat(nodes.lo + 1, reps) + within
    pair = nodes.image[ent] * K + level
    score = nodes.count[ent] << 32 | (0xFFFFFFFF - nodes.first[ent])
    best = np.full(n * K, -1, np.int64)
    np.maximum.at(best, pair, score)
    winner = np.full(n * K, -1, np.int64)
    hit = score == best[pair]
    winner[pair[hit]] = ent[hit]
    w = winner[np.arange(n)[:, None] * K + level_of]          # (n, T)
    boxes = np.stack([nodes.x0, nodes.y0, nodes.x1, nodes.y1], 1)
    out = np.zeros((n, T, 4), np.int64)
    out[w >= 0] = boxes[w[w >= 0]]
    return out


def component_boxes_sweep(maps, thresholds) -> np.ndarray:
    """The paper rule for maps (..., H, W) at T thresholds: (..., T, 4) boxes.

    Identical to :func:`camjax.boxes.components.largest_component_boxes_reference`
    (one ``skimage.measure.label`` per map and threshold): the nested foregrounds
    of all thresholds come from one component tree per batch.
    """
    maps = check_maps(maps, "maps")
    thresholds = check_thresholds(thresholds, "thresholds")
    flat = maps.reshape(-1, *maps.shape[-2:])
    if flat.shape[0] == 0:
        return np.zeros((*maps.shape[:-2], thresholds.size, 4), np.int64)
    lev, level_of = _quantise(flat, thresholds)
    nodes = component_tree(lev, int(level_of.max()), 8, counts=True)
    out = _largest_per_level(nodes, level_of)
    return out.reshape(*maps.shape[:-2], thresholds.size, 4)
