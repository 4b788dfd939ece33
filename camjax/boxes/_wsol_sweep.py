"""The WSOL rule (V1, V2) for a batch of maps and thresholds, compiled, on the
component trees of :mod:`camjax.boxes._unionfind`.

* :func:`v2_batch` - V2: the boxes of all contours, outer borders and holes;
* :func:`v1_batch` - V1: the outer border of largest contour area.

Each loops over a batch inside one compiled call, reusing its work arrays, and
releases the GIL so threads share a batch (:mod:`camjax.boxes.wsol` splits it).
"""
from __future__ import annotations

import numba as nb
import numpy as np

from camjax.boxes._borders import outer_area2
from camjax.boxes._compiled import JIT, MASK, SHIFT, bucket, grow, needed_levels, pack
from camjax.boxes._unionfind import (E4, FIRST, HI, LO, Q2, X0, X1, Y0, Y1, level_order,
                                     sweep_sorted, tree_nodes, workspace)


# ---------------------------------------------------------------- WSOL input
@nb.njit(**JIT)
def _to_u8(m, out):
    """``out = floor(m * 255)`` (float64, as wsolevaluation) for a map in [0, 1];
    returns its peak, or -1 if a value is not finite or outside [0, 1]."""
    H, W = m.shape
    peak = 0
    for y in range(H):
        for x in range(W):
            s = np.float64(m[y, x])
            if not (0.0 <= s <= 1.0):          # also false for NaN
                return -1
            u = np.int64(s * 255.0)
            out[y, x] = u
            peak = max(peak, u)
    return peak


@nb.njit(**JIT)
def _wsol_levels(taus, peak, levels):
    """``levels[t] = int(tau * peak) + 1``: the binarisation ``u8 >= level``."""
    for t in range(taus.size):
        levels[t] = np.int64(np.floor(taus[t] * np.float64(peak))) + 1


# ---------------------------------------------------------------- WSOL V2
@nb.njit(**JIT)
def v2_batch(maps, taus):
    """All contour boxes of ``u8 >= v`` for each map and each threshold.

    ``maps`` (n, H, W) float in [0, 1], ``u8 = floor(maps * 255)``; ``taus`` (T,)
    float64, level ``v = int(tau * max(u8)) + 1``. Returns ``(boxes (M, 4),
    image (M,), thr (M,), ok)`` sorted by (image, threshold) and, inside a pair,
    lexicographically by box; a level above the map's peak gives one (0, 0, 0, 0).
    ``ok`` is False (and the rest empty) if a map has a value outside [0, 1].
    """
    n, H, W = maps.shape
    T = taus.size
    fg_space = workspace(H, W)
    bg_space = (np.empty_like(fg_space[0]), np.empty_like(fg_space[1]), fg_space[2],
                np.empty_like(fg_space[3]))          # the pixel order is shared
    img = np.empty((H, W), np.uint8)
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
        peak = _to_u8(maps[b], img)
        if peak < 0:
            return np.empty((0, 4), np.int64), out_img[:0].copy(), out_thr[:0].copy(), False
        _wsol_levels(taus, peak, lv)
        needed = needed_levels(lv, peak, 255)
        hist, start = level_order(img, 255, fg_space[2])
        nf = sweep_sorted(W, 255, 8, False, fg_space, hist, start)
        # background at v: 255 - img >= 256 - v, 4-connected; same order, levels reversed
        nb_ = sweep_sorted(W, 255, 4, False, bg_space, hist[::-1].copy(), start[::-1].copy())
        f = fg_space[3]
        g = bg_space[3]
        m = 0
        for i in range(nf):
            lo[m] = f[LO, i]
            hi[m] = f[HI, i]
            key[m] = pack(f[X0, i], f[Y0, i], min(f[X1, i] + 1, W - 1),
                           min(f[Y1, i] + 1, H - 1))
            m += 1
        for i in range(nb_):
            if g[X0, i] > 0 and g[Y0, i] > 0 and g[X1, i] < W - 1 and g[Y1, i] < H - 1:
                # a hole, level w alive for lo < w <= hi: foreground 255 - hi < v <= 255 - lo
                lo[m] = 255 - g[HI, i]
                hi[m] = 255 - g[LO, i]
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


# ---------------------------------------------------------------- WSOL V1
@nb.njit(**JIT)
def v1_batch(maps, taus):
    """The box of the largest contour of ``u8 >= v`` for each map and threshold.

    ``maps``, ``taus`` as for :func:`v2_batch`. Returns ``(boxes (n, T, 4),
    unsure (n, T) bool, levels (n, T), ok)``: ``unsure`` where two outer borders of
    different boxes share the largest area (OpenCV's order decides: the caller
    traces that level with OpenCV). A hole border never has a larger area than the
    outer border of its component, and when equal the outer one comes first in
    OpenCV's tree order, so outer borders are enough.

    Each node's area is known exactly without holes (the window sum ``Q2``); with
    holes it lies in ``[Q2, 2 * w * h]`` (``w, h`` its box's extent between pixel
    centres) and is traced only when those bounds leave the winner open.
    """
    n, H, W = maps.shape
    T = taus.size
    space = workspace(H, W)
    img = np.empty((H, W), np.uint8)
    levels = np.zeros((n, T), np.int64)
    offsets = np.zeros(258, np.int64)
    buf = np.empty(1024, np.int64)
    area = np.empty(H * W, np.int64)
    ids = np.arange(H * W)
    boxes = np.zeros((n, T, 4), np.int64)
    unsure = np.zeros((n, T), np.bool_)
    best_box = np.zeros((256, 4), np.int64)
    unsure_at = np.zeros(256, np.bool_)
    for b in range(n):
        peak = _to_u8(maps[b], img)
        if peak < 0:
            return boxes, unsure, levels, False
        _wsol_levels(taus, peak, levels[b])
        needed = needed_levels(levels[b], peak, 255)
        m = tree_nodes(img, 255, 8, False, True, space)
        nd = space[3]
        for i in range(m):
            area[i] = nd[Q2, i] if nd[E4, i] == 4 else -1     # -1: not known yet
        buf = bucket(nd[LO, :m], nd[HI, :m], ids[:m], needed, offsets, buf)
        for v in range(1, 256):
            a = offsets[v]
            e = offsets[v + 1]
            if e == a:
                continue
            # the largest lower bound, and whether another node may reach it
            lead = -1
            for k in range(a, e):
                i = buf[k]
                if lead < 0 or nd[Q2, i] > nd[Q2, lead]:
                    lead = i
            lb = nd[Q2, lead]
            open_ = False
            for k in range(a, e):
                i = buf[k]
                if i == lead:
                    continue
                ub = area[i] if area[i] >= 0 else 2 * ((nd[X1, i] - nd[X0, i])
                                                       * (nd[Y1, i] - nd[Y0, i]))
                if ub >= lb:
                    open_ = True
                    break
            win = lead
            tie = False
            if open_:
                best = -1
                for k in range(a, e):
                    i = buf[k]
                    if area[i] < 0:
                        ub = 2 * ((nd[X1, i] - nd[X0, i]) * (nd[Y1, i] - nd[Y0, i]))
                        if ub < lb:
                            continue                  # cannot win: needs no tracing
                        area[i] = outer_area2(img, nd[HI, i], nd[FIRST, i])
                    if area[i] > best:
                        best = area[i]
                        win = i
                        tie = False
                    elif area[i] == best:
                        if (nd[X0, i] != nd[X0, win] or nd[Y0, i] != nd[Y0, win]
                                or nd[X1, i] != nd[X1, win] or nd[Y1, i] != nd[Y1, win]):
                            tie = True
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
