"""The evaluation job: run predict functions over a split's batches, boxes on the host,
counts in a :class:`~camjax.evaluator.tally.Tally` and the chosen scorers.

The job knows nothing of checkpoints, configs or meshes: it receives predict functions
and the batches. A trained workdir and a pretrained classifier are evaluated by the same
code; only the predict function differs (``camjax.training.evaluate`` builds them).

* ``predict(images, labels) -> (logits (B, C), top (B, k), maps (B, 1 + k, H, W))``:
  normalised maps at image size of ``[label, top-1, ..., top-k]`` (e.g.
  :func:`camjax.engine.predict` with ``labels``). Outputs may be global arrays sharded
  along ``data``: the job keeps this process's rows.
* ``batches`` yields ``(index, local batch)`` with ``image``, ``label``, ``valid``,
  ``boxes`` (padded with -1) and optionally ``mask`` (``camjax.data.pipeline.eval_batches``).
* Several map methods (:func:`compare`) are *lanes*: each its predict function, operating
  points and scorers (``evaluator.scorers``), all fed the same batches in one pass.

Every process evaluates its own slice of the split; the tally and the scorers keep counts
and sums, not percentages, and sum them over processes, so the numbers do not depend on
the number of processes or the batch size.

Under ``camjax.signals.StopSignals`` (``camjax evaluate``) a SIGINT / SIGTERM stops the
loops after the batch in flight: the metrics are those of the images done and carry
``"interrupted": "SIGINT"`` (or ``"SIGTERM"``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import jax
import numpy as np
from tqdm.auto import tqdm

from camjax import distributed, signals
from camjax.boxes import largest_component_boxes
from camjax.evaluator.per_image import PerImage
from camjax.evaluator.scorers import Batch
from camjax.evaluator.tally import Tally


@dataclass
class Lane:
    """One map method in the job: its predict function, its operating points (name ->
    CAM threshold of the paper rule, default ``{"paper_rule": 0.2}``) and scorers; its
    :class:`~camjax.evaluator.per_image.PerImage`, if any, is given each image's row."""
    predict: Callable
    points: dict | None = None
    scorers: list = field(default_factory=list)
    per_image: PerImage | None = None


def localization(predict, batches, *, num_classes: int, map_size: int,
                 points: dict | None = None, cam_curve_interval: float = 0.01,
                 num_batches: int | None = None, gallery_size: int = 16,
                 wsol: bool = True, scorers=(),
                 per_image: PerImage | None = None) -> tuple[dict, dict]:
    """Classification and localization metrics of CAM boxes at each operating point
    (``points``: name -> CAM threshold of the paper rule, default ``{"paper_rule": 0.2}``)
    and of the centred-box baseline; MaxBoxAcc (V1, V2) and PxAP of the ground-truth
    class's map and of the centre Gaussian; per-class accuracies; and each scorer's
    result under its ``key``.

    Maps and ground truth are at ``map_size`` x ``map_size``. Returns (metrics,
    pictures): metrics in percent with num_images; pictures holds the first images
    ("gallery", boxes at the last point) and the best and worst localized ones.
    ``per_image``: a :class:`~camjax.evaluator.per_image.PerImage` given each image's
    row (its ``points`` are ``points``' names).
    """
    return compare({"": Lane(predict, points, list(scorers), per_image)}, batches,
                   num_classes=num_classes, map_size=map_size,
                   cam_curve_interval=cam_curve_interval, num_batches=num_batches,
                   gallery_size=gallery_size, wsol=wsol)[""]


def _indices(step: int, n: int) -> np.ndarray:
    """The split positions of a local batch's rows (eval_batches: process p of P takes
    elements p, p + P, ...)."""
    procs = jax.process_count()
    return (step * n + np.arange(n)) * procs + jax.process_index()


