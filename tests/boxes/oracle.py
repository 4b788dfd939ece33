"""The box rules as their reference code writes them, once: the shared test oracle.

* :func:`wsol_boxes_per_threshold` - wsolevaluation's ``compute_bboxes_from_scoremaps``
  for one score map: ``u8 = floor(s * 255)`` (in float64), then per threshold one
  ``cv2.threshold`` and one ``cv2.findContours``; :func:`wsol_boxes_reference` runs it
  over a batch and returns a :class:`camjax.boxes.BoxSet`, as ``camjax.boxes.wsol_boxes``
  does.
* :class:`BoxEvaluatorLoop` - wsolevaluation's ``BoxEvaluator`` (MaxBoxAcc): per map
  the boxes of every threshold, their IoUs with the ground truth
  (``calculate_multiple_iou``), the max per threshold and the counts, as its
  ``accumulate`` / ``compute`` do; :class:`MaskEvaluatorLoop` its ``MaskEvaluator``
  (PxAP), masks given as arrays instead of files;
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


def _boxes_of_u8(image: np.ndarray, thresholds, multi_contour: bool,
                 sort: bool = True) -> list[np.ndarray]:
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
        out.append(canonical(boxes) if sort else boxes)
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


# ------------------------------------------------------- MaxBoxAcc and PxAP
def check_validity(scoremap) -> None:
    """``check_scoremap_validity``: a 2-D float64 array in [0, 1] without NaN."""
    if not isinstance(scoremap, np.ndarray) or scoremap.dtype != np.float64:
        raise TypeError("scoremap must be a float64 numpy array")
    if scoremap.ndim != 2:
        raise ValueError("scoremap must be 2-D")
    if np.isnan(scoremap).any():
        raise ValueError("scoremap must not contain NaN")
    if (scoremap > 1).any() or (scoremap < 0).any():
        raise ValueError("scoremap must be in [0, 1]")


def multiple_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``calculate_multiple_iou``: (na, 4) x (nb, 4) -> (na, nb); areas with the +1
    convention, an integer intersection over an integer union; union <= 0 gives 0."""
    a, b = a[:, None, :], b[None, :, :]
    iw = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1)
    ih = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1)
    inter = iw * ih
    union = ((a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
             + (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1) - inter)
    degenerate = union <= 0
    union[degenerate] = 1
    ious = inter / union
    ious[degenerate] = 0
    return ious


class BoxEvaluatorLoop:
    """wsolevaluation's ``BoxEvaluator``, one map at a time: ``accumulate(scoremap,
    gt_boxes)``, a float64 (H, W) map and its (n, 4) ground truth in its pixel frame; ``compute()``
    the MaxBoxAcc per IoU threshold (percent, keys as ``iou_thresholds``: 30, 50, 70).
    ``num_correct[k]`` counts, per cam threshold, the maps whose max IoU is >= k / 100."""

    def __init__(self, cam_thresholds, iou_thresholds=(30, 50, 70), multi_contour=False):
        self.cam_thresholds = list(cam_thresholds)
        self.iou_thresholds = list(iou_thresholds)
        self.multi_contour = multi_contour
        self.num_correct = {k: np.zeros(len(self.cam_thresholds)) for k in self.iou_thresholds}
        self.cnt = 0

    def accumulate(self, scoremap, gt_boxes) -> None:
        check_validity(scoremap)
        image = (scoremap * 255).astype(np.uint8)
        per_threshold = _boxes_of_u8(image, self.cam_thresholds, self.multi_contour, sort=False)
        ious = multiple_iou(np.concatenate(per_threshold), np.asarray(gt_boxes, np.int64))
        best_per_box = ious.max(1)
        sliced, idx = [], 0
        for boxes in per_threshold:                  # the reference's Python loop
            sliced.append(max(best_per_box[idx:idx + len(boxes)]))
            idx += len(boxes)
        for k in self.iou_thresholds:
            self.num_correct[k][np.where(np.asarray(sliced) >= k / 100)[0]] += 1
        self.cnt += 1

    def compute(self) -> list[float]:
        return [float((self.num_correct[k] * 100. / float(self.cnt)).max())
                for k in self.iou_thresholds]


class MaskEvaluatorLoop:
    """wsolevaluation's ``MaskEvaluator`` (PxAP), one map at a time; the mask as an
    array (0 background, 1 foreground, 255 ignore) instead of files."""

    def __init__(self, cam_thresholds):
        self.edges = np.append(np.asarray(cam_thresholds), [1.0, 2.0, 3.0])
        self.fg_hist = np.zeros(len(self.edges) - 1)
        self.bg_hist = np.zeros(len(self.edges) - 1)

    def accumulate(self, scoremap, mask) -> None:
        check_validity(scoremap)
        self.fg_hist += np.histogram(scoremap[mask == 1], bins=self.edges)[0].astype(float)
        self.bg_hist += np.histogram(scoremap[mask == 0], bins=self.edges)[0].astype(float)

    def compute(self) -> float:
        tp = self.fg_hist[::-1].cumsum()
        fn = self.fg_hist.sum() - tp
        fp = self.bg_hist[::-1].cumsum()
        nonzero = (tp + fp) != 0
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = tp / (tp + fp)
        recall = tp / (tp + fn)
        return float((precision[1:] * np.diff(recall))[nonzero[1:]].sum() * 100)


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
