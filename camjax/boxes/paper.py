"""The paper's box rule: the bounding box of the largest connected component.

Keep pixels above ``threshold`` x the map's max, label 8-connected components,
take the largest by pixel count (ties: the first in raster order, the lowest
label of ``skimage.measure.label``), return its bounding box (x0, y0, x1, y1),
inclusive. A map with no pixel above the threshold (e.g. all zeros) gives the box
(0, 0, 0, 0), the no-contour box of the WSOL code, so that every map yields one box.

The foreground is ``m > threshold * max(m)`` with the product in float64 (NumPy
promotes the float64 threshold), for every implementation.

:func:`largest_component_boxes` serves one threshold and many:

* one threshold: OpenCV's ``connectedComponentsWithStats`` per map (sizes and boxes
  in one C pass; OpenCV numbers components in its own scan order, so equal sizes
  are resolved by each component's first raster pixel);
* several thresholds: the foregrounds are nested, so one compiled component tree
  per map answers them all (:mod:`camjax.boxes._paper_sweep`): the sorted distinct
  cutoffs ``t * max`` (float64) quantise the map to levels (foreground at cutoff k
  is level >= k + 1).

Both give the boxes of one ``skimage.measure.label`` per map and threshold; the
tests check this on thousands of maps. The jitted version for maps on an
accelerator is :func:`camjax.boxes.largest_component_boxes_device`.
"""
from __future__ import annotations

import cv2
import numpy as np

from camjax.boxes._checks import check_maps, check_thresholds
from camjax.threads import map_chunks
from camjax.boxes._paper_sweep import paper_batch

EMPTY_BOX = (0, 0, 0, 0)


def _box_of_largest_component(mask: np.ndarray) -> tuple[int, int, int, int]:
    """The box of the largest 8-connected component of a boolean (H, W) mask, by
    OpenCV's labelling; equal sizes go to the component whose first pixel comes first."""
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


def _one_threshold(flat: np.ndarray, t: np.float64) -> np.ndarray:
    out = np.zeros((flat.shape[0], 4), np.int64)
    for i, m in enumerate(flat):
        out[i] = _box_of_largest_component(np.ascontiguousarray(m > t * m.max()))
    return out


def _many_thresholds(flat: np.ndarray, thresholds: np.ndarray, workers) -> np.ndarray:
    if flat.dtype not in (np.float32, np.float64):
        flat = flat.astype(np.float64)        # exact for float16; compared in float64
    flat = np.ascontiguousarray(flat)
    parts = map_chunks(lambda a, b: paper_batch(flat[a:b], thresholds), flat.shape[0],
                       workers)
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def largest_component_boxes(maps, threshold=0.2, *, workers: int | None = None) -> np.ndarray:
    """Boxes of the paper rule for float maps (..., H, W), int64 (x0, y0, x1, y1).

    ``threshold`` is a fraction of each map's max: a float gives boxes of shape
    (..., 4); a sequence of T thresholds gives (..., T, 4) in one call, for the cost
    of about one pass (one component tree per map). ``workers`` threads share the
    batch (default: the CPU count, at most 8); the boxes do not depend on it.
    """
    maps = check_maps(maps, "maps")
    scalar = np.ndim(threshold) == 0
    thresholds = check_thresholds(np.atleast_1d(threshold) if scalar else threshold,
                                  "threshold" if scalar else "thresholds")
    flat = maps.reshape(-1, *maps.shape[-2:])
    if scalar:
        # thresholds[0] is an np.float64: the product t * max is then float64 (a Python
        # float would be float32 under NEP 50)
        t = thresholds[0]
        parts = map_chunks(lambda a, b: _one_threshold(flat[a:b], t), flat.shape[0], workers)
        out = np.concatenate(parts) if len(parts) > 1 else parts[0]
        return out.reshape(*maps.shape[:-2], 4)
    if flat.shape[0] == 0:
        return np.zeros((*maps.shape[:-2], thresholds.size, 4), np.int64)
    return _many_thresholds(flat, thresholds, workers).reshape(
        *maps.shape[:-2], thresholds.size, 4)
