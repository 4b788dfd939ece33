"""Brute-force references for the box rules, written independently of camjax, and the
map families the tests draw from. (The rules as their reference code writes them are in
oracle.py.)"""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np

N8 = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
N4 = [(-1, 0), (1, 0), (0, -1), (0, 1)]


def flood_components(mask: np.ndarray, connectivity: int = 8) -> list[list[tuple[int, int]]]:
    """Components of a boolean mask by BFS, in raster order of their first pixel."""
    H, W = mask.shape
    seen = np.zeros_like(mask, bool)
    steps = N8 if connectivity == 8 else N4
    comps = []
    for y in range(H):
        for x in range(W):
            if mask[y, x] and not seen[y, x]:
                seen[y, x] = True
                queue, comp = deque([(y, x)]), []
                while queue:
                    cy, cx = queue.popleft()
                    comp.append((cy, cx))
                    for dy, dx in steps:
                        ny, nx = cy + dy, cx + dx
                        if 0 <= ny < H and 0 <= nx < W and mask[ny, nx] and not seen[ny, nx]:
                            seen[ny, nx] = True
                            queue.append((ny, nx))
                comps.append(comp)
    return comps


def bbox(comp) -> tuple[int, int, int, int]:
    ys = [p[0] for p in comp]
    xs = [p[1] for p in comp]
    return min(xs), min(ys), max(xs), max(ys)


def paper_rule(m: np.ndarray, t: float) -> tuple[int, int, int, int]:
    """Largest 8-component of m > t * max (float64), ties to the first in raster order."""
    mask = m.astype(np.float64) > float(t) * float(m.max())
    comps = flood_components(mask, 8)
    if not comps:
        return (0, 0, 0, 0)
    best = max(range(len(comps)), key=lambda i: (len(comps[i]), -i))
    return bbox(comps[best])


def v2_by_components(binary: np.ndarray) -> np.ndarray:
    """All contour boxes without OpenCV: 8-components, and holes (4-connected
    background not touching the edge) one pixel larger; canonical row order."""
    H, W = binary.shape
    out = []
    for comp in flood_components(binary, 8):
        x0, y0, x1, y1 = bbox(comp)
        out.append([x0, y0, min(x1 + 1, W - 1), min(y1 + 1, H - 1)])
    for comp in flood_components(~binary, 4):
        x0, y0, x1, y1 = bbox(comp)
        if x0 == 0 or y0 == 0 or x1 == W - 1 or y1 == H - 1:
            continue
        out.append([x0 - 1, y0 - 1, min(x1 + 2, W - 1), min(y1 + 2, H - 1)])
    if not out:
        return np.zeros((1, 4), np.int64)
    out = np.asarray(out, np.int64)
    return out[np.lexsort(out.T[::-1])]


def edt_brute(binary: np.ndarray) -> np.ndarray:
    """Euclidean distance of each foreground pixel to the nearest background pixel."""
    bg = np.argwhere(~binary)
    out = np.zeros(binary.shape)
    for y, x in np.argwhere(binary):
        out[y, x] = np.sqrt(((bg - (y, x)) ** 2).sum(1).min())
    return out


def pairs(boxset, n: int, T: int) -> dict:
    """BoxSet -> {(image, threshold): (k, 4) array}."""
    out = {}
    for i in range(n):
        for j in range(T):
            sel = (boxset.image == i) & (boxset.threshold == j)
            out[i, j] = boxset.boxes[sel]
    return out


# ------------------------------------------------------------ map families
def smooth(rng, n, H, W, cells=4):
    g = rng.random((n, cells + 1, cells + 1))
    out = np.stack([cv2.resize(a, (W, H), interpolation=cv2.INTER_LINEAR) for a in g])
    lo = out.min(axis=(1, 2), keepdims=True)
    span = np.ptp(out, axis=(1, 2), keepdims=True)
    return np.where(span > 0, (out - lo) / np.where(span > 0, span, 1), 0.0)


def random_maps(rng, n, H, W):
    """A mix of map families: smooth, rings with holes, plateaus, ties, sparse
    single pixels, empty, full, noise. Values in [0, 1], float64."""
    kinds = rng.integers(0, 8, n)
    maps = np.zeros((n, H, W))
    yy, xx = np.mgrid[:H, :W]
    for i, k in enumerate(kinds):
        if k == 0:
            maps[i] = smooth(rng, 1, H, W, int(rng.integers(2, 7)))[0]
        elif k == 1:                                   # rings: holes at many levels
            cy, cx = rng.uniform(0, H), rng.uniform(0, W)
            r = np.hypot(yy - cy, xx - cx)
            maps[i] = 0.5 + 0.5 * np.cos(r / rng.uniform(1.0, 4.0))
        elif k == 2:                                   # plateaus
            maps[i] = np.round(smooth(rng, 1, H, W, 3)[0] * rng.integers(1, 5)) / 4
        elif k == 3:                                   # mirrored: equal areas (ties)
            half = rng.random((H, (W + 1) // 2)) > 0.6
            maps[i] = np.concatenate([half, half[:, ::-1]], 1)[:, :W] * 1.0
        elif k == 4:                                   # sparse single pixels
            maps[i] = (rng.random((H, W)) > 0.95) * rng.random((H, W))
        elif k == 5:
            maps[i] = 0.0                              # empty
        elif k == 6:
            maps[i] = 1.0                              # full
        else:
            maps[i] = rng.random((H, W))
    return np.clip(maps, 0, 1)
