"""The paper rule for a batch of maps and thresholds, compiled: one component tree
(:mod:`camjax.boxes._unionfind`) per map answers every threshold.

:func:`paper_batch` loops over a batch inside one compiled call, reusing its work
arrays, and releases the GIL so threads share a batch (:mod:`camjax.boxes.paper`
splits it).
"""
from __future__ import annotations

import numba as nb
import numpy as np

from camjax.boxes._compiled import JIT, bucket
from camjax.boxes._unionfind import (COUNT, FIRST, HI, LO, NODES, X0, X1, Y0, Y1, tree_nodes,
                                     workspace)


@nb.njit(**JIT)
def _count_below(u, val):
    """``#{u < val}`` for sorted ``u`` (``np.searchsorted(u, val, 'left')``), by a
    binary search with a fixed step count (its comparisons compile to selects)."""
    base = 0
    n = u.size
    while n > 1:
        half = n // 2
        base = base + half if u[base + half - 1] < val else base
        n -= half
    return base + (1 if n == 1 and u[base] < val else 0)


@nb.njit(**JIT)
def paper_batch(maps, thresholds):
    """The paper rule for maps (n, H, W) at thresholds (T,) float64: (n, T, 4) boxes.

    Per map the cutoffs ``t * max`` (float64), their sorted distinct values ``u``,
    and the level image ``#{u < m}`` (pixel value in float64): the foreground
    ``m > t * max`` is ``level >= index of t's cutoff in u + 1``. The largest
    8-connected component by pixel count (ties: first pixel in raster order first)
    of every needed level, from one tree; (0, 0, 0, 0) where nothing is foreground.
    """
    n, H, W = maps.shape
    T = thresholds.size
    out = np.zeros((n, T, 4), np.int64)
    lev = np.empty((H, W), np.int64)
    level_of = np.empty(T, np.int64)
    space = workspace(H, W)
    padded = np.empty((H + 2) * (W + 2), np.int64)
    ids = np.arange(H * W)
    offsets = np.zeros(T + 3, np.int64)
    buf = np.empty(1024, np.int64)
    for b in range(n):
        m = maps[b]
        peak = np.float64(m.max())
        cuts = thresholds * peak
        u = np.unique(cuts)
        K = u.size
        for t in range(T):
            level_of[t] = np.searchsorted(u, cuts[t]) + 1
        for y in range(H):
            for x in range(W):
                lev[y, x] = _count_below(u, np.float64(m[y, x]))
        nn = tree_nodes(lev, K, 8, False, False, space, padded)
        nd = space[NODES]
        needed = np.zeros(K + 1, np.bool_)
        for v in level_of:
            needed[v] = True
        buf = bucket(nd[LO, :nn], nd[HI, :nn], ids[:nn], needed, offsets[:K + 2], buf)
        for t in range(T):
            v = level_of[t]
            win = -1
            for k in range(offsets[v], offsets[v + 1]):
                i = buf[k]
                if win < 0 or nd[COUNT, i] > nd[COUNT, win] or (
                        nd[COUNT, i] == nd[COUNT, win] and nd[FIRST, i] < nd[FIRST, win]):
                    win = i
            if win >= 0:
                out[b, t, 0] = nd[X0, win]
                out[b, t, 1] = nd[Y0, win]
                out[b, t, 2] = nd[X1, win]
                out[b, t, 3] = nd[Y1, win]
    return out
