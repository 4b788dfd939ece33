"""Compiled component trees (numba): one union-find sweep per image for every level.

For an integer image ``lev`` (values 0..K) the foreground at level ``v`` (1..K) is
``lev >= v``. The sets are nested, so their connected components form a tree
(the max-tree). :func:`tree_nodes` adds the pixels sorted by level, from the top
(a counting sort), to a union-find over the pixel grid that keeps, per root, the
component's bounding box, pixel count, first pixel in raster order and two sums
over the 2x2 windows it meets (twice the polygon area of its outer border when it
has no hole, and its Euler number). After the pixels of level ``v`` are in, every
component that gained pixels at ``v`` (new, grown, or merged) gets a new node with
``hi = v``; the nodes it replaces are closed with ``lo = v``. A node is one
component, alive (unchanged) for the levels ``lo < v <= hi``; ``lo = 0`` for
nodes alive down to level 1.

On top of the tree, per image and for the levels a threshold list needs:

* :func:`v2_batch` - the WSOL rule V2: the boxes of all contours = the outer
  borders (8-connected components of ``u8 >= v``) and the holes (4-connected
  components of ``u8 < v`` not touching the image edge), from two trees;
* :func:`v1_batch` - the WSOL rule V1: the outer border of largest
  ``cv2.contourArea``. The area is the window sum for a component without holes;
  for one with holes (whose area is at least the window sum and at most its box's)
  the border is followed as OpenCV does (Suzuki-Abe) and the shoelace formula
  summed, only when the bounds cannot decide. Levels whose two largest outer
  borders have different boxes are flagged for OpenCV (its order decides);
* :func:`paper_batch` - the paper rule: the largest component by pixel count,
  ties to the first pixel in raster order.

The ``*_batch`` functions loop over a batch inside one compiled call, reusing
their work arrays from image to image, and release the GIL (``nogil``), so
threads share a batch. Compiled on first use and cached on disk (``cache=True``:
in ``__pycache__`` next to this file, or numba's user cache directory where that
is read-only); a cold compile takes several seconds (tens on a loaded machine).
"""
from __future__ import annotations

import numba as nb
import numpy as np

from camjax.boxes.tree import RING, _TABLES

_JIT = dict(nogil=True, cache=True)
_SHIFT = 16   # box coordinates packed in one int64 sort key: needs H, W <= 65535
_MASK = (1 << _SHIFT) - 1

# 2x2 windows of pixel centres, mask bits: top-left 1, top-right 2, bottom-left 4,
# bottom-right 8. _Q2: twice the area of the convex hull of the window's pixels
# (a triangle for 3, the square for 4); _E4: four times Gray's bit-quad Euler
# number for 8-connectivity (+1 for one pixel, -1 for three, -2 for a diagonal pair).
_POP = np.array([bin(m).count("1") for m in range(16)])
_Q2 = np.where(_POP == 3, 1, np.where(_POP == 4, 2, 0)).astype(np.int64)
_E4 = np.where(_POP == 1, 1, np.where(_POP == 3, -1, 0)).astype(np.int64)
_E4[[0b0110, 0b1001]] = -2


def _window_deltas():
    """(256,) each: the change of the _Q2 and _E4 sums when a pixel is added, for each
    mask of its ring neighbours (RING order) already present; the four windows
    holding the pixel, as (top-left, top-right, bottom-left, bottom-right) ring
    positions, -1 for the pixel itself."""
    windows = ((7, 0, 6, -1), (0, 1, -1, 2), (6, -1, 5, 4), (-1, 2, 4, 3))
    dq = np.zeros(256, np.int64)
    de = np.zeros(256, np.int64)
    for ring in range(256):
        for win in windows:
            before = sum(1 << b for b, i in enumerate(win) if i >= 0 and ring >> i & 1)
            after = before | sum(1 << b for b, i in enumerate(win) if i < 0)
            dq[ring] += _Q2[after] - _Q2[before]
            de[ring] += _E4[after] - _E4[before]
    return dq, de


