"""The localization evaluator: one jitted model + CAM function, host-side boxes, counts.

Every process evaluates its own slice of the split; the evaluator keeps counts, not
percentages, and sums them over processes, so the numbers do not depend on the
number of processes or the batch size.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from camjax.boxes import largest_component_boxes
from camjax.cam import maps_at_size
from camjax.evaluation.metrics import box_hits
from camjax.training import mesh as mesh_lib

COUNTS = ("cls_top1_wrong", "cls_top5_wrong", "loc_top1_wrong", "loc_top5_wrong",
          "gt_known_correct")


@partial(jax.jit, static_argnames=("graphdef", "k", "method", "mode"))
def localize_batch(params, rest, images, labels, *, graphdef, k, method, mode):
    """Logits, top-k classes, and normalised maps at image size for [label, top-k]."""
    model = nnx.merge(graphdef, params, rest)
    logits, features = model(images)
    top = jax.lax.top_k(logits, k)[1]
    classes = jnp.concatenate([labels[:, None], top], axis=1)
    weights = model.head.classifier.kernel[...]
    maps = maps_at_size(features, weights, classes, images.shape[1:3], method=method, mode=mode)
    return logits, top, maps


def centred_box(width: float, height: float, size: int) -> np.ndarray:
    """The inclusive box of the given size centred in a size x size image."""
    w, h = int(round(width)), int(round(height))
    x0, y0 = (size - w) // 2, (size - h) // 2
    return np.array([x0, y0, x0 + w - 1, y0 + h - 1])


def image_counts(top, labels, boxes, gt) -> dict:
    """Per-metric counts over a batch. ``boxes`` (B, 1 + k, 4): the label's box then the
    top-k boxes; ``gt`` a list of (n_i, 4) boxes."""
    hits = box_hits(boxes, gt)                       # (B, 1 + k)
    right = top == labels[:, None]                   # (B, k)
    return {"cls_top1_wrong": int(np.sum(~right[:, 0])),
            "cls_top5_wrong": int(np.sum(~right[:, :5].any(1))),
            "loc_top1_wrong": int(np.sum(~(right[:, 0] & hits[:, 1]))),
            "loc_top5_wrong": int(np.sum(~(right[:, :5] & hits[:, 1:6]).any(1))),
            "gt_known_correct": int(np.sum(hits[:, 0]))}


def _as_percent(counts: dict, n: int) -> dict:
    out = {k.replace("_wrong", "_err").replace("_correct", "_acc"): 100.0 * v / max(n, 1)
           for k, v in counts.items()}
    out["num_images"] = int(n)
    return out


def evaluate(params, rest, batches, *, graphdef, mesh, config, num_batches=None,
             gallery_size: int = 16) -> tuple[dict, list]:
    """Classification + localization metrics of CAM boxes and of the centred-box baseline.

    Returns (metrics, gallery): metrics["cam"] and metrics["baseline"] hold errors and
    accuracies in percent with num_images; gallery holds the first images for the report.
    """
    k, size = config.get("top_k", 5), config.image_size
    counts = dict.fromkeys(COUNTS, 0)
    kept = {"top": [], "labels": [], "gt": []}
    gallery = []
    bar = tqdm(batches, total=num_batches, desc="evaluate", unit="batch",
               disable=not mesh_lib.is_main_process())
    for _, local in bar:
        batch = mesh_lib.global_batch(mesh, {"image": local["image"], "label": local["label"]})
        _, top, maps = localize_batch(params, rest, batch["image"], batch["label"],
                                      graphdef=graphdef, k=k, method=config.get("upsample", "bilinear"),
                                      mode=config.get("normalize", "minmax"))
        top, maps = mesh_lib.local_numpy(top), mesh_lib.local_numpy(maps)
        valid = local["valid"]
        labels = local["label"][valid]
        gt = [b[b[:, 0] >= 0] for b in local["boxes"][valid]]
        boxes = largest_component_boxes(maps[valid], threshold=config.get("cam_threshold", 0.2))
        for key, v in image_counts(top[valid], labels, boxes, gt).items():
            counts[key] += v
        kept["top"].append(top[valid])
        kept["labels"].append(labels)
        kept["gt"].extend(gt)
        for i in np.flatnonzero(valid)[:max(0, gallery_size - len(gallery))]:
            gallery.append({"image": local["image"][i], "label": int(local["label"][i]),
                            "gt_boxes": local["boxes"][i][local["boxes"][i][:, 0] >= 0],
                            "top": top[i], "maps": maps[i], "boxes": boxes[np.sum(valid[:i])]})
        bar.set_postfix(images=sum(len(x) for x in kept["labels"]))
    top, labels, gt = np.concatenate(kept["top"]), np.concatenate(kept["labels"]), kept["gt"]
    n = int(mesh_lib.sum_over_processes(np.array([len(labels)]))[0])
    totals = mesh_lib.sum_over_processes(np.array([counts[c] for c in COUNTS]))
    metrics = {"cam": _as_percent(dict(zip(COUNTS, totals)), n),
               "baseline": _baseline(top, labels, gt, size, n)}
    return metrics, gallery


def _baseline(top, labels, gt, size, n) -> dict:
    """The box of mean ground-truth size centred in the image, for every class."""
    wh = np.concatenate([g[:, 2:] - g[:, :2] + 1 for g in gt]).astype(np.float64)
    sums = mesh_lib.sum_over_processes(np.array([wh[:, 0].sum(), wh[:, 1].sum(), len(wh)]))
    box = centred_box(sums[0] / sums[2], sums[1] / sums[2], size)
    boxes = np.broadcast_to(box, (len(labels), 1 + top.shape[1], 4))
    c = image_counts(top, labels, boxes, gt)
    totals = mesh_lib.sum_over_processes(np.array([c[k] for k in COUNTS]))
    out = _as_percent(dict(zip(COUNTS, totals)), n)
    out["box"] = box.tolist()
    return out
