"""The box rules as their reference code writes them, once: the shared test oracle.

* :func:`wsol_boxes_per_threshold` - wsolevaluation's ``compute_bboxes_from_scoremaps``
  for one score map: ``u8 = floor(s * 255)`` (in float64), then per threshold one
  ``cv2.threshold`` and one ``cv2.findContours``; :func:`wsol_boxes_reference` runs it
  over a batch and returns a :class:`camjax.boxes.BoxSet`, as ``camjax.boxes.wsol_boxes``
  does.
* :func:`largest_component_boxes_reference` - the paper rule with one
  ``skimage.measure.label`` per map and threshold, as
  ``camjax.boxes.largest_component_boxes`` returns it.

The fast rules in camjax must give these boxes exactly. tests/boxes,
tests/evaluation and bench/localization.py import this module (bench puts the
repository root on ``sys.path``).
"""
from __future__ import annotations

import cv2
import numpy as np
from skimage import measure

from camjax.boxes import BoxSet
from camjax.boxes._checks import check_maps, check_thresholds
from camjax.boxes.wsol import check_scoremaps


# ------------------------------------------------------------------ WSOL rule
def canonical(boxes: np.ndarray) -> np.ndarray:
    """Rows sorted lexicographically by (x0, y0, x1, y1): the order inside a pair."""
    if len(boxes) < 2:
        return boxes
    return boxes[np.lexsort(boxes.T[::-1])]


def _boxes_of_u8(image: np.ndarray, thresholds, multi_contour: bool) -> list[np.ndarray]:
    height, width = image.shape
    out = []
    for tau in thresholds:
        _, binary = cv2.threshold(image, int(tau * np.max(image)), 255, cv2.THRESH_BINARY)
        contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2]
        if len(contours) == 0:
            out.append(np.zeros((1, 4), np.int64))
            continue
        if not multi_contour:
            contours = [max(contours, key=cv2.contourArea)]
        boxes = np.empty((len(contours), 4), np.int64)
        for i, contour in enumerate(contours):
            x, y, w, h = cv2.boundingRect(contour)
            boxes[i] = x, y, min(x + w, width - 1), min(y + h, height - 1)
        out.append(canonical(boxes))
    return out


def wsol_boxes_per_threshold(scoremap, thresholds, multi_contour: bool) -> list[np.ndarray]:
    """One (H, W) score map in [0, 1]: per threshold, the (n, 4) int64 boxes of the WSOL
    rule (V1: ``multi_contour`` False, V2: True) in canonical row order; a threshold
    with no contour gives ``[[0, 0, 0, 0]]``."""
    image = (np.asarray(scoremap).astype(np.float64) * 255).astype(np.uint8)
    return _boxes_of_u8(image, np.atleast_1d(thresholds), multi_contour)


def wsol_boxes_reference(scoremaps, thresholds, multi_contour: bool = False) -> BoxSet:
    """:func:`wsol_boxes_per_threshold` over a batch (N, H, W) or (H, W), as a BoxSet
    sorted by (image, threshold); bad input raises the errors of camjax's checks."""
    u8 = check_scoremaps(scoremaps)
    taus = check_thresholds(thresholds, "thresholds")
    boxes, image, threshold = [], [], []
    for i, img in enumerate(u8):
        for j, b in enumerate(_boxes_of_u8(img, taus, multi_contour)):
            boxes.append(b)
            image.append(np.full(len(b), i, np.int64))
            threshold.append(np.full(len(b), j, np.int64))
    if not boxes:
        z = np.zeros(0, np.int64)
        return BoxSet(np.zeros((0, 4), np.int64), z, z)
    return BoxSet(np.concatenate(boxes), np.concatenate(image), np.concatenate(threshold))


# ----------------------------------------------------------------- paper rule
def box_of_largest_component(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box of the largest 8-connected component of a boolean (H, W) mask;
    equal sizes: the lowest skimage label (first in raster order); none: (0, 0, 0, 0)."""
    labels, count = measure.label(mask, connectivity=2, return_num=True)
    if count == 0:
        return 0, 0, 0, 0
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    ys, xs = np.nonzero(labels == int(np.argmax(sizes)))
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def largest_component_boxes_reference(maps, threshold=0.2) -> np.ndarray:
    """The paper rule with one ``skimage.measure.label`` per map and threshold: maps
    (..., H, W), a float threshold -> (..., 4), a sequence of T -> (..., T, 4) int64.
    The foreground is ``m > t * max(m)`` with ``t`` a float64."""
    maps = check_maps(maps, "maps")
    scalar = np.ndim(threshold) == 0
    thresholds = check_thresholds(np.atleast_1d(threshold), "threshold")
    flat = maps.reshape(-1, *maps.shape[-2:])
    out = np.zeros((flat.shape[0], len(thresholds), 4), np.int64)
    for i, m in enumerate(flat):
        peak = m.max()
        for j, t in enumerate(thresholds):
            out[i, j] = box_of_largest_component(m > t * peak)
    out = out.reshape(*maps.shape[:-2], len(thresholds), 4)
    return out[..., 0, :] if scalar else out
