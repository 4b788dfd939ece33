"""The official box generator of the CAM release (``bboxgenerator/dt_box.cpp``).

For each threshold ``t`` of a uint8 heatmap at image size:

1. ``binary = heatmap > t``;
2. exact Euclidean distance of each foreground pixel to the nearest background
   pixel, scaled by ``255 / (max - min)`` and rounded half up; keep pixels whose
   scaled value is ``> 10`` (a relative erosion). An all-foreground or
   all-background map is left as it is (``max == min``: the C code returns early);
3. every contour (outer and hole, ``RETR_CCOMP``), its bounding rectangle
   ``(x, y, w, h)``, clamped as the C++ ``LIMIT`` calls do, so that a box ends at
   least 5 pixels inside the right and bottom edges.

The rectangles of all thresholds are pooled, sorted by area, largest first, with
``std::sort`` (not stable: :mod:`camjax.boxes._stdsort` replays GCC's algorithm so
that ties fall the same way), and de-duplicated: for each ``i`` in order and each
``j`` after it, if the intersection of ``i`` and ``j`` exceeds half the larger area
(integer-truncated), ``j`` is erased and, as the C++ loop does, the element that
moves into ``j``'s place is skipped. The first rectangle is "loose", the second
"tight".

The C++ program was built against OpenCV 2.x, whose contour tracing sets the
1-pixel image border to background first (a contour touching the image edge is
clipped); OpenCV >= 3.2 pads the image instead. ``border="zero"`` (default)
reproduces the original build, ``border="pad"`` today's OpenCV.

The gray heatmap: the C++ program reads its JPEG with ``cvLoadImage(path, 0)``,
libjpeg's grayscale output (the decoded luma plane). :func:`read_heatmap` does the
same with Pillow (``draft("L")``); for the released test heatmap every decoder and
channel agrees.
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from camjax.boxes._stdsort import std_sort

OFFICIAL_THRESHOLDS = (20, 100, 110)   # the thresholds of the paper's ILSVRC runs
CPP_DEFAULT_THRESHOLDS = (30, 90, 150)


def read_heatmap(path) -> np.ndarray:
    """A heatmap image file as the C++ program sees it: (H, W) uint8 luma."""
    from PIL import Image
    with Image.open(path) as im:
        if im.mode not in ("L", "RGB", "YCbCr"):
            return np.asarray(im.convert("L"))
        im.draft("L", im.size)          # JPEG: decoder's grayscale output, as libjpeg's
        return np.asarray(im.convert("L"))


def _check_heatmap(heatmap) -> np.ndarray:
    arr = np.asarray(heatmap)
    if arr.ndim != 2:
        raise ValueError(f"heatmap must be (H, W), got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise TypeError(f"heatmap must be uint8 0..255 (the official generator's input), "
                        f"got dtype {arr.dtype}; scale float maps with np.uint8(m * 255) "
                        "or use largest_component_boxes / wsol_boxes for float maps")
    if min(arr.shape) < 1:
        raise ValueError(f"heatmap is empty, shape {arr.shape}")
    return arr


def eroded_mask(heatmap_u8: np.ndarray, threshold: int) -> np.ndarray:
    """Steps 1-2: the binary map after the distance-transform erosion, uint8 0/255."""
    binary = heatmap_u8 > threshold
    if binary.all() or not binary.any():
        return binary.astype(np.uint8) * 255       # max == min: left as thresholded
    dist = ndimage.distance_transform_edt(binary)  # exact, float64 sqrt of integer d^2
    scale = 255.0 / (dist.max() - dist.min())
    scaled = np.floor(dist * scale + 0.5)          # ROUND(t) = (int)(t + 0.5), t >= 0
    return (np.minimum(scaled, 255) > 10).astype(np.uint8) * 255


def _rects(mask: np.ndarray, border: str) -> list[tuple[int, int, int, int]]:
    H, W = mask.shape
    if border == "zero":
        mask = mask.copy()
        mask[0, :] = mask[-1, :] = 0
        mask[:, 0] = mask[:, -1] = 0
    contours = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)[-2]

    def limit(v, lo, hi):
        return lo if v < lo else (hi if v > hi else v)

    out = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        out.append((limit(x, 0, W - 5), limit(y, 0, H - 5),
                    limit(w, 0, W - x - 5), limit(h, 0, H - y - 5)))
    return out


def _big_overlap(a, b) -> bool:
    t = int(max(a[2] * a[3], b[2] * b[3]) * 0.5)
    xo = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    yo = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return xo * yo > t


def merge_rects(rects: list) -> list:
    """Sort by area (GCC ``std::sort``) and drop duplicates as the C++ ``mergeBBox`` does."""
    rects = list(rects)
    std_sort(rects, lambda a, b: a[2] * a[3] > b[2] * b[3])
    i = 0
    while i < len(rects):
        j = i + 1
        while j < len(rects):
            if _big_overlap(rects[i], rects[j]):
                del rects[j]           # erase j; the loop's ++j then skips its successor
            j += 1
        i += 1
    return rects


def dt_box(heatmap_u8, thresholds=OFFICIAL_THRESHOLDS, *, border: str = "zero"):
    """The official generator on one uint8 heatmap: list of (x, y, w, h), official order.

    The first rectangle is the "loose" box, the second the "tight" one. Note the
    C++ program only accepts thresholds with ``0 < t0 < t1 < t2 < 255`` (else it keeps
    its defaults 30, 90, 150); any list of ints in 0..255 is accepted here.
    """
    heat = _check_heatmap(heatmap_u8)
    if border not in ("zero", "pad"):
        raise ValueError(f"border must be 'zero' (OpenCV 2.x, the original build) or "
                         f"'pad' (OpenCV >= 3.2), got {border!r}")
    ths = [int(t) for t in np.atleast_1d(thresholds)]
    if not ths or any(t < 0 or t > 255 for t in ths):
        raise ValueError(f"thresholds must be ints in 0..255, got {thresholds}")
    rects = []
    for t in ths:
        rects.extend(_rects(eroded_mask(heat, t), border))
    return merge_rects(rects)


def xywh_to_xyxy(rect) -> tuple[int, int, int, int]:
    """An official (x, y, w, h) as a camjax inclusive box (x0, y0, x1, y1).

    The official evaluation draws and scores ``(x, y)`` to ``(x + w, y + h)``; as
    inclusive pixel bounds that is ``x1 = x + w``.
    """
    x, y, w, h = rect
    return int(x), int(y), int(x + w), int(y + h)


def heuristic_boxes(maps_u8, thresholds=OFFICIAL_THRESHOLDS, *, border: str = "zero"):
    """The 5 boxes of the paper's Table 3 heuristic from the top-3 classes' heatmaps.

    ``maps_u8`` (3, H, W) uint8, best class first. Returns ``(classes, boxes)``:
    class ranks ``[0, 0, 1, 1, 2]`` and 5 (x, y, w, h) rectangles: top-1 loose and
    tight, top-2 loose and tight, top-3 loose. A class whose heatmap yields one
    rectangle repeats it as its "tight" box; one that yields none (an all-zero
    heatmap) gives the whole-image rectangle clamped as the generator clamps.
    """
    maps = np.asarray(maps_u8)
    if maps.ndim != 3 or maps.shape[0] < 3:
        raise ValueError(f"maps_u8 must be (3, H, W) (top-3 classes), got shape {maps.shape}")
    H, W = maps.shape[1:]
    fallback = (0, 0, max(W - 5, 0), max(H - 5, 0))
    classes, boxes = [], []
    for rank, take in ((0, 2), (1, 2), (2, 1)):
        rects = dt_box(maps[rank], thresholds, border=border) or [fallback]
        rects = (rects + rects[:1])[:2] if take == 2 else rects[:1]
        classes.extend([rank] * take)
        boxes.extend(rects)
    return classes, boxes
