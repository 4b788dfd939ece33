"""Where MaxBoxAcc's time goes in camjax, phase by phase (bench/maxboxacc.py).

One thread runs the compiled kernel's steps (camjax.boxes._wsol_tree, _wsol_iou) on
every map, stopping after phase k; phase k's time is the difference between stopping
after k and after k - 1, in CPU time of the one thread, the least of repeated runs
per chunk of 10 maps (so that other work on a shared machine counts least; phases
of a few hundredths of a millisecond stay within that noise). The driver repeats
the kernel's control flow, so its full run is checked against the kernel's first.
What is left of ``BoxAccumulator.update`` + ``result`` with one worker (input
checks, the V1 tie tracing with OpenCV, Python) is the last row.
"""
from __future__ import annotations

import time

import numba as nb
import numpy as np

from camjax.boxes._compiled import bucket, needed_levels
from camjax.boxes._unionfind import HI, LO, NODES, X0, X1, Y0, Y1
from camjax.boxes._wsol_iou import _fill, box_iou, v1_iou_batch, v2_iou_batch
from camjax.boxes._wsol_tree import (bg_tree, fg_tree, hole_top, known_areas, order_pixels,
                                     to_levels, v1_winner, wsol_space)
from camjax.evaluation import BoxAccumulator

PHASES = ("to uint8 and histogram", "ring masks and level order", "foreground tree",
          "V2: background tree (to the highest level with a hole) / V1: largest outer border",
          "IoU per node (V2) or per level's box (V1), max per level",
          "per threshold: its level's IoU")


@nb.njit(nogil=True, cache=True)
def _staged(maps, taus, gt, gs, multi, stop, space):
    n, H, W = maps.shape
    T = taus.size
    fl = space[2]
    levels = np.zeros(T, np.int64)
    level_iou = np.zeros(256)
    best = np.zeros((n, T))
    offsets = np.zeros(258, np.int64)
    buf = np.empty(1024, np.int64)
    area = np.empty(H * W, np.int64)
    win_at = np.zeros(256, np.int64)
    for b in range(n):
        a, e = gs[b], gs[b + 1]
        peak, hist = to_levels(maps[b], taus, space, levels)
        if stop < 2:
            continue
        start = order_pixels(space, hist, H, W, multi)
        if stop < 3:
            continue
        nf = fg_tree(W, space, hist, start, True)
        needed = needed_levels(levels, peak, 255)
        f = space[0][NODES]
        if stop < 4:
            continue
        nb_ = 0
        top = 0
        if multi:
            top = hole_top(f, nf, needed)
            if top > 0:
                nb_ = bg_tree(W, space, hist, start, top)
        else:
            known_areas(f, nf, area)
            buf = bucket(f[LO, :nf], f[HI, :nf], np.arange(nf), needed, offsets, buf)
            for v in range(1, 256):
                if offsets[v + 1] > offsets[v]:
                    win_at[v] = v1_winner(f, buf, offsets[v], offsets[v + 1], area, fl, H, W)[0]
        if stop < 5:
            continue
        level_iou[:] = 0.0
        if multi:
            for i in range(nf):
                iou = box_iou(f[X0, i], f[Y0, i], min(f[X1, i] + 1, W - 1),
                              min(f[Y1, i] + 1, H - 1), gt, a, e)
                for v in range(f[LO, i] + 1, f[HI, i] + 1):
                    level_iou[v] = max(level_iou[v], iou)
            g = space[1][NODES]
            for i in range(nb_):
                iou = box_iou(g[X0, i] - 1, g[Y0, i] - 1, min(g[X1, i] + 2, W - 1),
                              min(g[Y1, i] + 2, H - 1), gt, a, e)
                for v in range(256 - g[HI, i], min(255 - g[LO, i], top) + 1):
                    level_iou[v] = max(level_iou[v], iou)
        else:
            for v in range(1, 256):
                if offsets[v + 1] > offsets[v]:
                    i = win_at[v]
                    level_iou[v] = box_iou(f[X0, i], f[Y0, i], min(f[X1, i] + 1, W - 1),
                                           min(f[Y1, i] + 1, H - 1), gt, a, e)
        if stop < 6:
            continue
        _fill(best[b], levels, level_iou, peak, box_iou(0, 0, 0, 0, gt, a, e))
    return best


def _min_cpu(fn, chunks, repeats):
    """Sum over chunks of the least CPU time of ``fn(a, b)`` over ``repeats`` runs: the
    least is the run others' work disturbed least."""
    best = [float("inf")] * len(chunks)
    for _ in range(repeats):
        for i, (a, b) in enumerate(chunks):
            t = time.thread_time()
            fn(a, b)
            best[i] = min(best[i], time.thread_time() - t)
    return sum(best)


def phase_table(maps, gts, taus, repeats: int = 3, chunk: int = 10) -> list[str]:
    """The per-phase table (markdown lines), CPU ms/map, V1 and V2, one thread."""
    gt = np.ascontiguousarray(np.concatenate(gts).astype(np.int64))
    gs = np.concatenate([[0], np.cumsum([len(g) for g in gts])]).astype(np.int64)
    n = len(maps)
    chunks = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
    space = wsol_space(*maps.shape[1:])
    cols = {}
    for name, multi, ious in (("V1", False, (0.5,)), ("V2", True, (0.3, 0.5, 0.7))):
        full = _staged(maps, taus, gt, gs, multi, 6, space)
        # the kernel's own IoUs (V1: before OpenCV traces the tied levels)
        want = (v2_iou_batch(maps, taus, gt, gs, space)[0] if multi else
                v1_iou_batch(maps, taus, gt, gs, space)[0])
        assert np.array_equal(full, want), "the phase driver departs from the kernel"

        def stage(s):
            return lambda a, b: _staged(maps[a:b], taus, gt, gs[a:b + 1], multi, s, space)

        def whole(a, b):
            acc = BoxAccumulator(taus, ious, multi_contour=multi, workers=1)
            acc.update(maps[a:b], gts[a:b])
            acc.result()

        cum = [_min_cpu(stage(s), chunks, repeats) / n * 1e3 for s in range(1, 7)]
        total = _min_cpu(whole, chunks, repeats) / n * 1e3
        step = [c - p for c, p in zip(cum, [0.0] + cum[:-1])]
        cols[name] = step + [total - cum[-1], total]
    lines = ["| phase | V1 | V2 |", "|---|---:|---:|"]
    names = [*PHASES, "the rest of update + result (checks, V1 ties by OpenCV, Python)",
             "**BoxAccumulator.update + result, 1 worker**"]
    for i, name in enumerate(names):
        lines.append(f"| {name} | {cols['V1'][i]:.3f} | {cols['V2'][i]:.3f} |")
    return lines
