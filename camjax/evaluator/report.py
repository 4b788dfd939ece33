"""The evaluation report: metrics.json, and report.md that leads with the gallery, then one
table of CAM against the baselines at both operating points, then the WSOL metrics."""
from __future__ import annotations

import json
from pathlib import Path

from camjax.evaluator.figures import curves_png, extremes_png, faithfulness_png, gallery_png
from camjax.evaluator.sections import write_sections

POINT_ROWS = (("gt_known_acc", "GT-known accuracy"),
              ("loc_top1_err", "localization top-1 error"),
              ("loc_top5_err", "localization top-5 error"))


def _point_label(name: str, point: dict) -> str:
    if name == "paper_rule":
        return f"paper rule ({point['threshold']:.0%} of the max)"
    if name == "val_threshold":
        return f"threshold chosen on val ({point['threshold']:.2f})"
    return f"{name} ({point['threshold']:.2f})"


def top5_counts(metrics: dict) -> bool:
    """Whether top-5 means anything: with 5 classes or fewer it is always right."""
    return metrics.get("num_classes", 1000) > 5


def metrics_table(metrics: dict) -> str:
    """CAM against the centred box (and the centre Gaussian) at every operating point,
    plus the threshold-free MaxBoxAccV2 and PxAP (top-5 rows only with more than 5
    classes)."""
    cam, points = metrics["cam"], metrics.get("operating_points", {})
    gauss = metrics.get("centre_gaussian", {})
    top5 = top5_counts(metrics)
    cls = (f"| classification top-1 / top-5 error | {cam['cls_top1_err']:.1f} / "
           f"{cam['cls_top5_err']:.1f} |" if top5 else
           f"| classification top-1 error | {cam['cls_top1_err']:.1f} |")
    lines = ["| metric (%) | CAM | centred box | centre Gaussian |", "|---|---:|---:|---:|",
             f"{cls} (same classes) | |"]
    rows = POINT_ROWS if top5 else [r for r in POINT_ROWS if r[0] != "loc_top5_err"]
    for name, point in points.items():
        for key, label in rows:
            lines.append(f"| {label}, {_point_label(name, point)} | {point['cam'][key]:.1f} | "
                         f"{point['baseline'][key]:.1f} | |")
    if "wsol_v2" in metrics:
        v2 = metrics["wsol_v2"]
        keys = sorted(v2["max_box_acc"], key=int)
        parts = " / ".join(f"{v2['max_box_acc'][k]:.1f}" for k in keys)
        g2 = f"{gauss['wsol_v2']['max_box_acc_v2']:.1f}" if "wsol_v2" in gauss else ""
        lines.append(f"| MaxBoxAccV2 (IoU 0.3 / 0.5 / 0.7: {parts}) | "
                     f"{v2['max_box_acc_v2']:.1f} | | {g2} |")
    if "pxap" in metrics:
        gp = f"{gauss['pxap']:.1f}" if "pxap" in gauss else ""
        lines.append(f"| PxAP | {metrics['pxap']:.1f} | | {gp} |")
    lines.append(f"| images | {cam['num_images']} | | |")
    return "\n".join(lines)


def wsol_table(metrics: dict) -> str:
    v2, v1 = metrics["wsol_v2"], metrics["wsol_v1"]
    g = metrics.get("centre_gaussian", {})
    lines = ["| WSOL metric (%) | CAM | best CAM threshold | centre Gaussian |",
             "|---|---:|---:|---:|"]
    for key in sorted(v2["max_box_acc"], key=int):
        gv = f"{g['wsol_v2']['max_box_acc'][key]:.2f}" if g else ""
        lines.append(f"| MaxBoxAcc IoU {int(key) / 100:.1f} (all contours) | "
                     f"{v2['max_box_acc'][key]:.2f} | {v2['best_threshold'][key]:.2f} | {gv} |")
    gv = f"{g['wsol_v2']['max_box_acc_v2']:.2f}" if g else ""
    lines.append(f"| **MaxBoxAccV2** (mean of the three) | {v2['max_box_acc_v2']:.2f} | | {gv} |")
    (k50,) = list(v1["max_box_acc"])
    gv = f"{g['wsol_v1']['max_box_acc'][k50]:.2f}" if g else ""
    lines.append(f"| MaxBoxAcc (V1: largest contour, IoU 0.5) | {v1['max_box_acc'][k50]:.2f} | "
                 f"{v1['best_threshold'][k50]:.2f} | {gv} |")
    if "pxap" in metrics:
        gv = f"{g['pxap']:.2f}" if "pxap" in g else ""
        lines.append(f"| PxAP (segmentation masks) | {metrics['pxap']:.2f} | | {gv} |")
    return "\n".join(lines)