_DQ2, _DE4 = _window_deltas()
# per mask of present ring neighbours: one ring position per group of them that is
# connected inside the 3x3 window (-1 pads); one union per group is enough
_GROUPS8 = _TABLES[8].astype(np.int64)
_GROUPS4 = _TABLES[4].astype(np.int64)


_RING_DY = np.array([dy for dy, _ in RING], np.int64)
_RING_DX = np.array([dx for _, dx in RING], np.int64)

# node fields: rows of the node table
LO, HI, X0, Y0, X1, Y1, COUNT, FIRST, Q2, E4 = range(10)


@nb.njit(**_JIT)
def _find(parent, x):
    p = parent[x]
    if p == x:
        return x
    if parent[p] == p:
        return p
    while parent[x] != x:
        parent[x] = parent[parent[x]]        # path halving
        x = parent[x]
    return x


# per-root record columns (int32)
_BX0, _BY0, _BX1, _BY1, _CNT, _FST, _CUR, _RQ2, _RE4 = range(9)


@nb.njit(**_JIT)
def workspace(H, W):
    """Work arrays of :func:`tree_nodes` for (H, W) images, reusable image to image:
    (union-find parents ((H+2)(W+2),) int32, per-root records ((H+2)(W+2), 10) int32,
    pixel order and scratch (4, H*W) int32, node table (10, H*W) int64)."""
    Np = (H + 2) * (W + 2)
    return (np.empty(Np, np.int32), np.empty((Np, 10), np.int32),
            np.empty((4, H * W), np.int32), np.empty((10, H * W), np.int64))


@nb.njit(**_JIT)
def level_order(lev, K, ordr):
    """Counting sort of the pixels of ``lev`` (H, W), values 0..K, by level descending
    and in raster order inside a level, into ``ordr`` (3, H*W) (padded index, y, x).
    Returns ``(hist, start)``: level v's pixels are ``start[v]:start[v] + hist[v]``.
    The order of ``K - lev`` is the same blocks with the levels reversed."""
    H, W = lev.shape
    Wp = W + 2
    order, oy, ox = ordr[0], ordr[1], ordr[2]
    hist = np.zeros(K + 1, np.int64)
    for y in range(H):
        for x in range(W):
            hist[lev[y, x]] += 1
    start = np.zeros(K + 1, np.int64)
    acc = 0
    for v in range(K, -1, -1):
        start[v] = acc
        acc += hist[v]
    fill = start.copy()
    for y in range(H):
        for x in range(W):
            v = lev[y, x]
            k = fill[v]
            order[k] = (y + 1) * Wp + x + 1     # padded index: the frame is never added
            oy[k] = y
            ox[k] = x
            fill[v] += 1
    return hist, start


@nb.njit(**_JIT)
def tree_nodes(lev, K, conn, invert, windows, space):
    """The component tree of one level image ``lev`` (H, W), values 0..K.

    ``conn`` 4 or 8; ``invert``: use ``K - lev`` as the level image; ``space`` from
    :func:`workspace`. Returns the number of nodes ``n``; the nodes are the columns
    ``:n`` of the node table ``space[3]``, rows ``LO, HI, X0, Y0, X1, Y1, COUNT,
    FIRST, Q2, E4`` (see the module docstring). With ``windows`` (8-connectivity),
    ``Q2`` and ``E4`` are the sums of ``_Q2`` and ``_E4`` over the 2x2 windows
    meeting the component: ``E4 = 4 * (1 - holes)``, and for a component without
    holes ``Q2`` is twice the area of its outer border (``cv2.contourArea``);
    zeros otherwise.
    """
    hist, start = level_order(lev, K, space[2])
    if invert:
        hist = hist[::-1].copy()
        start = start[::-1].copy()
    return sweep_sorted(lev.shape[1], K, conn, windows, space, hist, start)


