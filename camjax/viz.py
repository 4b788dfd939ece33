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


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend a [0, 1] map over a uint8 (H, W, 3) image of the same size."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
    if cam.shape != image.shape[:2]:
        raise ValueError(f"cam {cam.shape} and image {image.shape[:2]} differ in size")
    heat = heat_colors(cam, cmap).astype(np.float32)
    return (alpha * heat + (1 - alpha) * image.astype(np.float32)).round().astype(np.uint8)


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
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = im
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
