"""IoU of inclusive integer boxes (x0, y0, x1, y1), ILSVRC devkit +1 convention."""
from __future__ import annotations

import numpy as np


def _as_boxes(boxes, name: str) -> np.ndarray:
    arr = np.asarray(boxes)
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must be (N, 4) boxes x0, y0, x1, y1; got shape {arr.shape}")
    return arr.astype(np.float64)


def _iou(ax0, ay0, ax1, ay1, bx0, by0, bx1, by1):
    """IoU of broadcastable box coordinates, +1 convention, zero union -> 0."""
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0) + 1, 0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0) + 1, 0, None)
    inter = iw * ih
    union = (ax1 - ax0 + 1) * (ay1 - ay0 + 1) + (bx1 - bx0 + 1) * (by1 - by0 + 1) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def iou(a, b) -> np.ndarray:
    """(N, 4), (M, 4) -> (N, M). area = (x1 - x0 + 1)(y1 - y0 + 1); union <= 0 gives 0."""
    a, b = _as_boxes(a, "a"), _as_boxes(b, "b")
    return _iou(*(a[:, i, None] for i in range(4)), *(b[None, :, i] for i in range(4)))


def paired_iou(a, b) -> np.ndarray:
    """(P, 4), (P, 4) -> (P,): IoU of a[i] with b[i], same convention as :func:`iou`."""
    a, b = _as_boxes(a, "a"), _as_boxes(b, "b")
    return _iou(*(a[:, i] for i in range(4)), *(b[:, i] for i in range(4)))


def rescale_boxes(boxes, old_size, new_size) -> np.ndarray:
    """Rescale boxes from an (H, W) image to (H', W') with int(x * new / old) (wsolevaluation)."""
    (oh, ow), (nh, nw) = old_size, new_size
    b = np.asarray(boxes, dtype=np.float64)
    # (x * new) / old, in this order, as Python's int(x * new / old) computes it
    return np.floor(b * np.array([nw, nh, nw, nh]) / np.array([ow, oh, ow, oh])).astype(np.int64)
