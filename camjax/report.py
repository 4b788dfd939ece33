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


def write(out_dir, metrics: dict, gallery: list, config, class_names) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    parts = [f"# camjax evaluation: {config.model} ({config.pooling.upper()}) on "
             f"{config.dataset} / {config.eval_split}", "",
             f"Step {metrics.get('step', '?')}; boxes by the paper rule (largest connected "
             f"component above {config.get('cam_threshold', 0.2):.0%} of the CAM's max); "
             "IoU with the +1 convention. The baseline predicts, for every image, the box of "
             "mean ground-truth size centred in the image, with the CAM's class predictions.", "",
             metrics_table(metrics), ""]
    if gallery:
        gallery_png(out_dir / "gallery.png", gallery, class_names)
        parts += ["## Test images", "",
                  "Top-1 class CAM overlaid; predicted box red, ground truth green.", "",
                  "![gallery](gallery.png)", ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(parts))
    return path
