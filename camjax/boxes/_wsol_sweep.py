"""The WSOL rule's boxes (V1, V2) for a batch of maps and thresholds, compiled, on the
component trees of :mod:`camjax.boxes._wsol_tree`.

* :func:`v2_batch` - V2: the boxes of all contours, outer borders and holes;
* :func:`v1_batch` - V1: the outer border of largest contour area.

Each loops over a batch inside one compiled call, reusing its work arrays, and
releases the GIL so threads share a batch (:mod:`camjax.boxes.wsol` splits it).
The metrics do not need the boxes themselves: :mod:`camjax.boxes._wsol_iou` reads
the same trees straight into IoUs.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from camjax.boxes._compiled import JIT, MASK, SHIFT, bucket, grow, needed_levels, pack
from camjax.boxes._unionfind import HI, LO, NODES, X0, X1, Y0, Y1
from camjax.boxes._wsol_tree import (bg_tree, fg_tree, hole_top, known_areas,
                                     prepare, v1_winner)


@nb.njit(**JIT)
def v2_batch(maps, taus, space):
    """All contour boxes of ``u8 >= v`` for each map and each threshold.

    ``maps`` (n, H, W) float in [0, 1], ``u8 = floor(maps * 255)``; ``taus`` (T,)
    float64, level ``v = int(tau * max(u8)) + 1``. Returns ``(boxes (M, 4),
    image (M,), thr (M,), ok)`` sorted by (image, threshold) and, inside a pair,
    lexicographically by box; a level above the map's peak gives one (0, 0, 0, 0).
    ``ok`` is False (and the rest empty) if a map has a value outside [0, 1].
    """
    n, H, W = maps.shape
    T = taus.size
    lv = np.empty(T, np.int64)
    lo = np.empty(2 * H * W, np.int64)
    hi = np.empty(2 * H * W, np.int64)
    key = np.empty(2 * H * W, np.int64)
    offsets = np.zeros(258, np.int64)
    buf = np.empty(1024, np.int64)
    out_key = np.empty(max(1024, 4 * n * T), np.int64)   # packed boxes; 0 is (0, 0, 0, 0)
    out_img = np.empty(out_key.size, np.int64)
    out_thr = np.empty(out_key.size, np.int64)
    r = 0
    for b in range(n):
        peak, hist, start = prepare(maps[b], taus, space, lv, True)
        if peak < 0:
            return np.empty((0, 4), np.int64), out_img[:0].copy(), out_thr[:0].copy(), False
        needed = needed_levels(lv, peak, 255)
        nf = fg_tree(W, space, hist, start, True)
        f = space[0][NODES]
        m = 0
        for i in range(nf):
            lo[m] = f[LO, i]
            hi[m] = f[HI, i]
            key[m] = pack(f[X0, i], f[Y0, i], min(f[X1, i] + 1, W - 1),
                          min(f[Y1, i] + 1, H - 1))
            m += 1
        top = hole_top(f, nf, needed)
        if top > 0:
            g = space[1][NODES]
            for i in range(bg_tree(W, space, hist, start, top)):
                # alive at background levels lo < w <= hi: foreground 255 - hi < v <= 255 - lo
                lo[m] = 255 - g[HI, i]
                hi[m] = min(255 - g[LO, i], top)
                key[m] = pack(g[X0, i] - 1, g[Y0, i] - 1, min(g[X1, i] + 2, W - 1),
                              min(g[Y1, i] + 2, H - 1))
                m += 1
        buf = bucket(lo[:m], hi[:m], key[:m], needed, offsets, buf)
        for v in range(1, 256):
            if offsets[v + 1] - offsets[v] > 1:
                buf[offsets[v]:offsets[v + 1]].sort()
        total = 0
        for v in lv:
            total += offsets[v + 1] - offsets[v] if 1 <= v <= peak else 1
        if r + total > out_key.size:
            size = max(r + total, 2 * out_key.size)
            out_key = grow(out_key, size)
            out_img = grow(out_img, size)
            out_thr = grow(out_thr, size)
        for t in range(T):
            v = lv[t]
            if 1 <= v <= peak:
                for k in range(offsets[v], offsets[v + 1]):
                    out_key[r] = buf[k]
                    out_img[r] = b
                    out_thr[r] = t
                    r += 1
            else:
                out_key[r] = 0
                out_img[r] = b
                out_thr[r] = t
                r += 1
    boxes = np.empty((r, 4), np.int64)
    for k in range(r):
        c = out_key[k]
        boxes[k, 0] = c >> (3 * SHIFT)
        boxes[k, 1] = (c >> (2 * SHIFT)) & MASK
        boxes[k, 2] = (c >> SHIFT) & MASK
        boxes[k, 3] = c & MASK
    return boxes, out_img[:r].copy(), out_thr[:r].copy(), True


@nb.njit(**JIT)
def v1_batch(maps, taus, space):
    """The box of the largest contour of ``u8 >= v`` for each map and threshold.

    ``maps``, ``taus`` as for :func:`v2_batch`. Returns ``(boxes (n, T, 4),
    unsure (n, T) bool, levels (n, T), ok)``: ``unsure`` where two outer borders of
    different boxes share the largest area (OpenCV's order decides: the caller
    traces that level with OpenCV). A hole border never has a larger area than the
    outer border of its component, and when equal the outer one comes first in
    OpenCV's tree order, so outer borders are enough.
    """
    n, H, W = maps.shape
    T = taus.size
    levels = np.zeros((n, T), np.int64)
    offsets = np.zeros(258, np.int64)
    buf = np.empty(1024, np.int64)
    area = np.empty(H * W, np.int64)
    boxes = np.zeros((n, T, 4), np.int64)
    unsure = np.zeros((n, T), np.bool_)
    best_box = np.zeros((256, 4), np.int64)
    unsure_at = np.zeros(256, np.bool_)
    for b in range(n):
        peak, hist, start = prepare(maps[b], taus, space, levels[b], False)
        if peak < 0:
            return boxes, unsure, levels, False
        needed = needed_levels(levels[b], peak, 255)
        m = fg_tree(W, space, hist, start, True)
        nd = space[0][NODES]
        known_areas(nd, m, area)
        buf = bucket(nd[LO, :m], nd[HI, :m], np.arange(m), needed, offsets, buf)
        for v in range(1, 256):
            if offsets[v + 1] > offsets[v]:
                win, tie = v1_winner(nd, buf, offsets[v], offsets[v + 1], area, space[2], H, W)
                best_box[v, 0] = nd[X0, win]
                best_box[v, 1] = nd[Y0, win]
                best_box[v, 2] = min(nd[X1, win] + 1, W - 1)
                best_box[v, 3] = min(nd[Y1, win] + 1, H - 1)
                unsure_at[v] = tie
        for t in range(T):
            v = levels[b, t]
            if 1 <= v <= peak:
                boxes[b, t] = best_box[v]
                unsure[b, t] = unsure_at[v]
    return boxes, unsure, levels, True
