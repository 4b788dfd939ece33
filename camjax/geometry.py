"""Boxes as arrays: IoU, rescaling, TFDS <-> pixel conversion (layer 0).

camjax boxes are inclusive integer pixels ``(x0, y0, x1, y1)`` (ILSVRC devkit);
the area of a box is ``(x1 - x0 + 1)(y1 - y0 + 1)`` and IoU uses that ``+1``
convention.

TFDS ``BBoxFeature`` boxes are normalised floats ``(ymin, xmin, ymax, xmax)`` with
the *edge* convention: an inclusive pixel box ``x0..x1`` of a ``W``-wide image has
``xmin = x0 / W`` and ``xmax = (x1 + 1) / W`` (same for y with ``H``). They are
converted once, at the dataset boundary. Rounding is half up (``floor(v + 0.5)``),
not numpy's half-to-even, so a box whose edge falls exactly between two pixels
always moves the same way.
"""
from __future__ import annotations

import numpy as np

from camjax.errors import UserError


def _as_boxes(boxes, name: str) -> np.ndarray:
    arr = np.asarray(boxes)
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must be (N, 4) boxes x0, y0, x1, y1; got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():   # NaN would compare false everywhere: an IoU of 0
        row = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise UserError(f"{name}[{row}] = {arr[row].tolist()} is not a finite box")
    return arr


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
    """Rescale boxes from an (H, W) image to (H', W') with int(x * new / old) (wsolevaluation).

    Both sizes must be positive and the boxes finite (UserError otherwise).
    """
    (oh, ow), (nh, nw) = old_size, new_size
    for what, size in (("old_size", (oh, ow)), ("new_size", (nh, nw))):
        if not all(np.isfinite(v) and v > 0 for v in size):
            raise UserError(f"rescale_boxes: {what} must be a positive (H, W), got {size}")
    b = np.asarray(boxes, dtype=np.float64)
    if not np.isfinite(b).all():
        raise UserError("rescale_boxes: boxes hold NaN or inf")
    # (x * new) / old, in this order, as Python's int(x * new / old) computes it
    return np.floor(b * np.array([nw, nh, nw, nh]) / np.array([ow, oh, ow, oh])).astype(np.int64)


def centred_box(width: float, height: float, size: int) -> np.ndarray:
    """The inclusive box of the given size centred in a size x size image."""
    w, h = int(round(width)), int(round(height))
    x0, y0 = (size - w) // 2, (size - h) // 2
    return np.array([x0, y0, x0 + w - 1, y0 + h - 1])


def _check_size(height, width) -> tuple[int, int]:
    h, w = int(height), int(width)
    if h != height or w != width or h < 1 or w < 1:
        raise ValueError(f"height and width must be positive integers, got {height!r}, {width!r}")
    return h, w


def _last_dim_4(arr: np.ndarray, what: str, layout: str) -> None:
    if arr.ndim < 1 or arr.shape[-1] != 4:
        raise ValueError(f"{what} must be an array of shape (..., 4) holding {layout}; "
                         f"got shape {arr.shape}")


def tfds_to_pixel_boxes(bbox, height: int, width: int) -> np.ndarray:
    """Normalised TFDS ``(ymin, xmin, ymax, xmax)`` (..., 4) -> int64 ``(x0, y0, x1, y1)`` (..., 4).

    ``x0 = round(xmin * W)``, ``x1 = round(xmax * W) - 1`` (same for y), clipped to the
    image. A box thinner than one pixel after rounding keeps one pixel (``x1 >= x0``).
    Raises ``ValueError`` for a wrong shape, a value outside [0, 1] or NaN, or
    ``ymax < ymin`` / ``xmax < xmin``.
    """
    h, w = _check_size(height, width)
    arr = np.asarray(bbox, dtype=np.float64)
    _last_dim_4(arr, "bbox", "normalised (ymin, xmin, ymax, xmax)")
    if arr.size and not np.all((arr >= 0.0) & (arr <= 1.0)):  # False for NaN too
        bad = arr[~((arr >= 0.0) & (arr <= 1.0))].ravel()[0]
        raise ValueError(f"bbox values must be normalised to [0, 1]; found {bad!r} "
                         "(pixel boxes? use them directly, or divide by the image size)")
    ymin, xmin, ymax, xmax = np.moveaxis(arr, -1, 0)
    if np.any(ymax < ymin) or np.any(xmax < xmin):
        raise ValueError("bbox must be (ymin, xmin, ymax, xmax) with ymax >= ymin and "
                         "xmax >= xmin; found a box with max < min (is it (xmin, ymin, ...)?)")
    x0 = np.floor(xmin * w + 0.5)
    y0 = np.floor(ymin * h + 0.5)
    x1 = np.floor(xmax * w + 0.5) - 1
    y1 = np.floor(ymax * h + 0.5) - 1
    x0 = np.clip(x0, 0, w - 1)
    y0 = np.clip(y0, 0, h - 1)
    x1 = np.clip(np.maximum(x1, x0), 0, w - 1)
    y1 = np.clip(np.maximum(y1, y0), 0, h - 1)
    return np.stack([x0, y0, x1, y1], axis=-1).astype(np.int64)


def pixel_to_tfds_boxes(boxes, height: int, width: int, dtype=np.float32) -> np.ndarray:
    """Inclusive ``(x0, y0, x1, y1)`` (..., 4) -> normalised ``(ymin, xmin, ymax, xmax)`` (..., 4).

    ``ymin = y0 / H``, ``xmin = x0 / W``, ``ymax = (y1 + 1) / H``, ``xmax = (x1 + 1) / W``:
    the inverse of :func:`tfds_to_pixel_boxes` (exact round trip for every box of
    the image). Raises ``ValueError`` for a wrong shape, non-integer values, a box
    outside the image or ``x1 < x0`` / ``y1 < y0``.
    """
    h, w = _check_size(height, width)
    arr = np.asarray(boxes)
    _last_dim_4(arr, "boxes", "inclusive pixel (x0, y0, x1, y1)")
    if not np.issubdtype(arr.dtype, np.integer):
        f = arr.astype(np.float64)
        if not np.all(np.isfinite(f)) or np.any(f != np.round(f)):
            raise ValueError("boxes must hold integer pixel coordinates (x0, y0, x1, y1); "
                             "got non-integer values (normalised boxes? use tfds_to_pixel_boxes)")
    arr = arr.astype(np.int64)
    x0, y0, x1, y1 = np.moveaxis(arr, -1, 0)
    if np.any(x1 < x0) or np.any(y1 < y0):
        raise ValueError("boxes must be (x0, y0, x1, y1) with x1 >= x0 and y1 >= y0")
    if np.any(x0 < 0) or np.any(y0 < 0) or np.any(x1 > w - 1) or np.any(y1 > h - 1):
        raise ValueError(f"boxes must lie inside the {h}x{w} image: 0 <= x <= {w - 1}, "
                         f"0 <= y <= {h - 1}")
    out = np.stack([y0 / h, x0 / w, (y1 + 1) / h, (x1 + 1) / w], axis=-1)
    return out.astype(dtype)
