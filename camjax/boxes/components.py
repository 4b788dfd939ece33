"""The paper's box rule (algorithms.md 2a), reference implementation with scikit-image.

Keep pixels above ``threshold`` x the map's max, label 8-connected components,
take the largest by pixel count (ties: the first in raster order, the lowest
label), return its bounding box (x0, y0, x1, y1), inclusive. A map with no
pixel above the threshold (e.g. all zeros) gives the box (0, 0, 0, 0), the
no-contour box of the WSOL code, so that every map yields one box.
"""
from __future__ import annotations

import numpy as np
from skimage import measure

from camjax.boxes.checks import check_maps, check_thresholds

EMPTY_BOX = (0, 0, 0, 0)


def box_of_largest_component(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box of the largest 8-connected component of a boolean (H, W) mask."""
    labels, count = measure.label(mask, connectivity=2, return_num=True)
    if count == 0:
        return EMPTY_BOX
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    ys, xs = np.nonzero(labels == int(np.argmax(sizes)))
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def largest_component_boxes(maps, threshold=0.2) -> np.ndarray:
    """Boxes of the paper rule for maps (..., H, W).

    ``threshold`` is a fraction of each map's max: a float gives boxes of shape
    (..., 4); a sequence of T thresholds gives (..., T, 4) in one call.
    """
    maps = check_maps(maps, "maps")
    scalar = np.ndim(threshold) == 0
    thresholds = check_thresholds(np.atleast_1d(threshold), "threshold")
    flat = maps.reshape(-1, *maps.shape[-2:])
    out = np.zeros((flat.shape[0], len(thresholds), 4), np.int64)
    for i, m in enumerate(flat):
        peak = m.max()
        for j, t in enumerate(thresholds):
            out[i, j] = box_of_largest_component(m > t * peak)
    out = out.reshape(*maps.shape[:-2], len(thresholds), 4)
    return out[..., 0, :] if scalar else out
