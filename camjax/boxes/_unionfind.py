"""The compiled component tree (numba): one union-find sweep per image for every level.

For an integer image ``lev`` (values 0..K) the foreground at level ``v`` (1..K) is
``lev >= v``. The sets are nested, so their connected components form a tree
(the max-tree). :func:`tree_nodes` adds the pixels sorted by level, from the top
(a counting sort), to a union-find over the pixel grid that keeps, per root, the
component's bounding box, pixel count, first pixel in raster order and two sums
over the 2x2 windows it meets (:mod:`camjax.boxes._borders`: twice the polygon area
of its outer border when it has no hole, and its Euler number). After the pixels of
level ``v`` are in, every component that gained pixels at ``v`` (new, grown, or
merged) gets a new node with ``hi = v``; the nodes it replaces are closed with
``lo = v``. A node is one component, alive (unchanged) for the levels
``lo < v <= hi``; ``lo = 0`` for nodes alive down to level 1.

The box rules read the tree in :mod:`camjax.boxes._wsol_sweep` and
:mod:`camjax.boxes._paper_sweep`. The neighbour tables (:data:`RING`,
:data:`RING_GROUPS`) are shared with the NumPy tree the tests use as an oracle.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from camjax.boxes._borders import DE4, DQ2
from camjax.boxes._compiled import JIT

# The 8 neighbours as a ring, clockwise from north: consecutive entries are
# 4-adjacent to each other, and the ring's corners (odd entries) are diagonal.
RING = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _ring_groups(connectivity: int) -> np.ndarray:
    """(256, 4) table: for a mask of higher ring neighbours, one ring position per
    group of them that is connected inside the 3x3 window (-1 pads).

    Two higher neighbours that are adjacent to each other belong to the same
    component already, so the new centre pixel needs one edge per group only.
    With 8-connectivity any two ring neighbours at ring distance 1 or (for two
    4-neighbours) 2 are adjacent; with 4-connectivity only ring distance 1 is,
    and a group must hold a 4-neighbour of the centre to touch it.
    """
    table = np.full((256, 4), -1, np.int64)
    for mask in range(256):
        on = [i for i in range(8) if mask >> i & 1]
        if connectivity == 4:
            on_touch = [i for i in on if i % 2 == 0]
        else:
            on_touch = on
        group = {i: i for i in on}

        def root(i):
            while group[i] != i:
                i = group[i]
            return i

        for a in on:
            for b in on:
                d = (b - a) % 8
                adjacent = d == 1 or (connectivity == 8 and d == 2 and a % 2 == 0)
                if adjacent:
                    ra, rb = root(a), root(b)
                    if ra != rb:
                        group[max(ra, rb)] = min(ra, rb)
        reps = {}
        for i in on_touch:
            reps.setdefault(root(i), i)
        for k, i in enumerate(sorted(reps.values())):
            table[mask, k] = i
    return table


RING_GROUPS = {c: _ring_groups(c).astype(np.int8) for c in (4, 8)}


# per mask of present ring neighbours: one ring position per group of them that is
# connected inside the 3x3 window (-1 pads); one union per group is enough
_GROUPS8 = RING_GROUPS[8].astype(np.int64)
_GROUPS4 = RING_GROUPS[4].astype(np.int64)

_RING_DY = np.array([dy for dy, _ in RING], np.int64)
_RING_DX = np.array([dx for _, dx in RING], np.int64)

# node fields: rows of the node table
LO, HI, X0, Y0, X1, Y1, COUNT, FIRST, Q2, E4 = range(10)


@nb.njit(**JIT)
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


@nb.njit(**JIT)
def workspace(H, W):
    """Work arrays of :func:`tree_nodes` for (H, W) images, reusable image to image:
    (union-find parents ((H+2)(W+2),) int32, per-root records ((H+2)(W+2), 10) int32,
    pixel order and scratch (4, H*W) int32, node table (10, H*W) int64)."""
    Np = (H + 2) * (W + 2)
    return (np.empty(Np, np.int32), np.empty((Np, 10), np.int32),
            np.empty((4, H * W), np.int32), np.empty((10, H * W), np.int64))


@nb.njit(**JIT)
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


@nb.njit(**JIT)
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


@nb.njit(**JIT)
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
                rec[root, _RQ2] += DQ2[am]
                rec[root, _RE4] += DE4[am]
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


@nb.njit(**JIT)
def component_nodes(lev, K, conn, invert=False, windows=False):
    """:func:`tree_nodes` with its own work arrays: the node table (10, n) int64."""
    H, W = lev.shape
    space = workspace(H, W)
    n = tree_nodes(lev, K, conn, invert, windows, space)
    return space[3][:, :n].copy()

