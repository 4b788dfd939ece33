"""Drawing: CAM overlays, boxes on exact pixels, image grids (numpy in, numpy out)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

RED, GREEN, YELLOW = (255, 0, 0), (0, 255, 0), (255, 255, 0)


def heat_colors(cam: np.ndarray, cmap: str = "jet") -> np.ndarray:
    """A [0, 1] map (H, W) as uint8 RGB through a matplotlib colormap."""
    import matplotlib
    cam = np.nan_to_num(np.clip(np.asarray(cam, np.float64), 0, 1))
    return (matplotlib.colormaps[cmap](cam)[..., :3] * 255).astype(np.uint8)


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.5,
            cmap: str = "jet") -> np.ndarray:
    """Blend a [0, 1] map over a uint8 (H, W, 3) image of the same size."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
    if cam.shape != image.shape[:2]:
        raise ValueError(f"cam {cam.shape} and image {image.shape[:2]} differ in size")
    heat = heat_colors(cam, cmap).astype(np.float32)
    return (alpha * heat + (1 - alpha) * image.astype(np.float32)).round().astype(np.uint8)


def show_cam_on_image(img, mask, use_rgb: bool = False, colormap: int | None = None,
                      image_weight: float = 0.5) -> np.ndarray:
    """pytorch-grad-cam's overlay, for its users: ``mask`` (H, W) in [0, 1] through an
    OpenCV colormap (``cv2.COLORMAP_JET`` by default; BGR unless ``use_rgb``, as there),
    blended as ``(1 - image_weight) * heatmap + image_weight * img`` with ``img`` (H, W, 3)
    float in [0, 1] (a uint8 image is divided by 255 first), divided by its max, as uint8.
    camjax's images are RGB: pass ``use_rgb=True``. :func:`overlay` is camjax's own
    (matplotlib colormap, no rescaling)."""
    import cv2

    from camjax.errors import ImageError
    image = np.asarray(img)
    image = image.astype(np.float32) / 255 if image.dtype == np.uint8 else image
    mask = np.asarray(mask, np.float32)
    if image.ndim != 3 or image.shape[2] != 3 or mask.shape != image.shape[:2]:
        raise ImageError("img", f"expected (H, W, 3) and a mask of (H, W), got "
                                f"{image.shape} and {mask.shape}")
    if np.max(image) > 1 or np.min(image) < 0:
        raise ImageError("img", "a float image must lie in [0, 1]")
    if not 0 <= image_weight <= 1:
        raise ImageError("image_weight", f"must lie in [0, 1], got {image_weight}")
    heat = cv2.applyColorMap(np.uint8(255 * np.clip(mask, 0, 1)),
                             cv2.COLORMAP_JET if colormap is None else colormap)
    if use_rgb:
        heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)
    cam = (1 - image_weight) * (heat.astype(np.float32) / 255) + image_weight * image
    return np.uint8(255 * (cam / np.max(cam)))


def draw_box(image: np.ndarray, box, color=RED, thickness: int = 1) -> np.ndarray:
    """A copy of ``image`` with the inclusive box (x0, y0, x1, y1) outlined inside its pixels."""
    out = np.array(image, copy=True)
    h, w = out.shape[:2]
    x0, y0, x1, y1 = (int(v) for v in box)
    x0, x1 = max(0, min(x0, w - 1)), max(0, min(x1, w - 1))
    y0, y1 = max(0, min(y0, h - 1)), max(0, min(y1, h - 1))
    t = max(1, thickness)
    out[y0:min(y0 + t, y1 + 1), x0:x1 + 1] = color
    out[max(y1 - t + 1, y0):y1 + 1, x0:x1 + 1] = color
    out[y0:y1 + 1, x0:min(x0 + t, x1 + 1)] = color
    out[y0:y1 + 1, max(x1 - t + 1, x0):x1 + 1] = color
    return out


def grid(images, ncols: int, pad: int = 2, fill: int = 255) -> np.ndarray:
    """Tile equally sized uint8 (H, W, 3) images into rows of ``ncols``."""
    images = [np.asarray(i) for i in images]
    if not images:
        raise ValueError("grid needs at least one image")
    h, w = images[0].shape[:2]
    nrows = -(-len(images) // ncols)
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, 3), fill, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y:y + h, x:x + w] = im
    return out


