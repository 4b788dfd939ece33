"""Shared by the box rules: input checks (clear errors naming the bad input) and the
split of a batch over worker threads."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

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


def default_workers() -> int:
    """Worker threads when the caller gives none: the CPU count, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


def _chunks(n: int, parts: int) -> list[tuple[int, int]]:
    bounds = np.linspace(0, n, parts + 1).astype(int)
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def map_chunks(fn, n: int, workers: int | None) -> list:
    """``fn(start, stop)`` over contiguous chunks of range(n), one per worker thread
    (``workers`` None: :func:`default_workers`); the results in order. The box rules'
    compiled and OpenCV calls release the GIL, so the threads run in parallel. An
    empty batch gives ``[fn(0, 0)]``."""
    workers = default_workers() if workers is None else int(workers)
    parts = _chunks(n, max(1, min(workers, n))) or [(0, n)]
    if len(parts) == 1:
        return [fn(*parts[0])]
    with ThreadPoolExecutor(len(parts)) as pool:
        return list(pool.map(lambda ab: fn(*ab), parts))
