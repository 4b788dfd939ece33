"""Pure numpy rendering of the camjax_shapes images (no TensorFlow, no I/O).

One image holds one object whose class is its *shape*; colour, texture, size,
position, small rotation and mirroring are drawn independently of the class.
The background is a smooth low-frequency colour field with clutter (soft blobs,
lines, arcs) and distractor fragments: pieces cut from random shapes, with the
same colour/texture distribution as objects, kept mostly off the object. The
object is drawn last (never occluded); its anti-aliased coverage >= 0.5 is the
mask and the mask's bounding box is the box.

Everything is a function of a numpy ``Generator``; :func:`render_indexed` derives
it from (seed, split, index), so an example is the same wherever it is rendered
(bit-exact for a given numpy version).
"""
from __future__ import annotations

import math
import zlib

import numpy as np
from scipy import ndimage

from camjax.data.builders.paint import texture, composite, background
from camjax.data.builders.silhouettes import extent_points, outline, shape_inside

CLASS_NAMES = ("disk", "square", "triangle", "star", "cross", "ring", "hexagon",
               "crescent", "heart", "arrow", "diamond", "l_shape")
NUM_CLASSES = len(CLASS_NAMES)
SIZE_RANGE = (0.15, 0.60)      # larger side of the object's box, fraction of the image side
FRAGMENT_SIZE_RANGE = (0.10, 0.22)   # side of the shape a fragment is cut from
FRAGMENT_COUNT = (2, 5)              # distractor fragments per image, [low, high)
MAX_ROTATION_DEG = 25.0
SUPERSAMPLE = 3                # sub-pixels per side for the anti-aliased coverage