def compare(lanes: dict, batches, *, num_classes: int, map_size: int,
            cam_curve_interval: float = 0.01, num_batches: int | None = None,
            gallery_size: int = 16, wsol: bool = True, overlap: bool = True) -> dict:
    """:func:`localization` of every lane (name -> :class:`Lane`) on the same batches, in
    one pass; ``{name: (metrics, pictures)}``. A stop signal ends the pass between
    batches (every lane's metrics then carry ``interrupted``).

    ``overlap``: each batch's predict calls are dispatched (asynchronously) before the
    previous batch's host work (boxes, counts, scorers), so that work runs while the
    device computes the next maps; False: one batch after the other (bench/evaluate.py
    measures both). The results are the same."""
    tallies = {name: Tally(num_classes, points=dict(lane.points or {"paper_rule": 0.2}),
                           wsol=wsol, cam_curve_interval=cam_curve_interval,
                           extremes=8 if gallery_size else 0) for name, lane in lanes.items()}
    galleries: dict[str, list] = {name: [] for name in lanes}
    bar = tqdm(batches, total=num_batches, desc="evaluate", unit="batch",
               disable=not distributed.is_main_process())
    t0, seen, stopped, pending = time.perf_counter(), 0, None, None

    def host_work(step, local, outputs) -> int:
        valid = local["valid"]
        labels = local["label"][valid]
        gt = [b[b[:, 0] >= 0] for b in local["boxes"][valid]] if "boxes" in local else None
        masks = local["mask"][valid] if "mask" in local else None
        images = local["image"][valid]
        indices = (local["index"] if "index" in local else _indices(step, len(valid)))[valid]
        for name, lane in lanes.items():
            _, top, maps = outputs[name]
            top, maps = distributed.local_numpy(top)[valid], distributed.local_numpy(maps)[valid]
            tally = tallies[name]
            gallery = galleries[name]
            # paper-rule boxes: scored with boxes, drawn in the gallery (not for PxAP alone)
            boxes = (largest_component_boxes(maps, threshold=list(tally.points.values()))
                     if gt is not None or len(gallery) < gallery_size else None)
            tally.update(top, labels, boxes, gt, maps[:, 0], masks,
                         images=images if gallery_size else None)
            batch = Batch(images, labels, top, maps, gt, masks, indices, local)
            for scorer in lane.scorers:
                scorer.update(batch)
            if lane.per_image is not None:
                lane.per_image.add(local["file_name"][valid], indices, labels, top,
                                   boxes if gt is not None else None, gt)
            for i in range(min(len(labels), gallery_size - len(gallery))):
                gallery.append({"image": images[i], "label": int(labels[i]),
                                "gt_boxes": gt[i] if gt is not None else np.zeros((0, 4), int),
                                "top": top[i], "maps": maps[i], "boxes": boxes[i, :, -1]})
        return len(labels)

    for step, local in bar:
        if (stopped := signals.requested()) is not None:
            break
        outputs = {name: lane.predict(local["image"], local["label"])
                   for name, lane in lanes.items()}       # dispatched, not waited for
        if not overlap:
            seen += host_work(step, local, outputs)
        else:
            if pending is not None:
                seen += host_work(*pending)
            pending = step, local, outputs
        bar.set_postfix(img_per_s=f"{seen / (time.perf_counter() - t0):.0f}")
    if pending is not None:         # the last batch (or the one in flight at a stop)
        seen += host_work(*pending)
    bar.close()
    out = {}
    for name, lane in lanes.items():       # collectives: every process in the same order
        tally = tallies[name]
        metrics = tally.result(map_size)
        metrics["num_classes"] = int(num_classes)
        if stopped is not None:
            metrics["interrupted"] = stopped.signal_name
        for scorer in lane.scorers:
            metrics[scorer.key] = scorer.result()
        best, worst = tally.extreme_images() if tally.has_boxes else ([], [])
        out[name] = (metrics, {"gallery": galleries[name], "best": best, "worst": worst})
    return out


def classification(top_k, batches, *, num_batches: int | None = None,
                   per_image: PerImage | None = None) -> dict:
    """Top-1 / top-5 classification errors (percent) over the valid rows of ``batches``.

    ``top_k(images) -> (B, k)`` class indices, best first (k >= 1; top-5 uses the first 5).
    ``per_image``: given each image's row.
    """
    counts = np.zeros(3, np.int64)     # top-1 wrong, top-5 wrong, images
    bar = tqdm(batches, total=num_batches, desc="evaluate", unit="batch",
               disable=not distributed.is_main_process())
    stopped = None
    for _, local in bar:
        if (stopped := signals.requested()) is not None:
            break
        top = distributed.local_numpy(top_k(local["image"]))
        valid = local["valid"]
        right = top[valid][:, :5] == local["label"][valid, None]
        counts += [np.sum(~right[:, 0]), np.sum(~right.any(1)), int(valid.sum())]
        if per_image is not None:
            per_image.add(local["file_name"][valid], local["index"][valid],
                          local["label"][valid], top[valid])
    bar.close()
    top1, top5, n = distributed.sum_over_processes(counts)
    out = {"cls_top1_err": 100.0 * top1 / max(n, 1), "cls_top5_err": 100.0 * top5 / max(n, 1),
           "num_images": int(n)}
    if stopped is not None:
        out["interrupted"] = stopped.signal_name
    return out


def gallery(predict, batches, *, size: int, threshold: float) -> list[dict]:
    """The first ``size`` images of ``batches`` with their maps and paper-rule boxes at
    ``threshold``, for a split without ground truth (the report's gallery)."""
    out = []
    for _, local in batches:
        _, top, maps = predict(local["image"], local["label"])
        top, maps = distributed.local_numpy(top), distributed.local_numpy(maps)
        valid = local["valid"]
        top, maps, labels = top[valid], maps[valid], local["label"][valid]
        boxes = largest_component_boxes(maps, threshold=threshold)
        for i in range(min(len(labels), size - len(out))):
            out.append({"image": local["image"][valid][i], "label": int(labels[i]),
                        "gt_boxes": np.zeros((0, 4), int), "top": top[i], "maps": maps[i],
                        "boxes": boxes[i]})
        if len(out) >= size:
            break
    return out
