"""The evaluation report: metrics.json, report.md with a metrics table and pictures."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from camjax import viz
from camjax.data.transforms import denormalize_image

ROWS = (("cls_top1_err", "classification top-1 error"),
        ("cls_top5_err", "classification top-5 error"),
        ("loc_top1_err", "localization top-1 error (IoU >= 0.5)"),
        ("loc_top5_err", "localization top-5 error (IoU >= 0.5)"),
        ("gt_known_acc", "GT-known localization accuracy"))


def metrics_table(metrics: dict) -> str:
    cam, base = metrics["cam"], metrics["baseline"]
    lines = ["| metric (%) | CAM | centred-box baseline |", "|---|---:|---:|"]
    for key, name in ROWS:
        lines.append(f"| {name} | {cam[key]:.2f} | {base[key]:.2f} |")
    lines.append(f"| images | {cam['num_images']} | {base['num_images']} |")
    return "\n".join(lines)


def gallery_png(path, gallery, class_names, upscale: int = 2) -> Path:
    """Each test image with its top-1 CAM, the predicted box (red) and ground truth (green)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(gallery)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, g in zip(axes.ravel(), gallery):
        image = denormalize_image(g["image"])
        panel = viz.localization_panel(image, g["maps"][1], g["boxes"][1], g["gt_boxes"])
        ax.imshow(np.kron(panel, np.ones((upscale, upscale, 1), np.uint8)), interpolation="nearest")
        pred, true = class_names[int(g["top"][0])], class_names[g["label"]]
        ax.set_title(f"true: {true}\npred: {pred}", fontsize=9,
                     color="black" if pred == true else "firebrick")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def curves_png(path, metrics: dict) -> Path:
    """Box accuracy against the CAM threshold at IoU 0.3 / 0.5 / 0.7 (MaxBoxAccV2's curves)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    v2 = metrics["wsol_v2"]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for key, curve in v2["curves"].items():
        ax.plot(v2["cam_thresholds"], curve, label=f"IoU >= 0.{int(key) // 10}")
        best = v2["best_threshold"][key]
        ax.plot([best], [v2["max_box_acc"][key]], "o", color=ax.lines[-1].get_color())
    ax.set_xlabel("CAM threshold (fraction of the map's max)")
    ax.set_ylabel("box accuracy (%)")
    ax.set_title(f"MaxBoxAccV2 = {v2['max_box_acc_v2']:.1f}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def extremes_png(path, best: list, worst: list, upscale: int = 2) -> Path:
    """Two rows: the best and the worst localized images (ground-truth class's CAM)."""
    panels = []
    for item in best + worst:
        image = denormalize_image(item["image"])
        panel = viz.localization_panel(image, item["map"], item["box"], item["gt_boxes"])
        panels.append(np.kron(panel, np.ones((upscale, upscale, 1), np.uint8)))
    return viz.save_png(path, viz.grid(panels, max(len(best), 1)))


def wsol_table(metrics: dict) -> str:
    v2, v1 = metrics["wsol_v2"], metrics["wsol_v1"]
    lines = ["| WSOL metric (%) | value | best CAM threshold |", "|---|---:|---:|"]
    for key in sorted(v2["max_box_acc"], key=int):
        lines.append(f"| MaxBoxAcc IoU {int(key) / 100:.1f} (all contours) | "
                     f"{v2['max_box_acc'][key]:.2f} | {v2['best_threshold'][key]:.2f} |")
    lines.append(f"| **MaxBoxAccV2** (mean of the three) | {v2['max_box_acc_v2']:.2f} | |")
    (k50,) = list(v1["max_box_acc"])
    lines.append(f"| MaxBoxAcc (V1: largest contour, IoU 0.5) | {v1['max_box_acc'][k50]:.2f} | "
                 f"{v1['best_threshold'][k50]:.2f} |")
    if "pxap" in metrics:
        lines.append(f"| PxAP (segmentation masks) | {metrics['pxap']:.2f} | |")
    return "\n".join(lines)


def per_class_table(metrics: dict, class_names, n: int = 10) -> str:
    rows = sorted(metrics["per_class"], key=lambda r: (-r["gt_known_acc"], r["class"]))
    if len(rows) > 2 * n:
        rows = rows[:n] + rows[-n:]
    lines = ["| class | images | GT-known acc | loc top-1 acc |", "|---|---:|---:|---:|"]
    lines += [f"| {class_names[r['class']]} | {r['images']} | {r['gt_known_acc']:.1f} | "
              f"{r['loc_top1_acc']:.1f} |" for r in rows]
    return "\n".join(lines)


def write(out_dir, metrics: dict, pictures, *, title: str, class_names,
          cam_threshold: float) -> Path:
    """metrics.json, report.md and its PNGs in ``out_dir``; ``title`` names the model and
    the evaluated dataset and split."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(pictures, list):
        pictures = {"gallery": pictures}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    parts = [f"# camjax evaluation: {title}", "",
             f"Step {metrics.get('step', '?')}; boxes by the paper rule (largest connected "
             f"component above {cam_threshold:.0%} of the CAM's max); "
             "IoU with the +1 convention. The baseline predicts, for every image, the box of "
             "mean ground-truth size centred in the image, with the CAM's class predictions.", "",
             metrics_table(metrics), ""]
    if "wsol_v2" in metrics:
        curves_png(out_dir / "threshold_curves.png", metrics)
        parts += ["## WSOL benchmark metrics (wsolevaluation's definitions)", "",
                  "On the ground-truth class's min-max normalised CAM, "
                  "thresholds 0.00 to 0.99.", "",
                  wsol_table(metrics), "", "![accuracy against threshold](threshold_curves.png)",
                  ""]
    if pictures.get("gallery"):
        gallery_png(out_dir / "gallery.png", pictures["gallery"], class_names)
        parts += ["## Test images", "",
                  "Top-1 class CAM overlaid; predicted box red, ground truth green.", "",
                  "![gallery](gallery.png)", ""]
    if pictures.get("best"):
        extremes_png(out_dir / "best_worst.png", pictures["best"], pictures["worst"])
        parts += ["## Best and worst localized images", "",
                  "Top row: highest IoU of the ground-truth class's box; bottom row: lowest.", "",
                  "![best and worst](best_worst.png)", ""]
    if metrics.get("per_class"):
        parts += ["## Per class (best and worst by GT-known accuracy)", "",
                  per_class_table(metrics, class_names), ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(parts))
    return path


def write_classification(out_dir, metrics: dict, *, title: str) -> Path:
    """metrics.json and report.md of a split evaluated for classification only."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    c = metrics["classification"]
    table = "\n".join([
        "| metric (%) | value |", "|---|---:|",
        f"| classification top-1 error | {c['cls_top1_err']:.2f} |",
        f"| classification top-5 error | {c['cls_top5_err']:.2f} |",
        f"| images | {c['num_images']} |"])
    path = out / "report.md"
    path.write_text(
        f"# camjax evaluation: {title}\n\nStep {metrics['step']}. Localization "
        f"{metrics['localization']} (imagenet2012 in TFDS carries no boxes; evaluate "
        "localization with the ILSVRC validation XML, see docs/evaluation.md).\n\n"
        f"{table}\n")
    print(table)
    return path
