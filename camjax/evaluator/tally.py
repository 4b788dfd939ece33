"""Per-image bookkeeping of an evaluation: counts at each operating point, per-class
counts, WSOL accumulators of the CAMs and of the centre Gaussian, and the best and worst
localized images. Everything merges across processes by sums.

An *operating point* is a CAM threshold of the paper's box rule: ``paper_rule`` (the
paper's fixed 20% of the max, ``config.cam_threshold``) and, when the dataset has a
train-fullsup split, ``val_threshold`` (the threshold chosen there). The thresholded
metrics (GT-known, localization top-1/top-5) are counted at every point.
"""
from __future__ import annotations

import heapq

import numpy as np

from camjax.distributed import sum_over_processes
from camjax.evaluation.metrics import box_hits
from camjax.evaluation.wsol import BoxAccumulator, MaskAccumulator
from camjax.evaluator.baselines import CentreGaussian, centred_boxes
from camjax.geometry import iou

COUNTS = ("cls_top1_wrong", "cls_top5_wrong", "loc_top1_wrong", "loc_top5_wrong",
          "gt_known_correct")
POINT_KEYS = ("gt_known_acc", "loc_top1_err", "loc_top5_err")


def image_outcomes(top, labels, boxes, gt) -> dict:
    """Per-image booleans. ``boxes`` (B, 1 + k, 4): the label's box, then the top-k boxes."""
    hits = box_hits(boxes, gt)                       # (B, 1 + k)
    right = top == labels[:, None]                   # (B, k)
    return {"cls_top1_wrong": ~right[:, 0],
            "cls_top5_wrong": ~right[:, :5].any(1),
            "loc_top1_wrong": ~(right[:, 0] & hits[:, 1]),
            "loc_top5_wrong": ~(right[:, :5] & hits[:, 1:6]).any(1),
            "gt_known_correct": hits[:, 0]}


def counts_of(outcomes: dict) -> np.ndarray:
    return np.array([int(np.sum(outcomes[c])) for c in COUNTS], np.int64)


def as_percent(counts, n: int) -> dict:
    out = {k.replace("_wrong", "_err").replace("_correct", "_acc"): 100.0 * float(v) / max(n, 1)
           for k, v in zip(COUNTS, counts)}
    out["num_images"] = int(n)
    return out


def _wsol_result(acc, n: int) -> dict:
    """An accumulator's result after summing its counts over processes."""
    if isinstance(acc, MaskAccumulator):
        state = acc.get_state()
        for key in ("fg_hist", "bg_hist"):
            state[key] = sum_over_processes(state[key])
        acc.set_state(state)
        return float(acc.result()["pxap"])
    state = acc.get_state()
    state["num_correct"], state["num_images"] = sum_over_processes(state["num_correct"]), n
    acc.set_state(state)
    r = acc.result()
    r["curves"] = {k: v.tolist() for k, v in r["curves"].items()}
    r["cam_thresholds"] = acc.cam_thresholds.tolist()
    return r


