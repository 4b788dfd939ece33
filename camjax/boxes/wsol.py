"""The WSOL rule (wsolevaluation's ``compute_bboxes_from_scoremaps``), V1 and V2.

For a min-max normalised score map ``s`` in [0, 1]:

    u8 = floor(s * 255)                      (float64, as wsolevaluation's maps are)
    binary = u8 > floor(tau * max(u8))       (cv2.threshold, THRESH_BINARY)
    contours = cv2.findContours(binary, RETR_TREE, CHAIN_APPROX_SIMPLE)

V1 keeps the contour of largest ``cv2.contourArea`` (ties: the first one OpenCV
returns, as Python's ``max`` does); V2 keeps every contour. Each contour gives
the box ``(x, y, x + w, y + h)`` of ``cv2.boundingRect`` with ``x1`` and ``y1``
clipped to ``W - 1`` and ``H - 1``; a map with no contour gives ``(0, 0, 0, 0)``.

Many thresholds come back as a :class:`BoxSet`, a flat list of boxes tagged with
their image and threshold index; :func:`wsol_max_iou` gives what MaxBoxAcc needs
from them, the max IoU with the ground truth per map and threshold, without listing
the boxes. Within one (image, threshold) pair the boxes are
in a canonical order (rows sorted lexicographically), so that the result equals
the per-threshold OpenCV loop's array for array.

How :func:`wsol_boxes` gets there without one OpenCV call per threshold: ``u8`` is
integer, so a threshold list has at most 255 distinct binarisations (``u8 >= v``,
``v = int(tau * max) + 1``), and they are nested. Each is read off one compiled
component tree per image (:mod:`camjax.boxes._wsol_sweep`):

* V2 (all contours): the boxes of all contours of ``u8 >= v`` are the bounding
  boxes of its 8-connected components (outer borders) and, one pixel larger, of its
  holes (4-connected background components not touching the image edge): one tree
  of the foreground and, up to the highest level with a hole, one of the background.
* V1 (largest contour by ``cv2.contourArea``, ties to OpenCV's first): the
  foreground tree, and the area of each component's outer border computed as
  OpenCV computes it. A level where two outer borders of different boxes share
  the largest area is traced with OpenCV here (its contour order decides).

OpenCV is used on purpose: the rule is defined by OpenCV's contour tracing
(Suzuki-Abe border following, polygon areas of the traced borders), and
reproducing the benchmark's numbers means matching that same code.
"""
from __future__ import annotations

import threading
from typing import NamedTuple

import cv2
import numpy as np

from camjax.boxes._checks import check_maps, check_thresholds
from camjax.threads import map_chunks
from camjax.boxes._compiled import SHIFT
from camjax.boxes._wsol_iou import box_iou, v1_iou_batch, v2_iou_batch
from camjax.boxes._wsol_sweep import v1_batch, v2_batch
from camjax.boxes._wsol_tree import wsol_space

_MAX_SIDE = (1 << SHIFT) - 1   # boxes are packed in 16 bits per coordinate


class BoxSet(NamedTuple):
    """Boxes of many (image, threshold) pairs, sorted by (image, threshold, box).

    ``boxes`` (M, 4) int64 (x0, y0, x1, y1); ``image`` (M,) int64 index into the
    batch; ``threshold`` (M,) int64 index into the threshold list. Every pair
    appears at least once (an empty binarisation gives the box (0, 0, 0, 0)).
    """
    boxes: np.ndarray
    image: np.ndarray
    threshold: np.ndarray


def to_uint8(scoremaps) -> np.ndarray:
    """``floor(s * 255)`` computed in float64, as wsolevaluation does, as uint8."""
    maps = check_maps(scoremaps, "scoremaps")
    if maps.size and (maps.min() < 0 or maps.max() > 1):
        raise ValueError("scoremaps must lie in [0, 1] (min-max normalise them first, "
                         f"e.g. camjax.cam.normalize), got {maps.min()}..{maps.max()}")
    return (maps.astype(np.float64) * 255).astype(np.uint8)


def cutoffs(u8_max, thresholds) -> np.ndarray:
    """The integer cutoffs ``int(tau * max(u8))`` of cv2.threshold, (..., T) int64.

    ``tau * max`` is a float64 product as in the reference (a Python/NumPy float
    times a uint8 scalar); ``int`` truncates, which is the floor for tau >= 0.
    """
    m = np.asarray(u8_max, np.float64)[..., None]
    return np.floor(np.asarray(thresholds, np.float64) * m).astype(np.int64)


def check_scoremaps(scoremaps) -> np.ndarray:
    """(N, H, W) or (H, W) float maps in [0, 1] -> (N, H, W) uint8 ``floor(s * 255)``."""
    u8 = to_uint8(scoremaps)
    if u8.ndim == 2:
        u8 = u8[None]
    if u8.ndim != 3:
        raise ValueError(f"scoremaps must be (N, H, W) or (H, W), got shape {u8.shape}")
    return u8


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


_LOCAL = threading.local()


_CACHED_PIXELS = 1 << 20     # larger maps get fresh work arrays (not kept per thread)


