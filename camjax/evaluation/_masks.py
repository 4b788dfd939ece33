"""PxAP's histograms in one compiled pass: each pixel's bin, by the mask's class.

``np.histogram`` with explicit edges (what wsolevaluation's ``MaskEvaluator`` calls,
twice per map, after boolean indexing) sorts the values; here each value's bin is
computed: ``g = int(s / bw)`` is within one of the bin ``b`` with
``edges[b] <= s < edges[b + 1]`` (the edges are ``arange(0, 1, bw)``, i.e.
``fl(j * bw)``, then 1, 2, 3; ``s / bw`` is off by a few ulps at most), so one
comparison with each neighbouring edge makes it exact: the bin ``np.histogram``
gives, compared in float64 as NumPy compares a float32 map with float64 edges.
The edges are recomputed as ``fl(j * bw)`` rather than read, so that numba vectorises
the pass; :func:`uniform_edges` checks that this is what they are.

The pass reads each map value once: its speed is close to the memory's (a 224x224
float64 map is 400 KB).
"""
from __future__ import annotations

import numba as nb
import numpy as np


def uniform_edges(edges: np.ndarray, bin_width: float) -> int:
    """``K`` when ``edges`` is ``fl(j * bin_width)`` for j < K, then 1, 2, 3 (as
    ``np.append(np.arange(0, 1, bw), [1, 2, 3])`` makes them); else 0."""
    k = len(edges) - 3
    ok = (k >= 1 and np.array_equal(edges[:k], np.arange(k) * bin_width)
          and np.array_equal(edges[k:], [1.0, 2.0, 3.0]) and edges[k - 1] < 1.0)
    return k if ok else 0


@nb.njit(nogil=True, cache=True)
def mask_histograms(maps, masks, bw, K):
    """Counts (3, K + 2) int64 of background (mask 0), foreground (1) and ignore (255)
    pixels in the bins of edges ``[fl(j * bw) for j < K] + [1, 2, 3]``; ``maps``
    (n, H, W) float, ``masks`` (n, H, W) uint8. Returns ``(counts, bad)``: ``bad``
    when a map value is outside [0, 1] (or NaN) or a mask value is not 0, 1 or 255
    (the counts are then meaningless)."""
    B = K + 2
    inv = 1.0 / bw
    n, H, W = maps.shape
    hist = np.zeros((2, 3 * B), np.int64)     # two copies: fewer stalls on equal bins
    idx = np.empty(W, np.int64)
    bad = False
    for b in range(n):
        for y in range(H):
            row = maps[b, y]
            mrow = masks[b, y]
            for x in range(W):                    # branch-free: vectorised
                s = np.float64(row[x])
                bad |= not (0.0 <= s <= 1.0)      # also true for NaN
                g = min(max(np.int64(s * inv), 0), K)
                g -= np.int64(s < (np.float64(g) * bw if g < K else 1.0))
                up = np.float64(g + 1) * bw if g + 1 < K else (1.0 if g + 1 == K else 2.0)
                g += np.int64(s >= up)
                m = mrow[x]
                bad |= (m != 0) & (m != 1) & (m != 255)
                idx[x] = (np.int64(m == 1) + 2 * np.int64(m == 255)) * B + g
            for x in range(W):                    # unsigned: no wraparound tests
                hist[np.uint64(x & 1), np.uint64(idx[x])] += 1
    return (hist[0] + hist[1]).reshape(3, B), bad
