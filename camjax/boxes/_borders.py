"""Outer-border areas (``cv2.contourArea``) of the components of the compiled tree.

Two sums over the 2x2 windows of pixel centres that a component meets are kept per
union-find root as pixels join (:data:`DQ2`, :data:`DE4`: the change when a pixel is
added): ``Q2``, twice the area of the outer border for a component without holes, and
``E4``, four times its Euler number (``E4 = 4 * (1 - holes)``). For a component with
holes, :func:`outer_area2` follows its outer border as OpenCV's ``findContours`` does.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from camjax.boxes._compiled import JIT

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
    mask of its ring neighbours already present (bit i: ring position i of
    ``_rings.RING``, clockwise from north); the four windows holding the pixel,
    as (top-left, top-right, bottom-left, bottom-right) ring positions, -1 for the
    pixel itself."""
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


DQ2, DE4 = _window_deltas()


@nb.njit(**JIT)
def outer_area2(flat, H, W, thr, first):
    """Twice ``cv2.contourArea`` of the outer border of the 8-connected component of
    ``lev >= thr`` (``thr >= 1``) whose first pixel (raster order) is ``first``;
    ``flat`` is ``lev`` (H, W) in a frame of zeros (``_levels.pad``), so a step
    off the image reads the frame.

    Suzuki-Abe border following as OpenCV's ``findContours`` runs it (start at the
    first pixel, its west neighbour as the previous one; directions counter-clockwise
    E, NE, N, NW, W, SW, S, SE), with the shoelace sum over every visited point
    (CHAIN_APPROX_SIMPLE drops only points inside straight runs: same area).
    """
    Wp = W + 2
    dx = (1, 1, 0, -1, -1, -1, 0, 1)
    dy = (0, -1, -1, -1, 0, 1, 1, 1)
    y0 = first // W
    x0 = first - y0 * W
    # 3.1: clockwise from the west neighbour for a foreground pixel
    s = 4
    found = False
    for _ in range(7):
        s = (s - 1) & 7
        if flat[(y0 + dy[s] + 1) * Wp + x0 + dx[s] + 1] >= thr:
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
            if flat[(y3 + dy[s] + 1) * Wp + x3 + dx[s] + 1] >= thr:
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