def save_png(path, image: np.ndarray) -> Path:
    from PIL import Image
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(image, np.uint8)).save(path)
    return path


def localization_panel(image_u8, cam, pred_box, gt_boxes, thickness: int = 1) -> np.ndarray:
    """The paper's Figure 6 style: CAM overlay, predicted box red, ground truth green."""
    out = overlay(image_u8, cam)
    for g in np.asarray(gt_boxes).reshape(-1, 4):
        out = draw_box(out, g, GREEN, thickness)
    return draw_box(out, pred_box, RED, thickness)


# ----------------------------------------------------------------------------- figures
def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement by an integer factor (pixels stay exact squares)."""
    if int(factor) < 1:
        raise ValueError(f"factor must be a positive integer, got {factor}")
    image = np.asarray(image)
    return np.repeat(np.repeat(image, int(factor), axis=0), int(factor), axis=1)


def mask_region(image: np.ndarray, mask: np.ndarray, dim: float = 0.2,
                fill=(255, 255, 255)) -> np.ndarray:
    """The image where ``mask`` is True; elsewhere ``dim`` x image + (1 - dim) x ``fill``
    (the receptive-field segmentation of the paper's Figure 13)."""
    image = np.asarray(image)
    mask = np.asarray(mask, bool)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask {mask.shape} and image {image.shape[:2]} differ in size")
    faded = dim * image.astype(np.float32) + (1 - dim) * np.asarray(fill, np.float32)
    return np.where(mask[..., None], image, faded.round().astype(np.uint8))


def draw_boxes(image: np.ndarray, boxes, color=RED, thickness: int = 1) -> np.ndarray:
    """``draw_box`` for every inclusive (x0, y0, x1, y1) box of an (n, 4) array."""
    out = np.array(image, copy=True)
    for b in np.asarray(boxes).reshape(-1, 4):
        out = draw_box(out, b, color, thickness)
    return out


def grid_layout(n: int, ncols: int) -> list[tuple[int, int]]:
    """(row, column) of each of ``n`` panels filled row by row."""
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    return [divmod(i, ncols) for i in range(n)]


def titled_grid(path, panels, titles=None, ncols: int = 4, *, row_labels=None,
                panel_inches: float = 1.8, suptitle: str | None = None) -> Path:
    """Save uint8 panels as a matplotlib grid with a title under each panel (PNG)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = list(panels)
    if not panels:
        raise ValueError("titled_grid needs at least one panel")
    titles = list(titles) if titles is not None else [""] * len(panels)
    if len(titles) != len(panels):
        raise ValueError(f"{len(titles)} titles for {len(panels)} panels")
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_inches * ncols,
                                                    panel_inches * nrows * 1.12),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for (r, c), im, t in zip(grid_layout(len(panels), ncols), panels, titles):
        axes[r, c].imshow(im)
        axes[r, c].set_title(t, fontsize=7)
    if row_labels:
        for r, label in enumerate(row_labels[:nrows]):
            axes[r, 0].text(-0.08, 0.5, label, transform=axes[r, 0].transAxes, rotation=90,
                            va="center", ha="right", fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def line_plot(path, x, series: dict, *, xlabel: str, ylabel: str, title: str = "",
              marks: dict | None = None, points: dict | None = None) -> Path:
    """Curves ``{label: y}`` over ``x``; ``marks`` {label: x} draws vertical lines,
    ``points`` {label: (x, y)} single markers (e.g. fixed-setting baselines)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for label, y in series.items():
        ax.plot(x, y, marker=".", label=label)
    for label, xv in (marks or {}).items():
        ax.axvline(xv, color="gray", linestyle="--", linewidth=1)
        ax.text(xv, ax.get_ylim()[0], f" {label}", fontsize=7, color="gray", va="bottom")
    for label, (xv, yv) in (points or {}).items():
        ax.plot([xv], [yv], marker="*", markersize=10, linestyle="none", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