@nb.njit(**_JIT)
def sweep_sorted(W, K, conn, windows, space, hist, start):
    """The union-find sweep of :func:`tree_nodes` over pixels already sorted by
    :func:`level_order` into ``space[2]``; ``hist``, ``start`` index the levels."""
    Wp = W + 2
    parent, rec, ordr, nodes = space
    order, oy, ox = ordr[0], ordr[1], ordr[2]
    parent[:] = -1                             # -1: not added (yet)
    ring = np.empty(8, np.int64)
    for i in range(8):
        ring[i] = _RING_DY[i] * Wp + _RING_DX[i]
    r0, r1, r2, r3, r4, r5, r6, r7 = (ring[0], ring[1], ring[2], ring[3], ring[4],
                                      ring[5], ring[6], ring[7])
    groups = _GROUPS8 if conn == 8 else _GROUPS4
    n_nodes = 0
    touched = ordr[3]                          # roots whose component changed at v
    for v in range(K, 0, -1):
        s = start[v]
        e = s + hist[v]
        nt = 0
        for k in range(s, e):
            P = np.int64(order[k])
            y = oy[k]
            x = ox[k]
            am = ((parent[P + r0] >= 0) * 1 | (parent[P + r1] >= 0) * 2    # ring
                  | (parent[P + r2] >= 0) * 4 | (parent[P + r3] >= 0) * 8    # neighbours
                  | (parent[P + r4] >= 0) * 16 | (parent[P + r5] >= 0) * 32  # already in
                  | (parent[P + r6] >= 0) * 64 | (parent[P + r7] >= 0) * 128)
            g0 = groups[am, 0]
            if g0 < 0:                         # a new component
                parent[P] = P
                root = P
                rec[P, _BX0] = x
                rec[P, _BX1] = x
                rec[P, _BY0] = y
                rec[P, _BY1] = y
                rec[P, _CNT] = 1
                rec[P, _FST] = y * W + x
                rec[P, _CUR] = -1              # root -> its open node, -1: none
                rec[P, _RQ2] = 0
                rec[P, _RE4] = 0
                touched[nt] = P
                nt += 1
            else:                              # joins the first neighbouring group
                root = _find(parent, P + ring[g0])
                parent[P] = root
                c = rec[root, _CUR]
                if c >= 0:                     # the component changes: its node ends
                    nodes[LO, c] = v
                    rec[root, _CUR] = -1
                    touched[nt] = root
                    nt += 1
                rec[root, _BX0] = min(rec[root, _BX0], x)
                rec[root, _BY0] = min(rec[root, _BY0], y)
                rec[root, _BX1] = max(rec[root, _BX1], x)
                rec[root, _BY1] = max(rec[root, _BY1], y)
                rec[root, _CNT] += 1
                rec[root, _FST] = min(rec[root, _FST], y * W + x)
                if groups[am, 1] >= 0:         # further groups: one union each
                    for g in range(1, 4):
                        gi = groups[am, g]
                        if gi < 0:
                            break
                        rb = _find(parent, P + ring[gi])
                        if rb == root:
                            continue
                        c = rec[rb, _CUR]
                        if c >= 0:
                            nodes[LO, c] = v
                        ra = root
                        if rec[ra, _CNT] < rec[rb, _CNT]:
                            ra, rb = rb, ra
                        parent[rb] = ra
                        rec[ra, _CNT] += rec[rb, _CNT]
                        rec[ra, _BX0] = min(rec[ra, _BX0], rec[rb, _BX0])
                        rec[ra, _BY0] = min(rec[ra, _BY0], rec[rb, _BY0])
                        rec[ra, _BX1] = max(rec[ra, _BX1], rec[rb, _BX1])
                        rec[ra, _BY1] = max(rec[ra, _BY1], rec[rb, _BY1])
                        rec[ra, _FST] = min(rec[ra, _FST], rec[rb, _FST])
                        rec[ra, _RQ2] += rec[rb, _RQ2]
                        rec[ra, _RE4] += rec[rb, _RE4]
                        rec[ra, _CUR] = -1
                        root = ra
            if windows:
                rec[root, _RQ2] += _DQ2[am]
                rec[root, _RE4] += _DE4[am]
        # (a component merged into a touched one at v is resolved by _find)
        for k in range(nt):
            r = _find(parent, touched[k])
            if rec[r, _CUR] < 0:
                j = n_nodes
                n_nodes += 1
                nodes[LO, j] = 0
                nodes[HI, j] = v
                nodes[X0, j] = rec[r, _BX0]
                nodes[Y0, j] = rec[r, _BY0]
                nodes[X1, j] = rec[r, _BX1]
                nodes[Y1, j] = rec[r, _BY1]
                nodes[COUNT, j] = rec[r, _CNT]
                nodes[FIRST, j] = rec[r, _FST]
                nodes[Q2, j] = rec[r, _RQ2]
                nodes[E4, j] = rec[r, _RE4]
                rec[r, _CUR] = j
    return n_nodes


