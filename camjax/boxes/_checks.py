"""Shared by the box rules: input checks (clear errors naming the bad input). The
split of a batch over worker threads is :mod:`camjax.threads`."""
from __future__ import annotations

import numpy as np


def check_maps(maps, name: str = "maps", *, min_ndim: int = 2) -> np.ndarray:
    """A float array (..., H, W) of finite values; integer (uint8) maps are refused."""
    arr = np.asarray(maps)
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dims (..., H, W), "
                         f"got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name} must be float maps (scale uint8 heatmaps to [0, 1] first, "
                        f"or use dt_box for uint8), got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or inf values; normalise them first "
                         "(camjax.cam.normalize maps such maps to zeros)")
    return arr


def check_thresholds(thresholds, name: str = "thresholds") -> np.ndarray:
    t = np.asarray(thresholds, dtype=np.float64).ravel()
    if t.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(t)) or t.min() < 0 or t.max() > 1:
        raise ValueError(f"{name} must lie in [0, 1], got {t.min()}..{t.max()}")
    return t
