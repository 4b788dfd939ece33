"""The WSOL rule (algorithms.md 2c, wsolevaluation's ``compute_bboxes_from_scoremaps``).

For a min-max normalised score map ``s`` in [0, 1]:

    u8 = floor(s * 255)                      (float64, as wsolevaluation's maps are)
    binary = u8 > floor(tau * max(u8))       (cv2.threshold, THRESH_BINARY)
    contours = cv2.findContours(binary, RETR_TREE, CHAIN_APPROX_SIMPLE)

V1 keeps the contour of largest ``cv2.contourArea`` (ties: the first one OpenCV
returns, as Python's ``max`` does); V2 keeps every contour. Each contour gives
the box ``(x, y, x + w, y + h)`` of ``cv2.boundingRect`` with ``x1`` and ``y1``
clipped to ``W - 1`` and ``H - 1``; a map with no contour gives ``(0, 0, 0, 0)``.

OpenCV is used here on purpose: the rule is defined by OpenCV's contour
tracing (Suzuki-Abe border following, polygon areas of the traced borders), and
reproducing the benchmark's numbers means running that same code.

Many thresholds come back as a :class:`BoxSet`, a flat list of boxes tagged with
their image and threshold index. Within one (image, threshold) pair the boxes are
in a canonical order (rows sorted lexicographically) so that every implementation
(this loop, the sweep in :mod:`camjax.boxes.sweep`) returns identical arrays.
"""
from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from camjax.boxes.checks import check_maps, check_thresholds


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


def _boxes_of_binary(binary: np.ndarray, multi_contour: bool) -> np.ndarray:
    """The reference rule on one uint8 binary image (0/255): (n, 4) boxes, canonical order."""
    height, width = binary.shape
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2]
    if len(contours) == 0:
        return np.zeros((1, 4), np.int64)
    if not multi_contour:
        contours = [max(contours, key=cv2.contourArea)]
    out = np.empty((len(contours), 4), np.int64)
    for i, contour in enumerate(contours):
        x, y, w, h = cv2.boundingRect(contour)
        out[i] = x, y, min(x + w, width - 1), min(y + h, height - 1)
    return canonical(out)


def canonical(boxes: np.ndarray) -> np.ndarray:
    """Rows sorted lexicographically by (x0, y0, x1, y1): the order inside a pair."""
    if len(boxes) < 2:
        return boxes
    return boxes[np.lexsort(boxes.T[::-1])]


def concat(per_pair: list[list[np.ndarray]]) -> BoxSet:
    """[image][threshold] -> (n, 4) arrays, to one BoxSet sorted by (image, threshold)."""
    boxes, image, threshold = [], [], []
    for i, row in enumerate(per_pair):
        for j, b in enumerate(row):
            boxes.append(b)
            image.append(np.full(len(b), i, np.int64))
            threshold.append(np.full(len(b), j, np.int64))
    if not boxes:
        z = np.zeros(0, np.int64)
        return BoxSet(np.zeros((0, 4), np.int64), z, z)
    return BoxSet(np.concatenate(boxes).astype(np.int64), np.concatenate(image),
                  np.concatenate(threshold))


def check_scoremaps(scoremaps) -> np.ndarray:
    """(N, H, W) or (H, W) float maps in [0, 1] -> (N, H, W) uint8 ``floor(s * 255)``."""
    u8 = to_uint8(scoremaps)
    if u8.ndim == 2:
        u8 = u8[None]
    if u8.ndim != 3:
        raise ValueError(f"scoremaps must be (N, H, W) or (H, W), got shape {u8.shape}")
    return u8


def wsol_boxes_reference(scoremaps, thresholds, multi_contour: bool = False) -> BoxSet:
    """The rule as wsolevaluation writes it: one cv2 threshold + findContours per threshold.

    ``scoremaps`` (N, H, W) or (H, W) float in [0, 1]; ``thresholds`` T values in
    [0, 1]; ``multi_contour`` False is V1 (largest contour), True is V2 (all).
    """
    u8 = check_scoremaps(scoremaps)
    taus = check_thresholds(thresholds, "thresholds")
    per_pair = []
    for img in u8:
        peak = np.max(img)
        row = []
        for tau in taus:
            _, binary = cv2.threshold(img, int(tau * peak), 255, cv2.THRESH_BINARY)
            row.append(_boxes_of_binary(binary, multi_contour))
        per_pair.append(row)
    return concat(per_pair)


def wsol_boxes(scoremaps, thresholds, multi_contour: bool = False, *,
               workers: int | None = None) -> BoxSet:
    """Boxes of the WSOL rule for every (map, threshold) pair, as a :class:`BoxSet`.

    ``scoremaps`` (N, H, W) or (H, W) float in [0, 1]; ``thresholds`` T values in
    [0, 1]; ``multi_contour`` False is V1 (largest contour), True is V2 (all).
    The fast path (:func:`camjax.boxes.sweep.wsol_boxes_sweep`): each distinct
    binarisation is computed once; the output is identical to
    :func:`wsol_boxes_reference`.
    """
    from camjax.boxes.sweep import wsol_boxes_sweep
    return wsol_boxes_sweep(scoremaps, thresholds, multi_contour, workers=workers)