@nb.njit(**_JIT)
def component_nodes(lev, K, conn, invert=False, windows=False):
    """:func:`tree_nodes` with its own work arrays: the node table (10, n) int64."""
    H, W = lev.shape
    space = workspace(H, W)
    n = tree_nodes(lev, K, conn, invert, windows, space)
    return space[3][:, :n].copy()


# ---------------------------------------------------------------- contour area
@nb.njit(**_JIT)
def _on(lev, H, W, thr, y, x):
    return 0 <= y < H and 0 <= x < W and lev[y, x] >= thr


@nb.njit(**_JIT)
def outer_area2(lev, thr, first):
    """Twice ``cv2.contourArea`` of the outer border of the 8-connected component of
    ``lev >= thr`` whose first pixel (raster order) is ``first``.

    Suzuki-Abe border following as OpenCV's ``findContours`` runs it (start at the
    first pixel, its west neighbour as the previous one; directions counter-clockwise
    E, NE, N, NW, W, SW, S, SE), with the shoelace sum over every visited point
    (CHAIN_APPROX_SIMPLE drops only points inside straight runs: same area).
    """
    H, W = lev.shape
    dx = (1, 1, 0, -1, -1, -1, 0, 1)
    dy = (0, -1, -1, -1, 0, 1, 1, 1)
    y0 = first // W
    x0 = first - y0 * W
    # 3.1: clockwise from the west neighbour for a foreground pixel
    s = 4
    found = False
    for _ in range(7):
        s = (s - 1) & 7
        if _on(lev, H, W, thr, y0 + dy[s], x0 + dx[s]):
            found = True
            break
    if not found:
        return 0                                  # a single pixel
    y1 = y0 + dy[s]
    x1 = x0 + dx[s]
    y3 = y0
    x3 = x0
    area2 = 0
    while True:
        # 3.3: counter-clockwise from the next direction after the previous pixel
        for _ in range(8):
            s = (s + 1) & 7
            if _on(lev, H, W, thr, y3 + dy[s], x3 + dx[s]):
                break
        y4 = y3 + dy[s]
        x4 = x3 + dx[s]
        area2 += x3 * y4 - x4 * y3
        if y4 == y0 and x4 == x0 and y3 == y1 and x3 == x1:
            break
        y3 = y4
        x3 = x4
        s = (s + 4) & 7
    return abs(area2)


# ---------------------------------------------------------------- per-level listing
@nb.njit(**_JIT)
def _grow(buf, size):
    if buf.size >= size:
        return buf
    new = np.empty(max(size, 2 * buf.size), buf.dtype)
    new[:buf.size] = buf
    return new


@nb.njit(**_JIT)
def _bucket(lo, hi, value, needed, offsets, buf):
    """Bucket ``value[i]`` under each needed level ``v`` with ``lo[i] < v <= hi[i]``:
    fills ``offsets`` (L+2,) so that level v's values are ``buf[offsets[v]:offsets[v+1]]``;
    returns ``buf``, grown if it was too small."""
    L = needed.size - 1
    offsets[:] = 0
    for i in range(lo.size):
        for v in range(lo[i] + 1, hi[i] + 1):
            if needed[v]:
                offsets[v + 1] += 1
    for v in range(L + 1):
        offsets[v + 1] += offsets[v]
    buf = _grow(buf, offsets[L + 1])
    fill = offsets[:L + 1].copy()
    for i in range(lo.size):
        for v in range(lo[i] + 1, hi[i] + 1):
            if needed[v]:
                buf[fill[v]] = value[i]
                fill[v] += 1
    return buf


