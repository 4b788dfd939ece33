"""The camjax_shapes silhouettes in a canonical frame (u right, v down, about [-1, 1]^2):
point membership, outline polyline and the points whose hull is the shape's hull."""
from __future__ import annotations

import functools

import numpy as np


def _regular(n, r=1.0, phase_deg=-90.0):
    t = np.deg2rad(phase_deg) + 2 * np.pi * np.arange(n) / n
    return np.stack([r * np.cos(t), r * np.sin(t)], -1)


def _star(points=5, outer=1.0, inner=0.42):
    t = np.deg2rad(-90.0) + np.pi * np.arange(2 * points) / points
    r = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return np.stack([r * np.cos(t), r * np.sin(t)], -1)


_W = 0.32  # half width of the cross arms
_POLYGONS = {   # canonical frame: u right, v down, about [-1, 1]^2
    "square": np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], float),
    "triangle": _regular(3),
    "star": _star(),
    "cross": np.array([(-_W, -1), (_W, -1), (_W, -_W), (1, -_W), (1, _W), (_W, _W), (_W, 1),
                       (-_W, 1), (-_W, _W), (-1, _W), (-1, -_W), (-_W, -_W)], float),
    "hexagon": _regular(6, phase_deg=0.0),
    "arrow": np.array([(-1, -0.22), (0.15, -0.22), (0.15, -0.62), (1, 0), (0.15, 0.62),
                       (0.15, 0.22), (-1, 0.22)], float),
    "diamond": np.array([(0, -1), (0.62, 0), (0, 1), (-0.62, 0)], float),
    "l_shape": np.array([(-0.75, -1), (-0.12, -1), (-0.12, 0.38), (0.75, 0.38), (0.75, 1),
                         (-0.75, 1)], float),
}


def _in_polygon(u, v, verts):
    """Even-odd rule, vectorised over points, looped over the (few) edges."""
    inside = np.zeros(u.shape, bool)
    for xi, yi, slope, lo, hi in _edges(verts.tobytes(), len(verts)):
        crosses = (v >= lo) & (v < hi)
        crosses &= u < (v - yi) * slope + xi
        inside ^= crosses
    return inside


@functools.lru_cache(maxsize=None)
def _edges(buf, n):
    """Non-horizontal edges as (x_i, y_i, dx/dy, y_lo, y_hi) float32 scalars."""
    verts = np.frombuffer(buf, float).reshape(n, 2)
    out = []
    for i in range(n):
        (xi, yi), (xj, yj) = verts[i], verts[i - 1]
        if yi != yj:
            out.append(tuple(np.float32(t) for t in
                             (xi, yi, (xj - xi) / (yj - yi), min(yi, yj), max(yi, yj))))
    return tuple(out)


def shape_inside(name: str, u, v):
    """Boolean membership of canonical points (u, v) in shape ``name``."""
    if name in _POLYGONS:
        return _in_polygon(u, v, _POLYGONS[name])
    r2 = u * u + v * v
    if name == "disk":
        return r2 <= 1.0
    if name == "ring":
        return (r2 <= 1.0) & (r2 >= 0.56 ** 2)
    if name == "crescent":
        return (r2 <= 1.0) & ((u - 0.45) ** 2 + v * v >= 0.8 ** 2)
    if name == "heart":
        x2, y = (1.2 * u) ** 2, -1.2 * v + 0.15
        t = x2 + y * y - 1
        return t * t * t <= x2 * y * y * y
    raise KeyError(name)


@functools.lru_cache(maxsize=None)
def outline(name: str) -> np.ndarray:
    """Boundary points (n, 2) of a canonical shape (extents, fragment cut centres)."""
    g = np.linspace(-1.4, 1.4, 141)
    uu, vv = np.meshgrid(g, g)
    m = shape_inside(name, uu, vv)
    interior = m.copy()
    interior[1:-1, 1:-1] &= m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    edge = m & ~interior
    return np.stack([uu[edge], vv[edge]], -1)


@functools.lru_cache(maxsize=None)
def extent_points(name: str) -> np.ndarray:
    """Points whose hull is the shape's hull: polygon vertices, else the outline."""
    return _POLYGONS[name] if name in _POLYGONS else outline(name)
