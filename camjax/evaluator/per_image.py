"""Per-image results of an evaluation: ``per_image.csv`` beside metrics.json, one row per
image of the split in split order (every process's rows gathered).

Columns: ``image`` (the record's id: a path for folder and wsolevaluation sources),
``index`` (its position in the split), ``label`` and ``label_name``, ``predicted`` (the
top-k classes, best first, space separated) and ``top1_correct``; with boxes, for each
operating point P (``paper_rule``, ``val_threshold``): ``P_x0 .. P_y1`` the box of the
ground-truth class's map (inclusive, in the ``eval_map_size`` frame the metrics use),
``P_iou`` its best IoU with the image's ground-truth boxes, ``P_hit`` whether that is
>= 0.5 (GT-known), ``P_loc_top1`` whether the top-1 class is right and its box hits.
"""
from __future__ import annotations

import csv
import io

import numpy as np

from camjax import distributed
from camjax.evaluation.metrics import box_hits
from camjax.geometry import iou


class PerImage:
    """Rows collected batch by batch (this process's images); :meth:`csv_text` gathers
    every process's rows."""

    def __init__(self, points: list[str] | None = None, class_names=None):
        self.points = list(points or [])
        self.class_names = list(class_names) if class_names is not None else None
        self.rows: list[list] = []

    def columns(self) -> list[str]:
        cols = ["image", "index", "label", "label_name", "predicted", "top1_correct"]
        for p in self.points:
            cols += [f"{p}_{c}" for c in ("x0", "y0", "x1", "y1", "iou", "hit", "loc_top1")]
        return cols

    def _name(self, label: int) -> str:
        names = self.class_names
        return names[label] if names is not None and 0 <= label < len(names) else ""

    def add(self, names, indices, labels, top, boxes=None, gt=None) -> None:
        """One batch of valid images: ``boxes`` (B, 1 + k, P, 4) (the label's box, then
        the top-k boxes, at each point) and ``gt`` a list of (n_i, 4), or both None."""
        for i, (name, index, label) in enumerate(zip(names, indices, labels)):
            label = int(label)
            row = [str(name), int(index), label, self._name(label),
                   " ".join(str(int(c)) for c in top[i]), int(top[i][0] == label)]
            for p in range(len(self.points) if boxes is not None else 0):
                box = np.asarray(boxes[i, 0, p])
                best = float(iou(box[None], gt[i]).max()) if len(gt[i]) else 0.0
                top1 = np.asarray(boxes[i:i + 1, 1:2, p])
                loc = bool(top[i][0] == label and box_hits(top1, [gt[i]])[0, 0])
                row += [*(int(v) for v in box), f"{best:.6f}", int(best >= 0.5), int(loc)]
            self.rows.append(row)

    def csv_text(self) -> str:
        """The CSV of every process's rows, in split order (a collective)."""
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(self.rows)
        parts = distributed.gather_to_main(buffer.getvalue())
        rows = [r for part in parts for r in csv.reader(io.StringIO(part))]
        rows.sort(key=lambda r: int(r[1]))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns())
        writer.writerows(rows)
        return out.getvalue()
