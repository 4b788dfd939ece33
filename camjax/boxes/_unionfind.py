"""The compiled component tree (numba): one union-find sweep per image for every level.

For an integer image ``lev`` (values 0..K) the foreground at level ``v`` (1..K) is
``lev >= v``. The sets are nested, so their connected components form a tree
(the max-tree). :func:`sweep_sorted` adds the pixels sorted by level, from the top
(:func:`camjax.boxes._levels.level_order`, a counting sort), to a union-find whose
components keep their bounding box, pixel count, first pixel in raster order and two
sums over the 2x2 windows they meet (:mod:`camjax.boxes._borders`: twice the polygon
area of the outer border when the component has no hole, and its Euler number). After
the pixels of level ``v`` are in, every component that gained pixels at ``v`` (new,
grown, or merged) gets a new node with ``hi = v``; the nodes it replaces are closed with
``lo = v``. A node is one component, alive (unchanged) for the levels
``lo < v <= hi``; ``lo = 0`` for nodes alive down to level 1.

Speed (the sweep is most of the WSOL metrics' time; numba compiles branchy index
arithmetic poorly, so the work that does not depend on the order is done before it):

* which ring neighbours are already in when a pixel is added (a higher level, or the
  same level earlier in raster order) does not depend on the sweep: one vectorised
  raster pass (:func:`camjax.boxes._rings.ring_masks`) computes it, and the counting
  sort packs it with the pixel's index and column into one int64 per pixel, read in
  order;
* each pixel is labelled with its component's record slot; the slots form a small
  union-find of their own (``up``), so a find reads one label and a few hot slots;
* the box is kept as the first and last padded index (rows, and the first pixel in
  raster order) and the columns.

The box rules read the tree in :mod:`camjax.boxes._wsol_tree` and
:mod:`camjax.boxes._paper_sweep`. The neighbour tables and the ring masks are in
:mod:`camjax.boxes._rings`, the padding and the pixel order in
:mod:`camjax.boxes._levels`.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from camjax.boxes._borders import DE4, DQ2
from camjax.boxes._compiled import JIT
from camjax.boxes._levels import U, level_order, pad
from camjax.boxes._rings import _GROUPS4, _GROUPS8, _RING_DX, _RING_DY

# node fields: rows of the node table
LO, HI, X0, Y0, X1, Y1, COUNT, FIRST, Q2, E4 = range(10)

# record columns (int64), one row per component slot: first and last padded index,
# first and last column, pixel count, the open node (-1 when the component changed
# at the current level and a node is due, -2 merged away), the two window sums in
# one int64 (Q2 << 32) + E4, so one addition per pixel keeps both
_P0, _P1, _BX0, _BX1, _CNT, _CUR, _RQE = range(7)
_DQE = (DQ2 << 32) + DE4

# the workspace tuple: per-pixel slot labels, slot parents, records, packed pixel
# order, scratch, node table
LAB, UP, REC, ENT, TOUCHED, NODES = range(6)


@nb.njit(**JIT)
def workspace(H, W):
    """Work arrays of :func:`sweep_sorted` for (H, W) images, reusable image to image
    (see ``LAB, UP, REC, ENT, TOUCHED, NODES``); the node table is (10, H*W) int64."""
    n = max(H * W, 1)
    return (np.empty((H + 2) * (W + 2), np.int32), np.empty(n, np.int32),
            np.empty((n, 7), np.int64), np.empty(n, np.int64), np.empty(n, np.int32),
            np.empty((10, n), np.int64))


@nb.njit(**JIT)
def tree_nodes(lev, K, conn, invert, windows, space, padded):
    """The component tree of one level image ``lev`` (H, W), values 0..K.

    ``conn`` 4 or 8; ``invert``: use ``K - lev`` as the level image; ``space`` from
    :func:`workspace`; ``padded`` a ((H+2)*(W+2),) scratch array of ``lev``'s dtype.
    Returns the number of nodes ``n``; the nodes are the columns ``:n`` of the node
    table ``space[NODES]``, rows ``LO, HI, X0, Y0, X1, Y1, COUNT, FIRST, Q2, E4``
    (see the module docstring). With ``windows`` (8-connectivity), ``Q2`` and ``E4``
    are the sums of ``_Q2`` and ``_E4`` over the 2x2 windows meeting the component:
    ``E4 = 4 * (1 - holes)``, and for a component without holes ``Q2`` is twice the
    area of its outer border (``cv2.contourArea``); zeros otherwise.
    """
    H, W = lev.shape
    pad(lev, K, invert, padded)
    hist, start = level_order(padded, H, W, K, space[ENT])
    return sweep_sorted(W, K, conn, windows, space, 8, hist, start, 1)


@nb.njit(**JIT)
def sweep_sorted(W, K, conn, windows, space, shift, hist, start, stop, outside=False,
                 count=True):
    """The union-find sweep of :func:`tree_nodes` over the pixels already sorted into
    ``space[ENT]`` (:func:`order_by_level`), reading the ring masks at bits
    ``shift``..``shift + 7``; ``hist``, ``start`` index the levels. Levels ``K`` down
    to ``stop`` are added; nodes still open then keep ``lo = 0``. (Indices in the
    per-pixel loop are unsigned, ``U``: numba then skips its negative-index
    wraparound, a seventh of the sweep's time.)

    With ``outside``, the frame around the image is one component, in from the start
    (its ring bits must be set in the masks, :func:`camjax.boxes._rings.outside_bits`),
    and gets no nodes: a component that touches the image edge joins it, so the nodes
    are those of the components that never touch the edge (the holes, for the
    background), and most pixels of the rest are added without a record update.
    Without ``count`` the pixel counts are not kept (``COUNT`` is meaningless; the
    older component survives a union instead of the larger): a tenth faster."""
    Wp = W + 2
    lab, up, rec, ent, touched, nodes = space
    ring = np.empty(8, np.int64)
    for i in range(8):
        ring[i] = _RING_DY[i] * Wp + _RING_DX[i]
    groups = _GROUPS8 if conn == 8 else _GROUPS4
    n_nodes = 0
    n_slots = 0
    if outside:                                 # slot 0: the frame, the largest, no node
        n_slots = 1
        up[0] = -1
        rec[0, _CNT] = 1 << 62
        rec[0, _CUR] = -3
        H = lab.size // Wp - 2
        lab[:Wp] = 0
        lab[(H + 1) * Wp:] = 0
        for y in range(1, H + 1):
            lab[y * Wp] = 0
            lab[y * Wp + W + 1] = 0
    for v in range(K, stop - 1, -1):
        nt = 0                                  # slots whose component changed at v
        for k in range(start[v], start[v] + hist[v]):
            q = ent[U(k)]
            P = q >> 32
            x = (q >> 16) & 0xFFFF
            am = (q >> shift) & 0xFF
            g0 = groups[U(am), 0]
            if g0 < 0:                          # a new component
                sl = n_slots
                n_slots += 1
                up[sl] = -1
                rec[sl, _P0] = P
                rec[sl, _P1] = P
                rec[sl, _BX0] = x
                rec[sl, _BX1] = x
                rec[sl, _CNT] = 1
                rec[sl, _CUR] = -1
                rec[sl, _RQE] = 0
                touched[nt] = sl
                nt += 1
            else:                               # joins the first neighbouring group
                sl = lab[U(P + ring[U(g0)])]
                a = up[U(sl)]
                while a >= 0:                   # find, with path halving
                    b = up[U(a)]
                    if b < 0:
                        sl = a
                        break
                    up[U(sl)] = b
                    sl = b
                    a = up[U(b)]
                if outside and sl == 0 and groups[U(am), 1] < 0:
                    lab[U(P)] = 0                 # joins the outside, and nothing else
                    continue
                su = U(sl)
                c = rec[su, _CUR]
                if c >= 0:                      # the component changes: its node ends
                    nodes[LO, c] = v
                    rec[su, _CUR] = -1
                    touched[nt] = sl
                    nt += 1
                rec[su, _P0] = min(rec[su, _P0], P)
                rec[su, _P1] = max(rec[su, _P1], P)
                rec[su, _BX0] = min(rec[su, _BX0], x)
                rec[su, _BX1] = max(rec[su, _BX1], x)
                if count:
                    rec[su, _CNT] += 1
                if groups[U(am), 1] >= 0:       # further groups: one union each
                    sl, nt = _unions(P, am, sl, v, groups, ring, lab, up, rec, nodes,
                                     touched, nt, count)
            lab[U(P)] = sl
            if windows:
                rec[U(sl), _RQE] += _DQE[U(am)]
        for k in range(nt):
            sl = touched[k]
            if rec[sl, _CUR] == -1:
                rec[sl, _CUR] = n_nodes
                _emit(rec, sl, v, W, nodes, n_nodes)
                n_nodes += 1
    return n_nodes


@nb.njit(**JIT)
def _unions(P, am, sl, v, groups, ring, lab, up, rec, nodes, touched, nt, count):
    """Merge the components of the further neighbour groups of pixel ``P`` into slot
    ``sl``'s (union by size with ``count``, else the older slot survives: slot 0, the
    outside, in any case); returns the surviving slot and the touched count."""
    for g in range(1, 4):
        gi = groups[am, g]
        if gi < 0:
            break
        sb = lab[P + ring[gi]]
        while up[sb] >= 0:
            sb = up[sb]
        if sb == sl:
            continue
        c = rec[sb, _CUR]
        if c >= 0:
            nodes[LO, c] = v
            rec[sb, _CUR] = -1
            touched[nt] = sb
            nt += 1
        if rec[sl, _CNT] < rec[sb, _CNT] if count else sb < sl:
            sl, sb = sb, sl
        up[sb] = sl
        rec[sl, _CNT] += rec[sb, _CNT]
        rec[sl, _P0] = min(rec[sl, _P0], rec[sb, _P0])
        rec[sl, _P1] = max(rec[sl, _P1], rec[sb, _P1])
        rec[sl, _BX0] = min(rec[sl, _BX0], rec[sb, _BX0])
        rec[sl, _BX1] = max(rec[sl, _BX1], rec[sb, _BX1])
        rec[sl, _RQE] += rec[sb, _RQE]
        rec[sb, _CUR] = -2
    return sl, nt


@nb.njit(**JIT)
def _emit(rec, sl, v, W, nodes, j):
    """Node ``j``: slot ``sl``'s component as it is at level ``v``."""
    Wp = W + 2
    p0 = rec[sl, _P0]
    y0 = p0 // Wp - 1
    nodes[LO, j] = 0
    nodes[HI, j] = v
    nodes[X0, j] = rec[sl, _BX0]
    nodes[Y0, j] = y0
    nodes[X1, j] = rec[sl, _BX1]
    nodes[Y1, j] = rec[sl, _P1] // Wp - 1
    nodes[COUNT, j] = rec[sl, _CNT]
    nodes[FIRST, j] = y0 * W + p0 - (y0 + 1) * Wp - 1
    e4 = ((rec[sl, _RQE] + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
    nodes[Q2, j] = (rec[sl, _RQE] - e4) >> 32
    nodes[E4, j] = e4


@nb.njit(**JIT)
def component_nodes(lev, K, conn, invert=False, windows=False):
    """:func:`tree_nodes` with its own work arrays: the node table (10, n) int64."""
    H, W = lev.shape
    space = workspace(H, W)
    n = tree_nodes(lev, K, conn, invert, windows, space,
                   np.empty((H + 2) * (W + 2), lev.dtype))
    return space[NODES][:, :n].copy()
