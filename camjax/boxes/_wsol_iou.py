"""MaxBoxAcc's inner quantity, compiled: for each map and threshold, the max IoU of the
WSOL rule's boxes (V1 or V2) with the map's ground-truth boxes.

The boxes are never listed per threshold. A tree node is one component, unchanged
over a range of levels, so its box has one IoU with the ground truth: V2 takes the
max over the nodes (outer borders and holes) alive at each level, V1 the IoU of each
level's winner; a threshold reads its level. IoUs use the +1 convention of
wsolevaluation's ``calculate_multiple_iou`` (a zero or negative union gives 0),
computed as it does, an integer intersection over an integer union in float64, so
every value is the reference's bit for bit.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from camjax.boxes._compiled import JIT, bucket, needed_levels
from camjax.boxes._unionfind import HI, LO, NODES, X0, X1, Y0, Y1
from camjax.boxes._wsol_tree import (bg_tree, fg_tree, hole_top, known_areas,
                                     prepare, v1_winner)


@nb.njit(**JIT)
def box_iou(x0, y0, x1, y1, gt, a, e):
    """Max IoU of the box (x0, y0, x1, y1) with the boxes ``gt[a:e]`` (+1 convention)."""
    best = 0.0
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    for k in range(a, e):
        iw = max(0, min(x1, gt[k, 2]) - max(x0, gt[k, 0]) + 1)
        ih = max(0, min(y1, gt[k, 3]) - max(y0, gt[k, 1]) + 1)
        inter = iw * ih
        union = area + (gt[k, 2] - gt[k, 0] + 1) * (gt[k, 3] - gt[k, 1] + 1) - inter
        iou = np.float64(inter) / np.float64(union) if union > 0 else 0.0
        best = max(best, iou)
    return best


@nb.njit(**JIT)
def _fill(best_row, levels_row, level_iou, peak, empty_iou):
    """Per threshold: the IoU of its level, or of the box (0, 0, 0, 0) above the peak."""
    for t in range(levels_row.size):
        v = levels_row[t]
        best_row[t] = level_iou[v] if 1 <= v <= peak else empty_iou


@nb.njit(**JIT)
def v2_iou_batch(maps, taus, gt, gt_start, space):
    """V2 (all contours): ``(best (n, T) float64, ok)``, ``best[b, t]`` the max IoU of
    the boxes of map ``b`` at threshold ``t`` with ``gt[gt_start[b]:gt_start[b + 1]]``
    ((M, 4) int64). ``ok`` is False if a map has a value outside [0, 1]."""
    n, H, W = maps.shape
    T = taus.size
    levels = np.empty(T, np.int64)
    best = np.zeros((n, T))
    level_iou = np.zeros(256)
    for b in range(n):
        a, e = gt_start[b], gt_start[b + 1]
        peak, hist, start = prepare(maps[b], taus, space, levels, True)
        if peak < 0:
            return best, False
        needed = needed_levels(levels, peak, 255)
        level_iou[:] = 0.0
        f = space[0][NODES]
        nf = fg_tree(W, space, hist, start, True)
        for i in range(nf):
            iou = box_iou(f[X0, i], f[Y0, i], min(f[X1, i] + 1, W - 1),
                          min(f[Y1, i] + 1, H - 1), gt, a, e)
            for v in range(f[LO, i] + 1, f[HI, i] + 1):
                level_iou[v] = max(level_iou[v], iou)
        top = hole_top(f, nf, needed)
        if top > 0:
            g = space[1][NODES]
            for i in range(bg_tree(W, space, hist, start, top)):
                iou = box_iou(g[X0, i] - 1, g[Y0, i] - 1, min(g[X1, i] + 2, W - 1),
                              min(g[Y1, i] + 2, H - 1), gt, a, e)
                for v in range(256 - g[HI, i], min(255 - g[LO, i], top) + 1):
                    level_iou[v] = max(level_iou[v], iou)
        _fill(best[b], levels, level_iou, peak, box_iou(0, 0, 0, 0, gt, a, e))
    return best, True


@nb.njit(**JIT)
def v1_iou_batch(maps, taus, gt, gt_start, space):
    """V1 (largest contour): ``(best (n, T), unsure (n, T) bool, levels (n, T), ok)``
    as :func:`v2_iou_batch`. ``unsure`` marks levels where outer borders of equal
    largest area give different IoUs: OpenCV's contour order decides (the caller
    traces them); where the tied boxes' IoUs agree the order does not matter."""
    n, H, W = maps.shape
    T = taus.size
    levels = np.zeros((n, T), np.int64)
    best = np.zeros((n, T))
    unsure = np.zeros((n, T), np.bool_)
    offsets = np.zeros(258, np.int64)
    buf = np.empty(1024, np.int64)
    area = np.empty(H * W, np.int64)
    level_iou = np.zeros(256)
    unsure_at = np.zeros(256, np.bool_)
    for b in range(n):
        a, e = gt_start[b], gt_start[b + 1]
        peak, hist, start = prepare(maps[b], taus, space, levels[b], False)
        if peak < 0:
            return best, unsure, levels, False
        needed = needed_levels(levels[b], peak, 255)
        m = fg_tree(W, space, hist, start, True)
        nd = space[0][NODES]
        known_areas(nd, m, area)
        buf = bucket(nd[LO, :m], nd[HI, :m], np.arange(m), needed, offsets, buf)
        unsure_at[:] = False
        for v in range(1, 256):
            if offsets[v + 1] == offsets[v]:
                continue
            win, tie = v1_winner(nd, buf, offsets[v], offsets[v + 1], area, space[2], H, W)
            iou = box_iou(nd[X0, win], nd[Y0, win], min(nd[X1, win] + 1, W - 1),
                          min(nd[Y1, win] + 1, H - 1), gt, a, e)
            level_iou[v] = iou
            if tie:                  # does the order matter? only if the IoUs differ
                for k in range(offsets[v], offsets[v + 1]):
                    i = buf[k]
                    if area[i] == area[win] and box_iou(
                            nd[X0, i], nd[Y0, i], min(nd[X1, i] + 1, W - 1),
                            min(nd[Y1, i] + 1, H - 1), gt, a, e) != iou:
                        unsure_at[v] = True
                        break
        _fill(best[b], levels[b], level_iou, peak, box_iou(0, 0, 0, 0, gt, a, e))
        for t in range(T):
            unsure[b, t] = 1 <= levels[b, t] <= peak and unsure_at[levels[b, t]]
    return best, unsure, levels, True
