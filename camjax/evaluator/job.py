"""The evaluation job: run a predict function over a split's batches, boxes on the host,
counts in a :class:`~camjax.evaluator.tally.Tally`.

The job knows nothing of checkpoints, configs or meshes: it receives a predict function
and the batches. A trained workdir and a pretrained classifier are evaluated by the same
code; only the predict function differs (``camjax.training.evaluate`` builds them).

* ``predict(images, labels) -> (logits (B, C), top (B, k), maps (B, 1 + k, H, W))``:
  normalised maps at image size of ``[label, top-1, ..., top-k]`` (e.g.
  :func:`camjax.cam.predict` with ``labels``). Outputs may be global arrays sharded
  along ``data``: the job keeps this process's rows.
* ``batches`` yields ``(index, local batch)`` with ``image``, ``label``, ``valid``,
  ``boxes`` (padded with -1) and optionally ``mask`` (``camjax.data.pipeline.eval_batches``).

Every process evaluates its own slice of the split; the tally keeps counts, not
percentages, and sums them over processes, so the numbers do not depend on the
number of processes or the batch size.

Under ``camjax.signals.StopSignals`` (``camjax evaluate``) a SIGINT / SIGTERM stops the
loops after the batch in flight: the metrics are those of the images done and carry
``"interrupted": "SIGINT"`` (or ``"SIGTERM"``).
"""
from __future__ import annotations

import time

import numpy as np
from tqdm.auto import tqdm

from camjax import distributed, signals
from camjax.boxes import largest_component_boxes
from camjax.evaluator.per_image import PerImage
from camjax.evaluator.tally import Tally


def localization(predict, batches, *, num_classes: int, map_size: int,
                 points: dict | None = None, cam_curve_interval: float = 0.01,
                 num_batches: int | None = None, gallery_size: int = 16,
                 wsol: bool = True, faithfulness=None,
                 per_image: PerImage | None = None) -> tuple[dict, dict]:
    """Classification and localization metrics of CAM boxes at each operating point
    (``points``: name -> CAM threshold of the paper rule, default ``{"paper_rule": 0.2}``)
    and of the centred-box baseline; MaxBoxAcc (V1, V2) and PxAP of the ground-truth
    class's map and of the centre Gaussian; per-class accuracies.

    ``faithfulness``: an optional :class:`~camjax.evaluator.faithful.Faithfulness` fed the
    top-1 class's maps. Maps and ground truth are at ``map_size`` x ``map_size``. Returns (metrics,
    pictures): metrics in percent with num_images; pictures holds the first images
    ("gallery", boxes at the last point) and the best and worst localized ones.
    ``per_image``: a :class:`~camjax.evaluator.per_image.PerImage` given each image's
    row (its ``points`` are ``points``' names).
    """
    points = dict(points or {"paper_rule": 0.2})
    tally = Tally(num_classes, points=points, wsol=wsol, cam_curve_interval=cam_curve_interval,
                  extremes=8 if gallery_size else 0)
    gallery = []
    bar = tqdm(batches, total=num_batches, desc="evaluate", unit="batch",
               disable=not distributed.is_main_process())
    t0, seen, stopped = time.perf_counter(), 0, None
    for _, local in bar:
        if (stopped := signals.requested()) is not None:
            break
        _, top, maps = predict(local["image"], local["label"])
        top, maps = distributed.local_numpy(top), distributed.local_numpy(maps)
        valid = local["valid"]
        labels = local["label"][valid]
        gt = [b[b[:, 0] >= 0] for b in local["boxes"][valid]] if "boxes" in local else None
        top, maps = top[valid], maps[valid]
        boxes = largest_component_boxes(maps, threshold=list(points.values()))
        masks = local["mask"][valid] if "mask" in local else None
        images = local["image"][valid] if gallery_size else None
        tally.update(top, labels, boxes, gt, maps[:, 0], masks, images=images)
        if faithfulness is not None:
            faithfulness.update(local["image"][valid], maps[:, 1], top[:, 0])
        if per_image is not None:
            per_image.add(local["file_name"][valid], local["index"][valid], labels, top,
                          boxes if gt is not None else None, gt)
        for i in range(min(len(labels), gallery_size - len(gallery))):
            gallery.append({"image": images[i], "label": int(labels[i]),
                            "gt_boxes": gt[i] if gt is not None else np.zeros((0, 4), int),
                            "top": top[i], "maps": maps[i], "boxes": boxes[i, :, -1]})
        seen += len(labels)
        bar.set_postfix(img_per_s=f"{seen / (time.perf_counter() - t0):.0f}")
    bar.close()
    metrics = tally.result(map_size)
    metrics["num_classes"] = int(num_classes)
    if stopped is not None:
        metrics["interrupted"] = stopped.signal_name
    if faithfulness is not None:
        metrics["faithfulness"] = faithfulness.result()
    if tally.has_boxes:
        best, worst = tally.extreme_images()
    else:
        best, worst = [], []
    return metrics, {"gallery": gallery, "best": best, "worst": worst}


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
