"""PxAP's histograms in one compiled pass: each pixel's bin, by the mask's class.

``np.histogram`` with explicit edges (what wsolevaluation's ``MaskEvaluator`` calls,
twice per map, after boolean indexing) sorts the values; here each value's bin is
found directly: a guess from the bin width, corrected against the actual edges, so
the bin is the one ``np.histogram`` gives (``edges[i] <= s < edges[i + 1]``, the last
bin closed), compared in float64 as NumPy compares a float32 map with float64 edges.
"""
from __future__ import annotations

import numba as nb
import numpy as np

# mask value -> 0 background, 1 foreground, 2 ignore, 3 not a mask value
_CLASS = np.full(256, 3, np.int64)
_CLASS[0], _CLASS[1], _CLASS[255] = 0, 1, 2


@nb.njit(nogil=True, cache=True)
def mask_histograms(maps, masks, edges, inv_width):
    """Counts (3, B) int64 of background, foreground and ignore pixels per bin of
    ``edges`` (B + 1,); ``maps`` (n, H, W) float, ``masks`` (n, H, W) uint8 in
    {0, 1, 255}. Returns ``(counts, status)``: status 1 for a map value outside
    [0, 1] (or NaN), 2 for another mask value, 0 when all is well."""
    B = edges.size - 1
    # four copies, so that runs of equal bins do not wait on each other's stores
    hist = np.zeros((4, 3, B), np.int64)
    n, H, W = maps.shape
    for b in range(n):
        for y in range(H):
            row = maps[b, y]
            mrow = masks[b, y]
            for x in range(W):
                s = np.float64(row[x])
                if not (0.0 <= s <= 1.0):
                    return hist[0], 1
                c = _CLASS[mrow[x]]
                if c == 3:
                    return hist[0], 2
                i = min(np.int64(s * inv_width), B - 1)
                while i > 0 and s < edges[i]:
                    i -= 1
                while i < B - 1 and s >= edges[i + 1]:
                    i += 1
                hist[x & 3, c, i] += 1
    return hist[0] + hist[1] + hist[2] + hist[3], 0
