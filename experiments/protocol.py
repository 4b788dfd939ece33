"""The WSOL protocol's operating point in the ablations: the threshold chosen on val.

`camjax evaluate` picks the CAM threshold on ``config.val_split`` (train-fullsup: images
with boxes, disjoint from test): the threshold of the best MaxBoxAcc (V1: largest
contour, IoU 0.5) of the ground-truth class's maps there
(``camjax.training.evaluate.val_threshold``), then scores the paper rule's boxes on
test at that threshold and at ``config.cam_threshold`` (0.2). A trained model's final
evaluation holds both points (``metrics["operating_points"]``); for other maps
(another method of ``camjax.methods``, CAMs from other weights) this module runs the
same choice through the same function, given a predict function.
"""
from __future__ import annotations

import numpy as np

import common
from camjax.boxes import largest_component_boxes
from camjax.evaluation.metrics import box_hits

MARGIN = 5.0   # points: "much better" in the paper's sense (Table 2: about 10 points)


def operating_points(metrics) -> dict:
    """``metrics["operating_points"]`` of a trained model, both points present."""
    points = metrics.get("operating_points", {})
    if "val_threshold" not in points:
        raise ValueError("the model's final evaluation has no val-chosen operating point: "
                         "its config needs val_split set to a split with boxes "
                         "(experiments/configs/ablation_shapes.py has val_split = 'val'); "
                         "delete its workdir in $CAMJAX_EXPERIMENTS_CACHE if it predates that")
    return points


def choose_on_val(predict, config, val_src) -> float:
    """The val-chosen threshold of ``predict``'s maps, as the evaluation job chooses it.

    ``predict(images, labels) -> (logits, top, maps)`` is the evaluation job's predict
    function (maps of ``[label, top-1, ...]``, normalised to [0, 1] at map size)."""
    from camjax.training.evaluate import val_threshold
    threshold, summary = val_threshold(predict, val_src, config)
    print(f"[val] {summary['num_images']} {summary['split']} images: MaxBoxAcc "
          f"{summary['max_box_acc']:.1f} at threshold {threshold:.2f}")
    return threshold


def method_threshold(config, workdir, num_classes: int, method: str, val_src) -> float:
    """The val-chosen threshold of a trained workdir's maps by ``camjax.methods`` method
    ``method``: the predict function ``camjax evaluate`` builds for that method."""
    from camjax.training import restore_for_inference
    from camjax.training.inference import predict_function
    config = config.copy_and_resolve_references()
    config.cam_method = method
    config.top_k = 1     # the choice reads the label's map only; fewer maps, same threshold
    graphdef, state, mesh = restore_for_inference(config, workdir, num_classes)
    predict = predict_function(graphdef, (state.params, state.rest), mesh, config)
    return choose_on_val(predict, config, val_src)


def rule_scores(maps, gt, right1, threshold) -> dict:
    """The paper rule at ``threshold`` on collected maps ``(N, >=2, H, W)`` of [label,
    top-1]: GT-known and top-1 localization accuracy (%), mean box area / GT area."""
    boxes = largest_component_boxes(np.asarray(maps)[:, :2], threshold=float(threshold))
    hits = box_hits(boxes, gt)
    return {"threshold": float(threshold), "gt_known": 100 * float(hits[:, 0].mean()),
            "loc1": 100 * float((hits[:, 1] & right1).mean()),
            "area": float(common.area_ratio(boxes[:, 0], gt).mean()), "boxes": boxes}


def verdict(a: float, b: float) -> str:
    """Whether "a is much better than b" holds, for accuracies in points."""
    d = a - b
    if d >= MARGIN:
        return f"holds ({a:.1f} vs {b:.1f}, +{d:.1f} points)"
    if d <= -MARGIN:
        return f"is reversed ({a:.1f} vs {b:.1f}, {d:.1f} points)"
    return f"does not hold: within {MARGIN:.0f} points ({a:.1f} vs {b:.1f}, {d:+.1f})"
