"""The report's pictures: the gallery, the best and worst images, the threshold curves."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from camjax import viz
from camjax.data.transforms import denormalize_image


def _panel(image, cam, box, gt_boxes, upscale: int) -> np.ndarray:
    """The image (normalised model input) at the map's size with the map, the predicted
    box (red) and the ground truth (green), each pixel ``upscale`` x ``upscale``."""
    image = denormalize_image(image)
    if image.shape[:2] != cam.shape:
        import cv2
        image = cv2.resize(image, cam.shape[::-1], interpolation=cv2.INTER_LINEAR)
    panel = viz.localization_panel(image, cam, box, gt_boxes)
    return np.kron(panel, np.ones((upscale, upscale, 1), np.uint8))


def _save(fig, ax, path) -> Path:
    """A line plot's grid and legend, then the PNG at ``path``."""
    import matplotlib.pyplot as plt
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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
        ax.imshow(_panel(g["image"], g["maps"][1], g["boxes"][1], g["gt_boxes"], upscale),
                  interpolation="nearest")
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
    return _save(fig, ax, path)


def extremes_png(path, best: list, worst: list, upscale: int = 2) -> Path:
    """Two rows: the best and the worst localized images (ground-truth class's CAM)."""
    panels = []
    for item in best + worst:
        panels.append(_panel(item["image"], item["map"], item["box"], item["gt_boxes"], upscale))
    return viz.save_png(path, viz.grid(panels, max(len(best), 1)))


def faithfulness_png(path, faith: dict) -> Path:
    """The mean deletion and insertion curves (class probability against the fraction of
    pixels removed or inserted in the order of the map)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name in ("deletion", "insertion"):
        ax.plot(faith["fractions"], faith[f"{name}_curve"],
                label=f"{name} (AUC {faith[f'{name}_auc']:.3f})")
    ax.set_xlabel("fraction of pixels removed / inserted, in the map's order")
    ax.set_ylabel("top-1 class probability")
    return _save(fig, ax, path)


def sanity_png(path, results: dict) -> Path:
    """Mean rank correlation (solid) and SSIM (dashed) of each method's maps with the
    trained network's, against the layers randomised: cascading from the top (left), one
    at a time (right). ``results``: method -> the sanity scorer's result."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    first = next(iter(results.values()))
    layers = first["layers"]
    x = np.arange(len(layers))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, mode, title in ((axes[0], "cascading", "cascading (top layers up to x)"),
                            (axes[1], "independent", "independent (layer x alone)")):
        for name, r in results.items():
            line, = ax.plot(x, r[mode]["spearman"], marker=".", label=f"{name} (rank corr.)")
            ax.plot(x, r[mode]["ssim"], ls="--", color=line.get_color(), label=f"{name} (SSIM)")
        ax.axhline(first["threshold"], color="grey", lw=0.8, ls=":")
        every = max(1, len(layers) // 16)
        ax.set_xticks(x[::every], [layers[i] for i in x[::every]], rotation=60, ha="right",
                      fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(-1.05, 1.05)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("similarity to the trained network's maps")
    axes[1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
