"""Per-image bookkeeping of an evaluation: counts, per-class counts, WSOL accumulators,
and the best and worst localized images. Everything merges across processes by sums."""
from __future__ import annotations

import heapq

import numpy as np

from camjax.distributed import sum_over_processes
from camjax.evaluation.metrics import box_hits
from camjax.evaluation.wsol import BoxAccumulator, MaskAccumulator
from camjax.geometry import centred_box, iou

COUNTS = ("cls_top1_wrong", "cls_top5_wrong", "loc_top1_wrong", "loc_top5_wrong",
          "gt_known_correct")


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


class Tally:
    """Accumulates one evaluation. ``update`` per batch of valid images; ``result`` sums
    over processes and returns plain numbers."""

    def __init__(self, num_classes: int, *, wsol: bool = True, extremes: int = 8):
        self.counts = np.zeros(len(COUNTS), np.int64)
        self.per_class = np.zeros((num_classes, 3), np.int64)  # images, gt-known, loc top-1
        self.box_v2 = BoxAccumulator(multi_contour=True) if wsol else None
        self.box_v1 = BoxAccumulator(multi_contour=False, iou_thresholds=(0.5,)) if wsol else None
        self.masks = None
        self.extremes = extremes
        self.best, self.worst = [], []          # heaps of (key, tie, item)
        self.kept = {"top": [], "labels": [], "gt": []}
        self._seen = 0

    def update(self, top, labels, boxes, gt, label_maps, masks=None, images=None) -> None:
        outcomes = image_outcomes(top, labels, boxes, gt)
        self.counts += counts_of(outcomes)
        np.add.at(self.per_class, labels, np.stack(
            [np.ones_like(labels), outcomes["gt_known_correct"],
             ~outcomes["loc_top1_wrong"]], axis=1).astype(np.int64))
        if self.box_v2 is not None:
            self.box_v2.update(label_maps, gt)
            self.box_v1.update(label_maps, gt)
        if masks is not None:
            self.masks = self.masks or MaskAccumulator()
            self.masks.update(label_maps, masks)
        self.kept["top"].append(top)
        self.kept["labels"].append(labels)
        self.kept["gt"].extend(gt)
        if images is not None and self.extremes:
            self._track_extremes(images, label_maps, boxes[:, 0], gt, labels)
        self._seen += len(labels)

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

    def result(self, image_size: int) -> dict:
        n = int(sum_over_processes(np.array([self._seen]))[0])
        counts = sum_over_processes(self.counts)
        out = {"cam": as_percent(counts, n), "baseline": self._baseline(image_size, n)}
        per_class = sum_over_processes(self.per_class)
        out["per_class"] = [{"class": c, "images": int(a), "gt_known_acc": 100.0 * b / a,
                             "loc_top1_acc": 100.0 * d / a}
                            for c, (a, b, d) in enumerate(per_class) if a]
        for name, acc in (("wsol_v2", self.box_v2), ("wsol_v1", self.box_v1)):
            if acc is not None:
                state = acc.get_state()
                state["num_correct"] = sum_over_processes(state["num_correct"])
                state["num_images"] = n
                acc.set_state(state)
                r = acc.result()
                r["curves"] = {k: v.tolist() for k, v in r["curves"].items()}
                r["cam_thresholds"] = acc.cam_thresholds.tolist()
                out[name] = r
        if self.masks is not None:
            state = self.masks.get_state()
            for key in ("fg_hist", "bg_hist"):
                state[key] = sum_over_processes(state[key])
            self.masks.set_state(state)
            out["pxap"] = float(self.masks.result()["pxap"])
        return out

    def _baseline(self, size: int, n: int) -> dict:
        """The box of mean ground-truth size centred in the image, for every class."""
        top, labels, gt = (np.concatenate(self.kept["top"]), np.concatenate(self.kept["labels"]),
                           self.kept["gt"])
        wh = np.concatenate([g[:, 2:] - g[:, :2] + 1 for g in gt]).astype(np.float64)
        sums = sum_over_processes(np.array([wh[:, 0].sum(), wh[:, 1].sum(), len(wh)]))
        box = centred_box(sums[0] / sums[2], sums[1] / sums[2], size)
        boxes = np.broadcast_to(box, (len(labels), 1 + top.shape[1], 4))
        out = as_percent(sum_over_processes(counts_of(
            image_outcomes(top, labels, boxes, gt))), n)
        out["box"] = box.tolist()
        return out

    def extreme_images(self) -> tuple[list, list]:
        """This process's best and worst localized images (GT class), best first / worst first."""
        best = [e[2] for e in sorted(self.best, key=lambda e: e[:2], reverse=True)]
        worst = [e[2] for e in sorted(self.worst, key=lambda e: e[:2], reverse=True)]
        return best, worst

