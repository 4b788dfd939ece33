"""Input checks shared by the metrics: score maps, ground-truth boxes and IoU thresholds.

A box the metrics cannot score honestly (float coordinates that would be truncated,
x1 < x0, outside the score map) is an error naming the image and the box, not a
silently wrong number.
"""
from __future__ import annotations

import numpy as np

from camjax.errors import UserError


def gt_box_list(gt_boxes, n: int, map_hw: tuple[int, int] | None = None) -> list[np.ndarray]:
    """``gt_boxes`` as N (n_i, 4) int64 arrays of inclusive pixel boxes x0, y0, x1, y1;
    with ``map_hw`` = (H, W) every box must lie in the map: 0 <= x0 <= x1 <= W - 1 and
    0 <= y0 <= y1 <= H - 1."""
    if len(gt_boxes) != n:
        raise ValueError(f"gt_boxes has {len(gt_boxes)} entries for {n} score maps")
    out = []
    for i, g in enumerate(gt_boxes):
        g = np.asarray(g)
        if g.size == 0:
            raise ValueError(f"gt_boxes[{i}] is empty: every image needs a ground-truth box")
        g = g.reshape(-1, 4) if g.ndim == 1 else g
        if g.ndim != 2 or g.shape[1] != 4:
            raise ValueError(f"gt_boxes[{i}] must be (n, 4) boxes, got shape {g.shape}")
        if not np.issubdtype(g.dtype, np.integer):
            raise UserError(f"gt_boxes[{i}] must hold integer pixel boxes, got dtype {g.dtype} "
                            "(normalised boxes? convert them with "
                            "camjax.geometry.tfds_to_pixel_boxes)")
        g = g.astype(np.int64)
        x0, y0, x1, y1 = g.T
        flipped = (x1 < x0) | (y1 < y0)
        if flipped.any():
            raise UserError(f"gt_boxes[{i}] has box {g[flipped][0].tolist()} with x1 < x0 or "
                            "y1 < y0 (boxes are x0, y0, x1, y1)")
        if map_hw is not None:
            h, w = map_hw
            outside = (x0 < 0) | (y0 < 0) | (x1 > w - 1) | (y1 > h - 1)
            if outside.any():
                raise UserError(f"gt_boxes[{i}] has box {g[outside][0].tolist()} outside the "
                                f"{h}x{w} score map (rescale boxes to the map first: "
                                "camjax.geometry.rescale_boxes)")
        out.append(g)
    return out


def iou_threshold_array(iou_thresholds) -> np.ndarray:
    """IoU thresholds as a float array, each in (0, 1]."""
    t = np.array(iou_thresholds, np.float64).ravel()
    if t.size and not ((t > 0) & (t <= 1)).all():   # False for NaN too
        bad = t[~((t > 0) & (t <= 1))][0]
        raise UserError(f"iou_thresholds must lie in (0, 1], got {bad}")
    return t


def scoremap_array(scoremaps) -> np.ndarray:
    """(N, H, W) float maps; their values are checked where they are read."""
    s = np.asarray(scoremaps)
    if s.ndim == 2:
        s = s[None]
    if s.ndim != 3:
        raise ValueError(f"scoremaps must be (N, H, W), got shape {s.shape}")
    if not np.issubdtype(s.dtype, np.floating):
        raise TypeError(f"scoremaps must be float maps in [0, 1], got dtype {s.dtype}")
    return s


def check_scoremaps(scoremaps) -> np.ndarray:
    """(N, H, W) float maps in [0, 1] without NaN (wsolevaluation's check_scoremap_validity)."""
    s = np.asarray(scoremaps)
    if s.ndim == 2:
        s = s[None]
    if s.ndim != 3:
        raise ValueError(f"scoremaps must be (N, H, W), got shape {s.shape}")
    if not np.issubdtype(s.dtype, np.floating):
        raise TypeError(f"scoremaps must be float maps in [0, 1], got dtype {s.dtype}")
    if s.size and (np.isnan(s).any() or s.min() < 0 or s.max() > 1):
        raise ValueError("scoremaps must lie in [0, 1] without NaN (normalise them first, "
                         "e.g. camjax.cam.normalize(maps, mode='minmax'))")
    return s