def _space(H: int, W: int):
    """This thread's work arrays for (H, W) maps, made once: the kernels reuse them
    call after call (fresh ones would cost their page faults every call). About 300
    bytes a pixel, a tenth of it written; kept only for maps up to a megapixel."""
    if H * W > _CACHED_PIXELS:
        return wsol_space(H, W)
    spaces = getattr(_LOCAL, "spaces", None)
    if spaces is None:
        spaces = _LOCAL.spaces = {}
    if (H, W) not in spaces:
        if len(spaces) > 4:
            spaces.clear()
        spaces[H, W] = wsol_space(H, W)
    return spaces[H, W]


class _OutOfRange(Exception):
    """A map with values outside [0, 1] (or not finite): check_scoremaps says which."""


def _v2(maps: np.ndarray, taus: np.ndarray, offset: int) -> BoxSet:
    boxes, image, thr, ok = v2_batch(maps, taus, _space(*maps.shape[1:]))
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
    boxes, unsure, levels, ok = v1_batch(maps, taus, _space(*maps.shape[1:]))
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


def wsol_boxes(scoremaps, thresholds, multi_contour: bool = False, *,
               workers: int | None = None) -> BoxSet:
    """Boxes of the WSOL rule for every (map, threshold) pair, as a :class:`BoxSet`.

    ``scoremaps`` (N, H, W) or (H, W) float in [0, 1]; ``thresholds`` T values in
    [0, 1]; ``multi_contour`` False is V1 (largest contour), True is V2 (all).
    Each distinct binarisation is computed once; the boxes are those of one
    ``cv2.threshold`` + ``cv2.findContours`` per threshold. ``workers`` threads
    share the batch (default: the CPU count, at most 8); the boxes do not depend on it.
    """
    maps = _float_maps(scoremaps)
    taus = check_thresholds(thresholds, "thresholds")
    n = len(maps)
    if n == 0:
        z = np.zeros(0, np.int64)
        return BoxSet(np.zeros((0, 4), np.int64), z, z)
    fn = _v2 if multi_contour else _v1
    try:
        return _concat(map_chunks(lambda a, b: fn(maps[a:b], taus, a), n, workers))
    except _OutOfRange:
        check_scoremaps(maps)                    # raises the error of the checks
        raise


def _gt_arrays(gt_boxes, n: int) -> tuple[np.ndarray, np.ndarray]:
    """N (n_i, 4) integer boxes -> all of them (M, 4) int64 and the starts (N + 1,)."""
    if len(gt_boxes) != n:
        raise ValueError(f"gt_boxes has {len(gt_boxes)} entries for {n} score maps")
    parts = []
    for i, g in enumerate(gt_boxes):
        g = np.asarray(g)
        if g.size and not np.issubdtype(g.dtype, np.integer):
            raise TypeError(f"gt_boxes[{i}] must hold integer pixel boxes, got dtype {g.dtype}")
        parts.append(g.astype(np.int64).reshape(-1, 4))
    start = np.zeros(n + 1, np.int64)
    np.cumsum([len(g) for g in parts], out=start[1:])
    gt = np.concatenate(parts) if parts else np.zeros((0, 4), np.int64)
    return np.ascontiguousarray(gt), start


def _v2_iou(maps, taus, gt, start, a, b):
    best, ok = v2_iou_batch(maps[a:b], taus, gt, start[a:b + 1], _space(*maps.shape[1:]))
    if not ok:
        raise _OutOfRange
    return best


def _v1_iou(maps, taus, gt, start, a, b):
    best, unsure, levels, ok = v1_iou_batch(maps[a:b], taus, gt, start[a:b + 1],
                                            _space(*maps.shape[1:]))
    if not ok:
        raise _OutOfRange
    traced, u8 = {}, {}
    for i, j in zip(*np.nonzero(unsure)):     # OpenCV's order decides, once per level
        i, v = a + int(i), int(levels[i, j])
        if (i, v) not in traced:
            if i not in u8:
                u8[i] = to_uint8(maps[i])
            traced[i, v] = box_iou(*_v1_opencv(u8[i], v), gt, start[i], start[i + 1])
        best[i - a, j] = traced[i, v]
    return best


def wsol_max_iou(scoremaps, gt_boxes, thresholds, multi_contour: bool = False, *,
                 workers: int | None = None) -> np.ndarray:
    """(N, T) float64: for each map and threshold, the max IoU of the WSOL rule's boxes
    (those of :func:`wsol_boxes`) with the map's ground-truth boxes.

    ``gt_boxes`` N integer arrays (n_i, 4) of inclusive (x0, y0, x1, y1) boxes, each
    with at least one box; IoU with the +1 convention, as wsolevaluation's
    ``calculate_multiple_iou`` (bit for bit). This is what MaxBoxAcc compares with
    its IoU thresholds (:class:`camjax.evaluation.BoxAccumulator`); ``workers``
    threads share the batch (default: the CPU count, at most 8).
    """
    maps = _float_maps(scoremaps)
    taus = check_thresholds(thresholds, "thresholds")
    n = len(maps)
    gt, start = _gt_arrays(gt_boxes, n)
    if (np.diff(start) == 0).any():
        i = int(np.flatnonzero(np.diff(start) == 0)[0])
        raise ValueError(f"gt_boxes[{i}] is empty: every image needs a ground-truth box")
    if n == 0:
        return np.zeros((0, len(taus)))
    fn = _v2_iou if multi_contour else _v1_iou
    try:
        parts = map_chunks(lambda a, b: fn(maps, taus, gt, start, a, b), n, workers)
    except _OutOfRange:
        check_scoremaps(maps)                    # raises the error of the checks
        raise
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
