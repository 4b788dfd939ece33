"""WSOL benchmark metrics: MaxBoxAcc (V1, V2) here and PxAP (:mod:`camjax.evaluation.pxap`,
re-exported), as wsolevaluation computes them.

Both metrics are accumulators: ``update`` with a batch, ``result`` at the end. Their
state is a few count arrays whose size does not depend on the number of images, so
accumulators of several processes (or several batches) can be merged by summing
counts (``merge``, or ``get_state``/``set_state`` around a cross-process sum).
Scores are percentages. See docs/evaluation.md.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from camjax.evaluation.checks import (check_scoremaps, gt_box_list, iou_threshold_array,
                                      scoremap_array)
from camjax.evaluation.pxap import MaskAccumulator, pxap  # noqa: F401  (re-exported)
from camjax.geometry import paired_iou


def max_iou_per_threshold(box_set, gt_boxes: list[np.ndarray], num_thresholds: int) -> np.ndarray:
    """(N, T) max IoU over the boxes of each (image, threshold) x the image's GT boxes.

    ``box_set`` is (boxes (M, 4), image (M,), threshold (M,)) -- the ``BoxSet`` of
    ``camjax.boxes.wsol_boxes`` or any 3-tuple like it, ``threshold`` holding
    indices into the threshold list. Vectorised: every (predicted box, GT box of its
    image) pair is formed with ``np.repeat``, then ``np.maximum.reduceat`` reduces
    per (image, threshold) (after a sort by pair, unless sorted already, as a
    ``BoxSet`` is). Maps go through ``camjax.boxes.wsol_max_iou`` instead, which
    never lists the boxes.
    """
    n = len(gt_boxes)
    boxes, image, thr = box_set
    boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
    image = np.asarray(image, np.int64).ravel()
    thr = np.asarray(thr, np.int64).ravel()
    if not (len(boxes) == len(image) == len(thr)):
        raise ValueError("box_set fields must have the same length")
    if len(image) and (image.min() < 0 or image.max() >= n
                       or thr.min() < 0 or thr.max() >= num_thresholds):
        raise ValueError("box_set holds an image or threshold index out of range")
    gt_count = np.array([len(g) for g in gt_boxes], np.int64)
    gt_start = np.concatenate([[0], np.cumsum(gt_count)[:-1]])
    gt_all = np.concatenate(gt_boxes, axis=0) if n else np.zeros((0, 4), np.int64)
    reps = gt_count[image]                                   # GT boxes per predicted box
    pred_idx = np.repeat(np.arange(len(boxes)), reps)
    # index of the GT box inside the image: 0..reps-1 for each predicted box
    within = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    gt_idx = gt_start[image[pred_idx]] + within
    ious = paired_iou(boxes[pred_idx], gt_all[gt_idx])
    key = image[pred_idx] * num_thresholds + thr[pred_idx]
    if len(key) > 1 and (key[1:] < key[:-1]).any():
        order = np.argsort(key, kind="stable")
        key, ious = key[order], ious[order]
    best = np.full(n * num_thresholds, -1.0)
    if len(key):
        first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        best[key[first]] = np.maximum.reduceat(ious, first)
    if (best < 0).any():
        i, t = divmod(int(np.flatnonzero(best < 0)[0]), num_thresholds)
        raise RuntimeError(f"no box for image {i} at threshold index {t}: the box rule must "
                           "give at least one box per (image, threshold)")
    return best.reshape(n, num_thresholds)


def _iou_key(delta: float) -> int:
    return int(round(float(delta) * 100))


class BoxAccumulator:
    """MaxBoxAcc over batches, exactly wsolevaluation's BoxEvaluator.

    For each cam threshold tau and IoU threshold delta, an image counts as correct
    if the max IoU over its boxes at tau x its GT boxes is >= delta;
    MaxBoxAcc(delta) = max over tau of 100 * correct / images. ``multi_contour=True``
    keeps all contours (V2); False keeps the largest (V1). GT boxes are in the
    score map's pixel frame (rescale with ``rescale_boxes`` first). ``workers``
    threads share a batch's maps (the counts do not depend on it).
    """

    def __init__(self, cam_thresholds=np.arange(0, 1, 0.01), iou_thresholds=(0.3, 0.5, 0.7),
                 multi_contour: bool = True, *, workers: int | None = None):
        self.cam_thresholds = np.array(cam_thresholds, np.float64).ravel()
        self.iou_thresholds = iou_threshold_array(iou_thresholds)
        if self.cam_thresholds.size == 0 or self.iou_thresholds.size == 0:
            raise ValueError("cam_thresholds and iou_thresholds must not be empty")
        if self.cam_thresholds.min() < 0 or self.cam_thresholds.max() > 1:
            raise ValueError("cam_thresholds must lie in [0, 1]")
        self.keys = [_iou_key(d) for d in self.iou_thresholds]
        if len(set(self.keys)) != len(self.keys):
            raise ValueError(f"iou_thresholds {self.iou_thresholds} give duplicate keys "
                             f"{self.keys} (keys are round(100 * delta))")
        self.multi_contour = bool(multi_contour)
        self.workers = workers       # threads for the boxes (None: the CPU count, at most 8)
        self.num_correct = np.zeros((len(self.iou_thresholds), len(self.cam_thresholds)),
                                    np.int64)
        self.num_images = 0

    def update(self, scoremaps, gt_boxes) -> None:
        """scoremaps (N, H, W) float in [0, 1]; gt_boxes a list of N (n_i, 4) int arrays
        of boxes inside the maps (x0 <= x1 <= W - 1, y0 <= y1 <= H - 1)."""
        from camjax.boxes import wsol_max_iou  # the WSOL rule (docs/localization.md)
        s = scoremap_array(scoremaps)
        gts = gt_box_list(gt_boxes, s.shape[0], map_hw=s.shape[1:])
        if not gts:
            return
        try:       # the compiled pass checks the values; the error is this module's
            best = wsol_max_iou(s, gts, self.cam_thresholds, self.multi_contour,
                                workers=self.workers)
        except ValueError:
            check_scoremaps(s)
            raise
        self._count_best(best)

    def update_boxes(self, box_set, gt_boxes) -> None:
        """Count boxes computed elsewhere: ``box_set`` = (boxes (M, 4), image (M,),
        threshold index (M,)) for len(gt_boxes) images, e.g. from the on-device path;
        every (image, threshold) pair must have at least one box."""
        self._count(box_set, gt_box_list(gt_boxes, len(gt_boxes)))

    def _count(self, box_set, gts: list[np.ndarray]) -> None:
        if gts:
            self._count_best(max_iou_per_threshold(box_set, gts, len(self.cam_thresholds)))

    def _count_best(self, best: np.ndarray) -> None:
        """Count the (N, T) max IoUs: correct where >= each IoU threshold."""
        for d, delta in enumerate(self.iou_thresholds):
            self.num_correct[d] += (best >= delta).sum(axis=0)
        self.num_images += len(best)

    # -- merging ---------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        return {"cam_thresholds": self.cam_thresholds, "iou_thresholds": self.iou_thresholds,
                "multi_contour": self.multi_contour}

    def _check_config(self, cfg: dict[str, Any]) -> None:
        if (np.shape(cfg["cam_thresholds"]) != self.cam_thresholds.shape
                or not np.array_equal(cfg["cam_thresholds"], self.cam_thresholds)
                or np.shape(cfg["iou_thresholds"]) != self.iou_thresholds.shape
                or not np.array_equal(cfg["iou_thresholds"], self.iou_thresholds)
                or bool(cfg["multi_contour"]) != self.multi_contour):
            raise ValueError("cannot combine BoxAccumulators with different cam_thresholds, "
                             "iou_thresholds or multi_contour")

    def merge(self, other: "BoxAccumulator") -> "BoxAccumulator":
        """Add the counts of ``other`` (same configuration) into this one; returns self."""
        self._check_config(other._config())
        self.num_correct += other.num_correct
        self.num_images += other.num_images
        return self

    def get_state(self) -> dict[str, Any]:
        """Counts and configuration as numpy arrays / plain values (copies). Sum
        ``num_correct`` and ``num_images`` across processes, then ``set_state``."""
        return {"num_correct": self.num_correct.copy(), "num_images": int(self.num_images),
                "cam_thresholds": self.cam_thresholds.copy(),
                "iou_thresholds": self.iou_thresholds.copy(),
                "multi_contour": self.multi_contour}

    def set_state(self, state: dict[str, Any]) -> None:
        self._check_config(state)
        counts = np.asarray(state["num_correct"], np.int64)
        if counts.shape != self.num_correct.shape:
            raise ValueError(f"num_correct has shape {counts.shape}, "
                             f"expected {self.num_correct.shape}")
        self.num_correct = counts.copy()
        self.num_images = int(state["num_images"])

    def result(self) -> dict[str, Any]:
        if self.num_images == 0:
            raise ValueError("BoxAccumulator.result() before any image was accumulated")
        acc = self.num_correct * 100.0 / float(self.num_images)     # (D, T)
        best = acc.argmax(axis=1)                                   # first max, as np.max
        max_acc = {k: float(acc[i].max()) for i, k in enumerate(self.keys)}
        return {"max_box_acc": max_acc,
                "max_box_acc_v2": float(np.mean(list(max_acc.values()))),
                "best_threshold": {k: float(self.cam_thresholds[best[i]])
                                   for i, k in enumerate(self.keys)},
                "curves": {k: acc[i].copy() for i, k in enumerate(self.keys)},
                "num_images": int(self.num_images)}