@nb.njit(**_JIT)
def _needed(levels, peak, L):
    needed = np.zeros(L + 1, np.bool_)
    for v in levels:
        if 1 <= v <= peak:
            needed[v] = True
    return needed


@nb.njit(**_JIT)
def _pack(x0, y0, x1, y1):
    return ((x0 << _SHIFT | y0) << _SHIFT | x1) << _SHIFT | y1


# ---------------------------------------------------------------- WSOL input
@nb.njit(**_JIT)
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


@nb.njit(**_JIT)
def _wsol_levels(taus, peak, levels):
    """``levels[t] = int(tau * peak) + 1``: the binarisation ``u8 >= level``."""
    for t in range(taus.size):
        levels[t] = np.int64(np.floor(taus[t] * np.float64(peak))) + 1


# ---------------------------------------------------------------- WSOL V2
@nb.njit(**_JIT)
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
        needed = _needed(lv, peak, 255)
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
            key[m] = _pack(f[X0, i], f[Y0, i], min(f[X1, i] + 1, W - 1),
                           min(f[Y1, i] + 1, H - 1))
            m += 1
        for i in range(nb_):
            if g[X0, i] > 0 and g[Y0, i] > 0 and g[X1, i] < W - 1 and g[Y1, i] < H - 1:
                # a hole, level w alive for lo < w <= hi: foreground 255 - hi < v <= 255 - lo
                lo[m] = 255 - g[HI, i]
                hi[m] = 255 - g[LO, i]
                key[m] = _pack(g[X0, i] - 1, g[Y0, i] - 1, min(g[X1, i] + 2, W - 1),
                               min(g[Y1, i] + 2, H - 1))
                m += 1
        buf = _bucket(lo[:m], hi[:m], key[:m], needed, offsets, buf)
        for v in range(1, 256):
            if offsets[v + 1] - offsets[v] > 1:
                buf[offsets[v]:offsets[v + 1]].sort()
        total = 0
        for v in lv:
            total += offsets[v + 1] - offsets[v] if 1 <= v <= peak else 1
        if r + total > out_key.size:
            size = max(r + total, 2 * out_key.size)
            out_key = _grow(out_key, size)
            out_img = _grow(out_img, size)
            out_thr = _grow(out_thr, size)
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
        boxes[k, 0] = c >> (3 * _SHIFT)
        boxes[k, 1] = (c >> (2 * _SHIFT)) & _MASK
        boxes[k, 2] = (c >> _SHIFT) & _MASK
        boxes[k, 3] = c & _MASK
    return boxes, out_img[:r].copy(), out_thr[:r].copy(), True


# ---------------------------------------------------------------- WSOL V1
@nb.njit(**_JIT)
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
        needed = _needed(levels[b], peak, 255)
        m = tree_nodes(img, 255, 8, False, True, space)
        nd = space[3]
        for i in range(m):
            area[i] = nd[Q2, i] if nd[E4, i] == 4 else -1     # -1: not known yet
        buf = _bucket(nd[LO, :m], nd[HI, :m], ids[:m], needed, offsets, buf)
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


# ---------------------------------------------------------------- paper rule
@nb.njit(**_JIT)
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


@nb.njit(**_JIT)
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
        nn = tree_nodes(lev, K, 8, False, False, space)
        nd = space[3]
        needed = np.zeros(K + 1, np.bool_)
        for v in level_of:
            needed[v] = True
        buf = _bucket(nd[LO, :nn], nd[HI, :nn], ids[:nn], needed, offsets[:K + 2], buf)
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