# ----------------------------------------------------------------- geometry
class _Pose:
    """Canonical (u, v) <-> image (x, y): rotate, mirror, anisotropic scale, translate."""

    def __init__(self, rng, name, side_px, image_size):
        self.theta = np.deg2rad(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
        self.mirror = 1.0 if rng.random() < 0.5 else -1.0
        self.aspect = float(np.exp(rng.uniform(np.log(0.85), np.log(1.15))))
        c, s = np.cos(self.theta), np.sin(self.theta)
        p = extent_points(name)
        su, sv = self.mirror * self.aspect * p[:, 0], p[:, 1] / self.aspect
        ox, oy = c * su - s * sv, s * su + c * sv          # offsets at scale 1
        self.scale = side_px / max(np.ptp(ox), np.ptp(oy))
        self.lo = np.array([ox.min(), oy.min()]) * self.scale
        self.hi = np.array([ox.max(), oy.max()]) * self.scale
        margin = 2.0     # pixels between the extent and the image border
        lo_c = margin - self.lo
        hi_c = image_size - margin - self.hi
        self.centre = rng.uniform(lo_c, np.maximum(hi_c, lo_c))

    def place(self, centre):
        self.centre = np.asarray(centre, float)

    def box(self):
        """Continuous extent (x0, y0, x1, y1) in image coordinates."""
        return np.concatenate([self.centre + self.lo, self.centre + self.hi])

    def to_canonical(self, x, y):
        dx, dy = x - float(self.centre[0]), y - float(self.centre[1])
        c, s = float(np.cos(self.theta)), float(np.sin(self.theta))
        ku = float(self.mirror / (self.scale * self.aspect))
        kv = float(self.aspect / self.scale)
        u = (c * dx + s * dy) * ku
        v = (-s * dx + c * dy) * kv
        return u, v


def _window(pose, image_size):
    x0, y0, x1, y1 = (float(t) for t in pose.box())
    n = image_size
    return (min(max(math.floor(x0) - 1, 0), n), min(max(math.floor(y0) - 1, 0), n),
            min(max(math.ceil(x1) + 1, 0), n), min(max(math.ceil(y1) + 1, 0), n))


def _coverage(pose, name, window, cut=None, ss=SUPERSAMPLE):
    """Anti-aliased coverage in [0, 1] of the window (H, W) by the (cut) shape."""
    wx0, wy0, wx1, wy1 = window
    sub = (np.arange(ss, dtype=np.float32) + 0.5) / ss
    xs = (np.arange(wx0, wx1, dtype=np.float32)[:, None] + sub).ravel()
    ys = (np.arange(wy0, wy1, dtype=np.float32)[:, None] + sub).ravel()
    u, v = pose.to_canonical(xs[None, :], ys[:, None])
    inside = shape_inside(name, u, v)
    if cut is not None:
        inside &= cut(u, v)
    h, w = wy1 - wy0, wx1 - wx0
    counts = inside.reshape(h, ss, w, ss).sum(axis=(1, 3), dtype=np.uint8)
    return counts.astype(np.float32) * np.float32(1.0 / (ss * ss))


def _overlap_fraction(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = max((a[2] - a[0]) * (a[3] - a[1]), 1e-6)
    return iw * ih / area


def _fragment_cut(rng, name):
    """A random part of a canonical shape: a half-plane or a disk around a boundary point."""
    if rng.random() < 0.5:
        t = rng.uniform(0, 2 * np.pi)
        nu, nv, d = np.cos(t), np.sin(t), rng.uniform(-0.3, 0.3)
        return lambda u, v: u * nu + v * nv >= d
    pts = outline(name)
    cu, cv = pts[rng.integers(len(pts))]
    r2 = rng.uniform(0.5, 0.8) ** 2
    return lambda u, v: (u - cu) ** 2 + (v - cv) ** 2 <= r2


# ----------------------------------------------------------------- examples
def render_example(seed_or_rng, image_size: int = 112, label: int | None = None) -> dict:
    """Render one example.

    Args:
      seed_or_rng: a ``np.random.Generator``, or anything ``np.random.default_rng`` takes.
      image_size: side of the square image.
      label: force the class (the other random draws do not depend on it); drawn
        uniformly when None.

    Returns:
      dict(image=uint8 (H, W, 3), mask=bool (H, W), label=int,
           box=int64 (4,) inclusive (x0, y0, x1, y1) = bounding box of the mask).
    """
    rng = (seed_or_rng if isinstance(seed_or_rng, np.random.Generator)
           else np.random.default_rng(seed_or_rng))
    n, f = int(image_size), image_size / 112.0
    drawn = int(rng.integers(NUM_CLASSES))
    label = drawn if label is None else int(label)
    if not 0 <= label < NUM_CLASSES:
        raise ValueError(f"label must be in [0, {NUM_CLASSES}), got {label}")
    name = CLASS_NAMES[label]

    img = background(rng, n, f)
    side = rng.uniform(*SIZE_RANGE) * n
    pose = _Pose(rng, name, side, n)
    obj_box = pose.box()

    for _ in range(int(rng.integers(*FRAGMENT_COUNT))):   # distractor fragments
        fname = CLASS_NAMES[rng.integers(NUM_CLASSES)]
        fpose = _Pose(rng, fname, rng.uniform(*FRAGMENT_SIZE_RANGE) * n, n)
        cut = _fragment_cut(rng, fname)
        for _ in range(10):    # keep fragments mostly off the object
            if _overlap_fraction(fpose.box(), obj_box) <= 0.15:
                break
            fpose.place(rng.uniform(0, n, 2))
        win = _window(fpose, n)
        if win[2] - win[0] < 2 or win[3] - win[1] < 2:
            continue
        cov = _coverage(fpose, fname, win, cut=cut, ss=2)
        wx0, wy0, wx1, wy1 = win
        tex = texture(rng, win, img[wy0:wy1, wx0:wx1].mean((0, 1)), f)
        composite(img, win, cov, tex)

    win = _window(pose, n)
    wx0, wy0, wx1, wy1 = win
    cov = _coverage(pose, name, win)
    tex = texture(rng, win, img[wy0:wy1, wx0:wx1].mean((0, 1)), f)
    composite(img, win, cov, tex)
    mask = np.zeros((n, n), bool)
    mask[wy0:wy1, wx0:wx1] = cov >= 0.5
    _outline_object(img, mask, f)

    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(2, 6))
    image = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(mask)
    box = np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.int64)
    return {"image": image, "mask": mask, "label": label, "box": box}


def _outline_object(img, mask, f) -> None:
    """Stroke the object's silhouette just inside its mask, dark on light objects and light
    on dark ones, as clip-art does. A tiny network learns whole shapes from it in minutes,
    where fragments (no outline) and clutter would otherwise hold training at chance for
    thousands of steps; the class still lies only in the outline's shape."""
    width = max(1, int(round(1.5 * f)))
    edge = mask & ~ndimage.binary_erosion(mask, iterations=width)
    luminance = img[mask] @ np.array([0.299, 0.587, 0.114], np.float32)
    img[edge] = 25.0 if luminance.mean() > 110 else 230.0


def example_rng(split: str, index: int, seed: int = 0) -> np.random.Generator:
    """The generator of example ``index`` of ``split`` (stable across runs and machines)."""
    key = zlib.crc32(split.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence([int(seed), key, int(index)]))


def render_indexed(split: str, index: int, seed: int = 0, image_size: int = 112) -> dict:
    """Example ``index`` of ``split``: classes are balanced (label = index % NUM_CLASSES)."""
    return render_example(example_rng(split, index, seed), image_size=image_size,
                          label=index % NUM_CLASSES)
