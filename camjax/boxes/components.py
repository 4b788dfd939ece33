"""The paper's box rule (algorithms.md 2a): reference with scikit-image, fast host paths.

Keep pixels above ``threshold`` x the map's max, label 8-connected components,
take the largest by pixel count (ties: the first in raster order, the lowest
label), return its bounding box (x0, y0, x1, y1), inclusive. A map with no
pixel above the threshold (e.g. all zeros) gives the box (0, 0, 0, 0), the
no-contour box of the WSOL code, so that every map yields one box.

The foreground is ``m > threshold * max(m)`` with the product in float64 (NumPy
promotes the float64 threshold), for every implementation.

* :func:`largest_component_boxes_reference`: ``skimage.measure.label`` per map and
  threshold, the reference.
* :func:`largest_component_boxes`: one threshold -> OpenCV's
  ``connectedComponentsWithStats`` per map (sizes and boxes in one C pass; OpenCV
  numbers components in its own scan order, so equal sizes are resolved by each
  component's first raster pixel); several thresholds -> one component tree for
  all of them (:func:`camjax.boxes.sweep.component_boxes_sweep`).
"""
from __future__ import annotations

import cv2
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


def box_of_largest_component_cv2(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Same as :func:`box_of_largest_component`, with OpenCV's labelling."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    if count <= 1:
        return EMPTY_BOX
    area = stats[1:, cv2.CC_STAT_AREA]
    best = np.flatnonzero(area == area.max()) + 1
    if best.size > 1:               # a tie: the component whose first raster pixel is first
        flat = labels.ravel()
        firsts = [int(np.argmax(flat == b)) for b in best]
        best = best[int(np.argmin(firsts))]
    else:
        best = best[0]
    x, y, w, h = (int(v) for v in stats[best, :4])
    return x, y, x + w - 1, y + h - 1


def largest_component_boxes_reference(maps, threshold=0.2) -> np.ndarray:
    """The paper rule with one ``skimage.measure.label`` per map and threshold.

    Same arguments and results as :func:`largest_component_boxes`.
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


def largest_component_boxes(maps, threshold=0.2) -> np.ndarray:
    """Boxes of the paper rule for maps (..., H, W).

    ``threshold`` is a fraction of each map's max: a float gives boxes of shape
    (..., 4); a sequence of T thresholds gives (..., T, 4) in one call. Several
    thresholds cost one pass: the nested foregrounds are read off one component
    tree (:func:`camjax.boxes.sweep.component_boxes_sweep`). The boxes are those of
    :func:`largest_component_boxes_reference`.
    """
    if np.ndim(threshold) != 0:
        from camjax.boxes.sweep import component_boxes_sweep
        return component_boxes_sweep(maps, threshold)
    maps = check_maps(maps, "maps")
    t = check_thresholds(np.atleast_1d(threshold), "threshold")[0]   # np.float64: the
    # product t * max is then float64 (a Python float would be float32 under NEP 50)
    flat = maps.reshape(-1, *maps.shape[-2:])
    out = np.zeros((flat.shape[0], 4), np.int64)
    for i, m in enumerate(flat):
        out[i] = box_of_largest_component_cv2(np.ascontiguousarray(m > t * m.max()))
    return out.reshape(*maps.shape[:-2], 4)
