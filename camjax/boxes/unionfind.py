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

On top of the tree, per image and for the levels a threshold list needs
(in :mod:`camjax.boxes.rules_numba`):

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

Compiled on first use and cached on disk (``cache=True``:
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
