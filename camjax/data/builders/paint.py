"""Colours, textures and the cluttered background of the camjax_shapes images.

Pure numpy, driven by the caller's ``Generator`` (the same draws in the same order as
when this code lived in render.py, so the images are bit-identical).
"""
from __future__ import annotations

import colorsys
import functools
import math

import numpy as np

BLOB_COUNT = (2, 6)                  # soft background blobs per image, [low, high)
LINE_COUNT = (1, 4)                  # background lines and arcs per image, [low, high)
TEXTURES = ("solid", "stripes", "checker", "dots", "gradient")


def _hsv(rng, s_range, v_range):
    h, s, v = rng.random(), rng.uniform(*s_range), rng.uniform(*v_range)
    return np.array(colorsys.hsv_to_rgb(h, s, v), np.float32) * 255


def _contrasting(rng, ref, min_dist, s_range=(0.35, 1.0), v_range=(0.3, 1.0), tries=8):
    best, best_d = None, -1.0
    for _ in range(tries):
        c = _hsv(rng, s_range, v_range)
        d = math.dist(c.tolist(), ref.tolist())
        if d >= min_dist:
            return c
        if d > best_d:
            best, best_d = c, d
    return best


def _contrasting2(rng, c1, bg, tries=8):
    best, best_d = None, -1.0
    for _ in range(tries):
        c = _hsv(rng, (0.35, 1.0), (0.3, 1.0))
        cl = c.tolist()
        d = min(math.dist(cl, c1.tolist()) / 70.0, math.dist(cl, bg.tolist()) / 60.0)
        if d >= 1.0:
            return c
        if d > best_d:
            best, best_d = c, d
    return best


def texture(rng, window, bg_mean, f):
    """An object-like texture (h, w, 3) float32 for the window; independent of the class."""
    wx0, wy0, wx1, wy1 = window
    x = np.arange(wx0, wx1, dtype=np.float32)[None, :] + 0.5
    y = np.arange(wy0, wy1, dtype=np.float32)[:, None] + 0.5
    kind = TEXTURES[rng.integers(len(TEXTURES))]
    c1 = _contrasting(rng, bg_mean, 90.0)
    shade = rng.random() < 0.5
    c2 = c1 * np.float32(0.45) if rng.random() < 0.5 else c1 + (255 - c1) * np.float32(0.6)
    if not shade or math.dist(c2.tolist(), bg_mean.tolist()) < 60.0:
        # a second colour far from both c1 and the background, so no texture band
        # melts into the background and breaks the outline
        c2 = _contrasting2(rng, c1, bg_mean)
    a = rng.uniform(0, np.pi)
    ca, sa = np.float32(np.cos(a)), np.float32(np.sin(a))
    p = x * ca + y * sa
    if kind == "solid":    # light shading across the window
        c2, k = c1 * np.float32(0.6), rng.uniform(0, 0.25)
        t = (p - p.min()) * np.float32(k / max(float(np.ptp(p)), 1.0))
    elif kind == "stripes":
        period = rng.uniform(4, 10) * f
        t = np.sin(p * np.float32(2 * np.pi / period)) * np.float32(2) + np.float32(0.5)
        t = np.clip(t, 0, 1)
    elif kind == "checker":
        cell = np.float32(rng.uniform(3, 8) * f)
        q = y * ca - x * sa
        t = (np.floor(p / cell) + np.floor(q / cell)) % 2
    elif kind == "dots":
        spacing = np.float32(rng.uniform(5, 10) * f)
        radius = spacing * np.float32(rng.uniform(0.22, 0.38))
        fp, fq = p / spacing, (y * ca - x * sa) / spacing
        d = np.hypot(fp - np.round(fp), fq - np.round(fq)) * spacing
        t = np.clip(radius + np.float32(0.5) - d, 0, 1)
    else:   # gradient across the window
        t = (p - p.min()) * np.float32(1.0 / max(float(np.ptp(p)), 1.0))
    return c1 + t[..., None] * (c2 - c1).astype(np.float32)


def composite(img, window, alpha, colour):
    wx0, wy0, wx1, wy1 = window
    region = img[wy0:wy1, wx0:wx1]
    tmp = np.subtract(colour, region, dtype=np.float32)
    tmp *= alpha[..., None]
    region += tmp