def per_class_table(per_class: list, class_names, n: int = 10) -> str:
    rows = sorted(per_class, key=lambda r: (-r["gt_known_acc"], r["class"]))
    if len(rows) > 2 * n:
        rows = rows[:n] + rows[-n:]
    lines = ["| class | images | GT-known acc | loc top-1 acc |", "|---|---:|---:|---:|"]
    lines += [f"| {class_names[r['class']]} | {r['images']} | {r['gt_known_acc']:.1f} | "
              f"{r['loc_top1_acc']:.1f} |" for r in rows]
    return "\n".join(lines)


def _notes(metrics: dict) -> list[str]:
    """The report's lines on how the split was chosen and what training skipped."""
    out = [metrics["note"] + "."] if metrics.get("note") else []
    if metrics.get("skipped_train_images"):
        out.append(f"{metrics['skipped_train_images']} unreadable training image(s) were "
                   "skipped (config.skip_bad_images; metrics.jsonl counts them per step).")
    return out


def _protocol_text(metrics: dict) -> str:
    points = metrics.get("operating_points", {})
    paper = points.get("paper_rule", {"threshold": 0.2})
    text = (f"Boxes by the paper rule: the largest connected component above a fraction of "
            f"the CAM's max, at the paper's fixed {paper['threshold']:.0%}")
    if "val_threshold" in points:
        val = metrics.get("val", {})
        text += (f" and at {points['val_threshold']['threshold']:.2f}, the threshold of the "
                 f"best MaxBoxAcc on the train-fullsup split `{val.get('split', 'val')}` "
                 f"({val.get('num_images', '?')} images; chosen there, never on this split)")
    text += (". IoU with the +1 convention. The centred box is, for every image, the box of "
             "mean ground-truth size centred in the map, with the CAM's class predictions; "
             "the centre Gaussian is one fixed isotropic Gaussian map, swept like the CAMs.")
    if "val_threshold" in points and points["val_threshold"]["cam"]["gt_known_acc"] > \
            points["paper_rule"]["cam"]["gt_known_acc"] + 10:
        text += (" The paper's 20% rule is low here because these CAMs stay above a fifth of "
                 "their peak well outside the object, so its boxes are several times the "
                 "object's area: the right threshold depends on the network and the data "
                 "(experiments/results/threshold/README.md in the camjax repository measures "
                 "the whole curve).")
    return text


