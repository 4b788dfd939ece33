"""The localization evaluator: one jitted model + CAM function, host-side boxes, counts.

Every process evaluates its own slice of the split; the evaluator keeps counts, not
percentages, and sums them over processes, so the numbers do not depend on the
number of processes or the batch size.
"""
from __future__ import annotations

import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from camjax.boxes import largest_component_boxes
from camjax.cam import maps_at_size
from camjax.evaluation.tally import Tally
from camjax.training import mesh as mesh_lib


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


def evaluate(params, rest, batches, *, graphdef, mesh, config, num_batches=None,
             gallery_size: int = 16, wsol: bool = True) -> tuple[dict, dict]:
    """Classification and localization metrics of CAM boxes and of the centred-box baseline,
    MaxBoxAcc (V1, V2) and PxAP of the ground-truth class's CAM, per-class accuracies.

    Returns (metrics, pictures): metrics in percent with num_images; pictures holds the
    first images ("gallery") and the best and worst localized ones for the report.
    """
    k = config.get("top_k", 5)
    tally, gallery = None, []
    bar = tqdm(batches, total=num_batches, desc="evaluate", unit="batch",
               disable=not mesh_lib.is_main_process())
    t0, seen = time.perf_counter(), 0
    for _, local in bar:
        batch = mesh_lib.global_batch(mesh, {"image": local["image"], "label": local["label"]})
        logits, top, maps = localize_batch(
            params, rest, batch["image"], batch["label"], graphdef=graphdef, k=k,
            method=config.get("upsample", "bilinear"), mode=config.get("normalize", "minmax"))
        if tally is None:
            tally = Tally(logits.shape[-1], wsol=wsol, extremes=8 if gallery_size else 0)
        top, maps = mesh_lib.local_numpy(top), mesh_lib.local_numpy(maps)
        valid = local["valid"]
        labels = local["label"][valid]
        gt = [b[b[:, 0] >= 0] for b in local["boxes"][valid]]
        maps = maps[valid]
        boxes = largest_component_boxes(maps, threshold=config.get("cam_threshold", 0.2))
        masks = local["mask"][valid] if "mask" in local else None
        tally.update(top[valid], labels, boxes, gt, maps[:, 0], masks,
                     images=local["image"][valid] if gallery_size else None)
        for i in range(min(len(labels), gallery_size - len(gallery))):
            gallery.append({"image": local["image"][valid][i], "label": int(labels[i]),
                            "gt_boxes": gt[i], "top": top[valid][i], "maps": maps[i],
                            "boxes": boxes[i]})
        seen += len(labels)
        bar.set_postfix(img_per_s=f"{seen / (time.perf_counter() - t0):.0f}")
    metrics = tally.result(config.image_size)
    best, worst = tally.extreme_images()
    return metrics, {"gallery": gallery, "best": best, "worst": worst}
