"""The 3x3 neighbourhood of the compiled component trees: the ring of 8 neighbours,
the groups a mask of present neighbours falls into, and the masks of one image.

The tables are shared with the NumPy tree the tests use as an oracle
(tests/boxes/tree.py).
"""
from __future__ import annotations

import numba as nb
import numpy as np

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


@nb.njit(**JIT)
def ring_masks(flat, H, W, am):
    """``am`` at each pixel of the padded level image ``flat``: bit i set when ring
    neighbour i (:data:`RING`) comes before the pixel in the sweep, i.e. has a higher
    level, or the same level and comes earlier in raster order (N, NE, W, NW). The
    frame (level 0) never does for a pixel of level >= 1. Written as slices and uint8
    operations so that numba vectorises it."""
    Wp = W + 2
    for y in range(H):
        r = (y + 1) * Wp + 1
        a = flat[r - Wp - 1:r - Wp + W + 1]          # row above, from x - 1
        b = flat[r - 1:r + W + 1]                    # this row
        c = flat[r + Wp - 1:r + Wp + W + 1]          # row below
        o = am[r:r + W]
        for x in range(W):
            v = b[x + 1]
            o[x] = (np.uint8(a[x + 1] >= v) | (np.uint8(a[x + 2] >= v) << 1)
                    | (np.uint8(b[x + 2] > v) << 2) | (np.uint8(c[x + 2] > v) << 3)
                    | (np.uint8(c[x + 1] > v) << 4) | (np.uint8(c[x] > v) << 5)
                    | (np.uint8(b[x] >= v) << 6) | (np.uint8(a[x] >= v) << 7))


@nb.njit(**JIT)
def outside_bits(H, W, am):
    """Set, in the ring masks ``am`` of an (H, W) image (padded indices), the bits of
    the neighbours that lie outside the image: the frame, in from the start."""
    Wp = W + 2
    for x in range(1, W + 1):
        am[Wp + x] |= 1 | 2 | 128                    # top row: N, NE, NW
        am[H * Wp + x] |= 8 | 16 | 32                # bottom row: SE, S, SW
    for y in range(1, H + 1):
        am[y * Wp + 1] |= 32 | 64 | 128              # left column: SW, W, NW
        am[y * Wp + W] |= 2 | 4 | 8                  # right column: NE, E, SE