# ----------------------------------------------------------------- background
@functools.lru_cache(maxsize=None)
def _interp_matrix(n, g):
    """(n, g) linear interpolation weights from g evenly spaced nodes to n pixels."""
    pos = np.linspace(0, g - 1, n)
    i0 = np.minimum(np.floor(pos).astype(int), g - 2)
    t = pos - i0
    m = np.zeros((n, g), np.float32)
    m[np.arange(n), i0] = 1 - t
    m[np.arange(n), i0 + 1] = t
    return m


def _grid(window):
    wx0, wy0, wx1, wy1 = window
    return (np.arange(wx0, wx1, dtype=np.float32)[None, :] + 0.5,
            np.arange(wy0, wy1, dtype=np.float32)[:, None] + 0.5)


def _clip_window(x0, y0, x1, y1, n):
    w = (min(max(math.floor(x0), 0), n), min(max(math.floor(y0), 0), n),
         min(max(math.ceil(x1), 0), n), min(max(math.ceil(y1), 0), n))
    return w if w[2] > w[0] and w[3] > w[1] else None


def background(rng, n, f):
    g = int(rng.integers(3, 6))
    base = _hsv(rng, (0.0, 0.5), (0.3, 0.95))
    nodes = np.clip(base + rng.normal(0, 35, (g, g, 3)), 0, 255).astype(np.float32)
    a = _interp_matrix(n, g)
    img = np.ascontiguousarray((a @ nodes.transpose(2, 0, 1) @ a.T).transpose(1, 2, 0))
    for _ in range(int(rng.integers(*BLOB_COUNT))):       # soft elliptical blobs
        cx, cy = rng.uniform(0, n, 2)
        sx, sy = rng.uniform(4, 16, 2) * f
        t = rng.uniform(0, np.pi)
        peak = rng.uniform(0.3, 0.8)
        colour = _hsv(rng, (0.0, 1.0), (0.2, 1.0))
        r = 2.5 * max(sx, sy)
        win = _clip_window(cx - r, cy - r, cx + r, cy + r, n)
        if win is None:
            continue
        xx, yy = _grid(win)
        dx, dy = xx - np.float32(cx), yy - np.float32(cy)
        c, s = np.float32(np.cos(t)), np.float32(np.sin(t))
        pu = (dx * c + dy * s) / np.float32(sx)
        pv = (dy * c - dx * s) / np.float32(sy)
        composite(img, win, np.float32(peak) * np.exp(-0.5 * (pu * pu + pv * pv)), colour)
    for _ in range(int(rng.integers(*LINE_COUNT))):       # lines and arcs
        width = rng.uniform(0.8, 2.5) * f
        pad = width + 1
        if rng.random() < 0.6:
            p0, p1 = rng.uniform(-0.1 * n, 1.1 * n, (2, 2))
            win = _clip_window(min(p0[0], p1[0]) - pad, min(p0[1], p1[1]) - pad,
                               max(p0[0], p1[0]) + pad, max(p0[1], p1[1]) + pad, n)
            d = (p1 - p0).astype(np.float32)
            p0 = p0.astype(np.float32)
            if win is not None:
                xx, yy = _grid(win)
                tt = np.clip(((xx - p0[0]) * d[0] + (yy - p0[1]) * d[1]) / max(d @ d, 1e-6), 0, 1)
                dist = np.hypot(xx - p0[0] - tt * d[0], yy - p0[1] - tt * d[1])
        else:
            cx, cy = rng.uniform(0, n, 2)
            r = rng.uniform(5, 40) * f
            start, span = rng.uniform(0, 2 * np.pi), rng.uniform(np.pi / 3, 1.5 * np.pi)
            win = _clip_window(cx - r - pad, cy - r - pad, cx + r + pad, cy + r + pad, n)
            if win is not None:
                xx, yy = _grid(win)
                dx, dy = xx - np.float32(cx), yy - np.float32(cy)
                ang = (np.arctan2(dy, dx) - np.float32(start)) % np.float32(2 * np.pi)
                dist = np.where(ang <= span, np.abs(np.hypot(dx, dy) - np.float32(r)), np.inf)
        strength = rng.uniform(0.5, 1.0)
        colour = _hsv(rng, (0.0, 1.0), (0.1, 1.0))
        if win is not None:
            alpha = np.clip(np.float32(width / 2 + 0.5) - dist, 0, 1) * np.float32(strength)
            composite(img, win, alpha.astype(np.float32), colour)
    return img
