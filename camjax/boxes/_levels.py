"""The pixel order of the component-tree sweep (numba): a level image in a frame of
zeros, its pixels sorted by level from the top and in raster order inside a level.

:func:`level_order` is a counting sort (the levels are small integers, 0..K). Each
pixel's entry packs, in one int64, its padded index, its column and the ring masks
(:func:`camjax.boxes._rings.ring_masks`: which ring neighbours are already in when the
pixel is added), so the sweep (:func:`camjax.boxes._unionfind.sweep_sorted`) reads one
word per pixel, in order; :func:`order_by_level` packs two sweeps' masks (the
foreground's and the background's) into the same order.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from camjax.boxes._compiled import JIT
from camjax.boxes._rings import ring_masks

U = np.uint64        # an unsigned index: no wraparound test for negative indices


@nb.njit(**JIT)
def pad(lev, K, invert, out):
    """``out`` ((H+2)*(W+2),): ``lev`` (or ``K - lev`` with ``invert``) in a frame of
    zeros, the level that is never foreground."""
    H, W = lev.shape
    Wp = W + 2
    out[:Wp] = 0
    out[(H + 1) * Wp:] = 0
    for y in range(H):
        r = (y + 1) * Wp
        out[r] = 0
        out[r + W + 1] = 0
        for x in range(W):
            out[r + 1 + x] = K - lev[y, x] if invert else lev[y, x]
    return out


@nb.njit(**JIT)
def level_order(flat, H, W, K, ent):
    """Counting sort of the pixels of the padded level image ``flat`` (:func:`pad`,
    an (H, W) image of values 0..K) by level descending and in raster order inside a
    level, into ``ent``: ``P << 32 | x << 16 | am << 8 | am`` (padded index, column,
    :func:`ring_masks` twice). Returns ``(hist, start)``: level v's pixels are
    ``start[v]:start[v] + hist[v]``."""
    Wp = W + 2
    hist = np.zeros(K + 1, np.int64)
    for y in range(H):
        r = (y + 1) * Wp + 1
        for x in range(W):
            hist[flat[r + x]] += 1
    am = np.zeros(flat.size, np.uint8)
    ring_masks(flat, H, W, am)
    return hist, order_by_level(flat, H, W, K, hist, am, am, ent)


@nb.njit(**JIT)
def order_by_level(flat, H, W, K, hist, amf, amb, ent):
    """The fill of :func:`level_order` for a known histogram, with the masks ``amf``
    (bits 8-15) and ``amb`` (bits 0-7) of two sweeps in the same order (the
    foreground's and, its levels reversed block by block, the background's);
    returns ``start``."""
    Wp = W + 2
    start = np.zeros(K + 1, np.int64)
    acc = 0
    for v in range(K, -1, -1):
        start[v] = acc
        acc += hist[v]
    fill = start.copy()
    for y in range(H):
        r = (y + 1) * Wp + 1                    # padded index: the frame is never added
        for x in range(W):
            P = U(r + x)
            v = flat[P]
            k = fill[v]
            ent[U(k)] = (np.int64(P) << 32) | (x << 16) | (np.int64(amf[P]) << 8) | amb[P]
            fill[v] = k + 1
    return start