class Tally:
    """Accumulates one evaluation. ``update`` per batch of valid images; ``result`` sums
    over processes and returns plain numbers.

    ``points``: operating point name -> CAM threshold, in the order of the boxes' point
    axis; the first is the one reported as ``cam`` / ``per_class`` (today's keys), the
    last the one the best / worst pictures use.
    """

    def __init__(self, num_classes: int, *, points: dict | None = None, wsol: bool = True,
                 extremes: int = 8, cam_curve_interval: float = 0.01):
        self.points = dict(points or {"paper_rule": 0.2})
        self.counts = np.zeros((len(self.points), len(COUNTS)), np.int64)
        # per point and class: images, gt-known, loc top-1
        self.per_class = np.zeros((len(self.points), num_classes, 3), np.int64)
        thresholds = np.arange(0, 1, cam_curve_interval)
        self.box_v2 = BoxAccumulator(thresholds, multi_contour=True) if wsol else None
        self.box_v1 = BoxAccumulator(thresholds, (0.5,), multi_contour=False) if wsol else None
        self.gaussian = CentreGaussian(thresholds, bin_width=cam_curve_interval) if wsol else None
        self.bin_width = cam_curve_interval
        self.masks = None
        self.has_boxes = True
        self.extremes = extremes
        self.best, self.worst = [], []          # heaps of (key, tie, item)
        self.kept = {"top": [], "labels": [], "gt": []}
        self._seen = 0

    def update(self, top, labels, boxes, gt, label_maps, masks=None, images=None) -> None:
        """``boxes`` (B, 1 + k, P, 4) at the P points (or (B, 1 + k, 4) for one point);
        ``gt`` None for a split with masks and no boxes (OpenImages): then only the
        classification counts and PxAP are kept."""
        if gt is None:
            self.has_boxes = False
            right = top == labels[:, None]
            self.counts[:, :2] += [int(np.sum(~right[:, 0])), int(np.sum(~right[:, :5].any(1)))]
            self._update_masks(label_maps, masks)
            self._seen += len(labels)
            return
        boxes = boxes[:, :, None] if boxes.ndim == 3 else boxes
        for p in range(boxes.shape[2]):
            outcomes = image_outcomes(top, labels, boxes[:, :, p], gt)
            self.counts[p] += counts_of(outcomes)
            np.add.at(self.per_class[p], labels, np.stack(
                [np.ones_like(labels), outcomes["gt_known_correct"],
                 ~outcomes["loc_top1_wrong"]], axis=1).astype(np.int64))
        if self.box_v2 is not None:
            self.box_v2.update(label_maps, gt)
            self.box_v1.update(label_maps, gt)
            self.gaussian.update(label_maps.shape[1:], gt)
        self._update_masks(label_maps, masks)
        self.kept["top"].append(top)
        self.kept["labels"].append(labels)
        self.kept["gt"].extend(gt)
        if images is not None and self.extremes:
            self._track_extremes(images, label_maps, boxes[:, 0, -1], gt, labels)
        self._seen += len(labels)

    def _update_masks(self, label_maps, masks) -> None:
        if masks is None:
            return
        self.masks = self.masks or MaskAccumulator(self.bin_width)
        self.masks.update(label_maps, masks)
        if self.gaussian is not None:
            self.gaussian.update_masks(label_maps.shape[1:], masks)

    def _track_extremes(self, images, maps, boxes, gt, labels) -> None:
        for i, g in enumerate(gt):
            score = float(iou(boxes[i][None], g).max())
            item = {"image": images[i], "map": maps[i], "box": boxes[i], "gt_boxes": g,
                    "label": int(labels[i]), "iou": score}
            tie = self._seen + i
            for heap, key in ((self.best, score), (self.worst, -score)):
                entry = (key, -tie, item)
                if len(heap) < self.extremes:
                    heapq.heappush(heap, entry)
                elif entry[:2] > heap[0][:2]:
                    heapq.heapreplace(heap, entry)

    def result(self, map_size: int) -> dict:
        n = int(sum_over_processes(np.array([self._seen]))[0])
        counts = sum_over_processes(self.counts)
        if not self.has_boxes:
            cam = as_percent(counts[0], n)
            out = {"cam": {k: cam[k] for k in ("cls_top1_err", "cls_top5_err", "num_images")}}
            if self.masks is not None:
                out["pxap"] = _wsol_result(self.masks, n)
                out["centre_gaussian"] = {"pxap": _wsol_result(self.gaussian.masks, n)}
            return out
        per_class = sum_over_processes(self.per_class)
        baseline = self._baseline(map_size, n)
        out = {"cam": as_percent(counts[0], n), "baseline": baseline,
               "per_class": _per_class(per_class[0]), "operating_points": {}}
        for p, (name, threshold) in enumerate(self.points.items()):
            cam = as_percent(counts[p], n)
            out["operating_points"][name] = {
                "threshold": float(threshold), "cam": {k: cam[k] for k in POINT_KEYS},
                "baseline": {k: baseline[k] for k in POINT_KEYS},
                "per_class": _per_class(per_class[p])}
        if self.box_v2 is not None:
            out["wsol_v2"], out["wsol_v1"] = (_wsol_result(self.box_v2, n),
                                              _wsol_result(self.box_v1, n))
            g = self.gaussian
            out["centre_gaussian"] = {"wsol_v2": _wsol_result(g.v2, n),
                                      "wsol_v1": _wsol_result(g.v1, n)}
            if self.masks is not None:
                out["centre_gaussian"]["pxap"] = _wsol_result(g.masks, n)
        if self.masks is not None:
            out["pxap"] = _wsol_result(self.masks, n)
        return out

    def _baseline(self, size: int, n: int) -> dict:
        """The centred box of mean ground-truth size, with the CAM's class predictions."""
        top, labels, gt = (np.concatenate(self.kept["top"]), np.concatenate(self.kept["labels"]),
                           self.kept["gt"])
        boxes = centred_boxes(gt, size, 1 + top.shape[1])
        out = as_percent(sum_over_processes(counts_of(
            image_outcomes(top, labels, boxes, gt))), n)
        out["box"] = boxes[0, 0].tolist() if len(boxes) else []
        return out

    def extreme_images(self) -> tuple[list, list]:
        """This process's best and worst localized images (GT class), best first / worst first."""
        best = [e[2] for e in sorted(self.best, key=lambda e: e[:2], reverse=True)]
        worst = [e[2] for e in sorted(self.worst, key=lambda e: e[:2], reverse=True)]
        return best, worst


def _per_class(rows) -> list[dict]:
    return [{"class": c, "images": int(a), "gt_known_acc": 100.0 * b / a,
             "loc_top1_acc": 100.0 * d / a} for c, (a, b, d) in enumerate(rows) if a]
