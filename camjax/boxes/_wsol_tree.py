"""The per-map steps the WSOL rule's kernels share (compiled): the uint8 map and its
levels, the foreground tree, the background tree (holes), and V1's choice of the
largest outer border at a level.

A map in [0, 1] becomes ``u8 = floor(s * 255)`` (float64, as wsolevaluation) in one
pass that also counts its histogram; threshold ``tau`` is the binarisation
``u8 >= int(tau * max(u8)) + 1``. The foreground at level ``v`` is ``u8 >= v``
(8-connected, :mod:`camjax.boxes._unionfind`); its holes are the 4-connected
components of ``u8 < v`` that do not touch the image edge, read off the tree of
``255 - u8``. The background tree is needed only up to the highest level that has a
hole, which the foreground tree's Euler numbers (``E4``) tell.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from camjax.boxes._borders import outer_area2
from camjax.boxes._compiled import JIT
from camjax.boxes._levels import U, order_by_level
from camjax.boxes._rings import outside_bits, ring_masks
from camjax.boxes._unionfind import (E4, ENT, FIRST, HI, LO, Q2, X0, X1, Y0, Y1, sweep_sorted,
                                     workspace)


@nb.njit(**JIT)
def wsol_space(H, W):
    """Work arrays for (H, W) maps: (foreground tree space, background tree space
    (the pixel order shared), padded u8, padded 255 - u8, and their ring masks)."""
    fg = workspace(H, W)
    bg = (np.empty_like(fg[0]), np.empty_like(fg[1]), np.empty_like(fg[2]), fg[3], fg[4],
          np.empty_like(fg[5]))
    Np = (H + 2) * (W + 2)
    return (fg, bg, np.zeros(Np, np.uint8), np.zeros(Np, np.uint8), np.zeros(Np, np.uint8),
            np.zeros(Np, np.uint8))


@nb.njit(**JIT)
def _to_u8(m, flat, hist):
    """``floor(m * 255)`` (float64) into the padded image ``flat`` and its histogram;
    returns the peak, or -1 if a value is not finite or outside [0, 1]. (Two loops:
    the first has no early exit, so numba vectorises it.)"""
    H, W = m.shape
    Wp = W + 2
    bad = False
    for y in range(H):
        row = flat[(y + 1) * Wp + 1:(y + 1) * Wp + 1 + W]
        src = m[y]
        for x in range(W):
            s = np.float64(src[x])
            bad |= not (0.0 <= s <= 1.0)          # also true for NaN
            row[x] = np.uint8(np.int32(s * 255.0))
    if bad:
        return -1
    h4 = np.zeros((4, 256), np.int64)            # four copies: no wait on equal values
    for y in range(H):
        row = flat[(y + 1) * Wp + 1:(y + 1) * Wp + 1 + W]
        for x in range(W):
            h4[U(x & 3), row[x]] += 1
    peak = 0
    for v in range(256):
        hist[v] = h4[0, v] + h4[1, v] + h4[2, v] + h4[3, v]
        if hist[v]:
            peak = v
    return peak


@nb.njit(**JIT)
def prepare(m, taus, space, levels, holes):
    """u8, levels ``int(tau * peak) + 1`` into ``levels`` (T,), the pixel order with
    the foreground's ring masks (and the background's, with ``holes``).
    Returns ``(peak, hist, start)``; ``peak`` -1 for a map outside [0, 1]."""
    peak, hist = to_levels(m, taus, space, levels)
    if peak < 0:
        return peak, hist, hist
    return peak, hist, order_pixels(space, hist, m.shape[0], m.shape[1], holes)


@nb.njit(**JIT)
def to_levels(m, taus, space, levels):
    """The first step of :func:`prepare`: ``(peak, hist)`` and the levels."""
    hist = np.zeros(256, np.int64)
    peak = _to_u8(m, space[2], hist)
    for t in range(taus.size):
        levels[t] = np.int64(np.floor(taus[t] * np.float64(peak))) + 1
    return peak, hist


@nb.njit(**JIT)
def order_pixels(space, hist, H, W, holes):
    """The second step of :func:`prepare`: ring masks and the pixel order; ``start``."""
    Wp = W + 2
    fl, bf, amf, amb = space[2], space[3], space[4], space[5]
    ring_masks(fl, H, W, amf)
    if holes:
        for y in range(H):
            row = fl[(y + 1) * Wp + 1:(y + 1) * Wp + 1 + W]
            brow = bf[(y + 1) * Wp + 1:(y + 1) * Wp + 1 + W]
            for x in range(W):
                brow[x] = 255 - row[x]
        ring_masks(bf, H, W, amb)
        outside_bits(H, W, amb)
    return order_by_level(fl, H, W, 255, hist, amf, amb, space[0][ENT])


@nb.njit(**JIT)
def fg_tree(W, space, hist, start, windows):
    """The foreground tree (8-connected) of the prepared map: its node count (pixel
    counts not kept: the WSOL rule does not use them)."""
    return sweep_sorted(W, 255, 8, windows, space[0], 8, hist, start, 1, False, False)


@nb.njit(**JIT)
def hole_top(nodes, n, needed):
    """The highest needed level at which a foreground component has a hole, 0 if none
    (needs the tree's windows: ``E4 < 4``)."""
    top = 0
    for i in range(n):
        if nodes[E4, i] < 4:
            for v in range(nodes[HI, i], max(nodes[LO, i], top), -1):
                if needed[v]:
                    top = v
                    break
    return top


@nb.njit(**JIT)
def bg_tree(W, space, hist, start, top):
    """The holes of the prepared map (``holes``): the background tree (4-connected,
    levels ``255 - u8``) without the components that touch the image edge (they join
    the outside), for the foreground levels up to ``top``: background level
    ``w = 255 - u8`` from 255 down to ``256 - top`` (a node's ``lo`` stays 0 where the
    sweep stopped). Its node count."""
    return sweep_sorted(W, 255, 4, False, space[1], 0, hist[::-1].copy(),
                        start[::-1].copy(), 256 - top, True, False)


@nb.njit(**JIT)
def v1_winner(nd, ids, a, e, area, img, H, W):
    """V1 at one level: among the nodes ``ids[a:e]`` alive there, the one whose outer
    border has the largest ``cv2.contourArea``. Returns ``(winner, tied)``: ``tied``
    when another node of a different box has the same area (OpenCV's contour order
    decides; the caller resolves it).

    ``area[i]`` caches twice the area, -1 where not known yet: exact without holes
    (the window sum ``Q2``); with holes it lies in ``[Q2, 2 * w * h]`` (``w, h`` the
    box's extent between pixel centres) and is traced only when those bounds leave
    the winner open. ``img`` is the padded u8 map (for tracing).
    """
    lead = -1
    for k in range(a, e):
        i = ids[k]
        if lead < 0 or nd[Q2, i] > nd[Q2, lead]:
            lead = i
    lb = nd[Q2, lead]
    open_ = False
    for k in range(a, e):
        i = ids[k]
        if i == lead:
            continue
        ub = area[i] if area[i] >= 0 else 2 * ((nd[X1, i] - nd[X0, i]) * (nd[Y1, i] - nd[Y0, i]))
        if ub >= lb:
            open_ = True
            break
    if not open_:
        return lead, False
    win = lead
    tie = False
    best = -1
    for k in range(a, e):
        i = ids[k]
        if area[i] < 0:
            ub = 2 * ((nd[X1, i] - nd[X0, i]) * (nd[Y1, i] - nd[Y0, i]))
            if ub < lb:
                continue                      # cannot win: needs no tracing
            area[i] = outer_area2(img, H, W, nd[HI, i], nd[FIRST, i])
        if area[i] > best:
            best = area[i]
            win = i
            tie = False
        elif area[i] == best:
            if (nd[X0, i] != nd[X0, win] or nd[Y0, i] != nd[Y0, win]
                    or nd[X1, i] != nd[X1, win] or nd[Y1, i] != nd[Y1, win]):
                tie = True
    return win, tie


@nb.njit(**JIT)
def known_areas(nd, n, area):
    """``area[i]`` = twice the outer border's area where the node has no hole, else -1."""
    for i in range(n):
        area[i] = nd[Q2, i] if nd[E4, i] == 4 else -1