def write(out_dir, metrics: dict, pictures, *, title: str, class_names) -> Path:
    """metrics.json, report.md and its PNGs in ``out_dir``; ``title`` names the model and
    the evaluated dataset and split."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(pictures, list):
        pictures = {"gallery": pictures}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    parts = [f"# camjax evaluation: {title}", ""]
    if pictures.get("gallery"):
        gallery_png(out_dir / "gallery.png", pictures["gallery"], class_names)
        parts += ["![gallery](gallery.png)", "",
                  "Test images with the top-1 class's CAM; predicted box red, ground truth "
                  "green.", ""]
    parts += [*_notes(metrics),
              f"Step {metrics.get('step', '?')}. {_protocol_text(metrics)}", ""]
    parts += write_sections(out_dir, metrics)
    if "methods" in metrics:
        first = next(iter(metrics["methods"]))
        parts += [f"The tables below are {first}'s maps' (every method's numbers are in "
                  "metrics.json under `methods`).", ""]
    parts += [metrics_table(metrics), ""]
    if "wsol_v2" in metrics:
        curves_png(out_dir / "threshold_curves.png", metrics)
        parts += ["## WSOL benchmark metrics (wsolevaluation's definitions)", "",
                  "On the ground-truth class's min-max normalised CAM, thresholds "
                  f"0 to 1 in steps of {_step(metrics)}.", "",
                  wsol_table(metrics), "", "![accuracy against threshold](threshold_curves.png)",
                  ""]
    if "faithfulness" in metrics:
        f = metrics["faithfulness"]
        faithfulness_png(out_dir / "faithfulness.png", f)
        parts += ["## Faithfulness of the top-1 class's map", "",
                  "| metric | value |", "|---|---:|",
                  f"| average drop in confidence (%, lower is better) | {f['average_drop']:.2f} |",
                  f"| increase in confidence (%, higher is better) | "
                  f"{f['increase_in_confidence']:.2f} |",
                  f"| deletion AUC (lower is better) | {f['deletion_auc']:.4f} |",
                  f"| insertion AUC (higher is better) | {f['insertion_auc']:.4f} |", "",
                  "![deletion and insertion curves](faithfulness.png)", ""]
    if pictures.get("best"):
        extremes_png(out_dir / "best_worst.png", pictures["best"], pictures["worst"])
        parts += ["## Best and worst localized images", "",
                  "Top row: highest IoU of the ground-truth class's box; bottom row: lowest.", "",
                  "![best and worst](best_worst.png)", ""]
    points = metrics.get("operating_points", {})
    name = "val_threshold" if "val_threshold" in points else "paper_rule"
    per_class = points.get(name, {}).get("per_class", metrics.get("per_class"))
    if per_class:
        parts += [f"## Per class (best and worst by GT-known accuracy, "
                  f"{_point_label(name, points[name]) if name in points else 'paper rule'})", "",
                  per_class_table(per_class, class_names), ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(parts))
    return path


def _step(metrics: dict) -> str:
    t = metrics["wsol_v2"]["cam_thresholds"]
    return f"{t[1] - t[0]:.3g}" if len(t) > 1 else "1"


def write_metrics(out_dir, metrics: dict) -> Path:
    """metrics.json alone (an interrupted evaluation: no report of partial numbers)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "metrics.json"
    path.write_text(json.dumps(metrics, indent=2))
    return path


def write_classification(out_dir, metrics: dict, pictures=None, *, title: str,
                         class_names=None) -> Path:
    """metrics.json and report.md of a split without boxes: the gallery of maps (no
    ground truth to score them against) and the classification errors."""
    out = Path(out_dir)
    write_metrics(out, metrics)
    c = metrics["classification"]
    rows = ["| metric (%) | value |", "|---|---:|",
            f"| classification top-1 error | {c['cls_top1_err']:.2f} |"]
    if top5_counts(metrics):
        rows.append(f"| classification top-5 error | {c['cls_top5_err']:.2f} |")
    table = "\n".join([*rows, f"| images | {c['num_images']} |"])
    parts = [f"# camjax evaluation: {title}", ""]
    if (pictures or {}).get("gallery"):
        gallery_png(out / "gallery.png", pictures["gallery"], class_names)
        parts += ["![gallery](gallery.png)", "",
                  "Images of the split with the top-1 class's map and its box (red, the "
                  "paper rule); the split has no boxes to score them against.", ""]
    if str(metrics.get("dataset", "")).startswith("imagenet2012"):
        how = ("imagenet2012 in TFDS carries no boxes; evaluate localization with the "
               "ILSVRC validation XML, see docs/evaluation.md")
    else:
        how = ("to score localization, give boxes joined by file name with "
               "--config.eval_annotations, see docs/datasets.md")
    parts += [*_notes(metrics), f"Step {metrics['step']}. Localization "
              f"{metrics['localization']} ({how}).", "", table, ""]
    path = out / "report.md"
    path.write_text("\n".join(parts))
    print(table)
    return path
