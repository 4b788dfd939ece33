"""The pointing game and the energy-based pointing game, on boxes or masks.

* **Pointing game** (Zhang et al., "Top-down neural attention by excitation backprop",
  ECCV 2016 / IJCV 2018): the map's maximum is a hit when it lies within ``tolerance``
  pixels (15) of the object. As TorchRay's ``PointingGame`` (the authors' protocol): the
  point is the first maximum in row-major order (``argmax`` of the flattened map), and it
  hits when some object pixel (y, x) has ``(y - py)^2 + (x - px)^2 < tolerance^2``
  (strict). The accuracy is ``hits / (hits + misses)`` per class, averaged over the
  classes that occur (the paper's mean accuracy); the overall share of hits is reported
  too.
* **Energy-based pointing game** (Wang et al., Score-CAM, CVPRW 2020, section 4.2): the
  share of the map's energy inside the object, ``sum(map * object) / sum(map)``, averaged
  over images. Maps must be non-negative (e.g. min-max normalised); a map with no energy
  (all zeros) scores 0.

The object is the union of an image's ground-truth boxes (inclusive pixel coordinates in
the map's frame, as everywhere in camjax) or its mask: 1 is the object, 0 background, 255
"ignore" (wsolevaluation's OpenImages masks): ignored pixels are not object pixels, and
the energy game leaves them out of both sums.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def box_regions(gt_boxes, shape) -> np.ndarray:
    """(N, H, W) uint8 masks: 1 inside the union of each image's boxes (n_i, 4), else 0."""
    h, w = shape
    out = np.zeros((len(gt_boxes), h, w), np.uint8)
    for i, boxes in enumerate(gt_boxes):
        for x0, y0, x1, y1 in np.asarray(boxes, np.int64).reshape(-1, 4):
            out[i, max(y0, 0):max(y1 + 1, 0), max(x0, 0):max(x1 + 1, 0)] = 1
    return out


def _regions(maps, regions) -> tuple[np.ndarray, np.ndarray]:
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (N, H, W), got shape {maps.shape}")
    if not np.isfinite(maps).all():
        raise ValueError("maps hold NaN or inf")
    if isinstance(regions, (list, tuple)):          # boxes per image
        if len(regions) != maps.shape[0]:
            raise ValueError(f"{len(regions)} box lists for {maps.shape[0]} maps")
        regions = box_regions(regions, maps.shape[1:])
    regions = np.asarray(regions)
    if regions.shape != maps.shape:
        raise ValueError(f"masks have shape {regions.shape}, maps {maps.shape}: they must "
                         "match")
    if regions.dtype != bool and not np.isin(regions, (0, 1, 255)).all():
        raise ValueError("masks must hold 0 (background), 1 (object) or 255 (ignore)")
    return maps, regions.astype(np.uint8)


def max_points(maps) -> np.ndarray:
    """(N, 2) (y, x) of each map's first maximum in row-major order."""
    maps = np.asarray(maps)
    flat = maps.reshape(maps.shape[0], -1).argmax(axis=1)
    return np.stack(np.divmod(flat, maps.shape[2]), axis=1)


def pointing_hits(maps, regions, tolerance: float = 15) -> np.ndarray:
    """(N,) bool: the map's maximum lies within ``tolerance`` pixels of the object.
    ``regions``: (N, H, W) masks (1 object, 0 background, 255 ignore) or a list of N
    (n_i, 4) box arrays."""
    maps, regions = _regions(maps, regions)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    points = max_points(maps)
    y = np.arange(maps.shape[1])[None, :, None] - points[:, 0, None, None]
    x = np.arange(maps.shape[2])[None, None, :] - points[:, 1, None, None]
    accept = y ** 2 + x ** 2 < tolerance ** 2                     # TorchRay's disc
    return ((regions == 1) & accept).any(axis=(1, 2))


def energy_proportions(maps, regions) -> np.ndarray:
    """(N,) share of each map's energy on the object (non-negative maps)."""
    maps, regions = _regions(maps, regions)
    if maps.size and maps.min() < 0:
        raise ValueError("the energy pointing game needs non-negative maps (normalise them "
                         "first, e.g. camjax.cam.normalize)")
    m = maps.astype(np.float64) * (regions != 255)
    inside = (m * (regions == 1)).sum(axis=(1, 2))
    total = m.sum(axis=(1, 2))
    return np.where(total > 0, inside / np.where(total > 0, total, 1), 0.0)


class PointingAccumulator:
    """Pointing game (hits and misses per class) and energy pointing game over batches."""

    def __init__(self, num_classes: int, tolerance: float = 15):
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.tolerance = float(tolerance)
        self.hits = np.zeros(num_classes, np.int64)
        self.misses = np.zeros(num_classes, np.int64)
        self.energy_sum = 0.0
        self.num_images = 0

    def update(self, maps, regions, classes) -> None:
        """maps (N, H, W) (the ground-truth class's), regions (masks or box lists) and the
        classes (N,) the hits are counted for."""
        classes = np.asarray(classes).ravel()
        if classes.shape != (np.shape(maps)[0],):
            raise ValueError(f"classes must be (N={np.shape(maps)[0]},), got shape "
                             f"{classes.shape}")
        if classes.size and (classes.min() < 0 or classes.max() >= len(self.hits)):
            raise ValueError(f"classes must lie in [0, {len(self.hits)})")
        hit = pointing_hits(maps, regions, self.tolerance)
        np.add.at(self.hits, classes, hit.astype(np.int64))
        np.add.at(self.misses, classes, (~hit).astype(np.int64))
        self.energy_sum += float(energy_proportions(maps, regions).sum())
        self.num_images += len(classes)

    def merge(self, other: "PointingAccumulator") -> "PointingAccumulator":
        self.set_state({k: v if k == "tolerance" else v + self.get_state()[k]
                        for k, v in other.get_state().items()})
        return self

    def get_state(self) -> dict[str, Any]:
        return {"hits": self.hits.copy(), "misses": self.misses.copy(),
                "energy_sum": float(self.energy_sum), "num_images": int(self.num_images),
                "tolerance": self.tolerance}

    def set_state(self, state: dict[str, Any]) -> None:
        if float(state["tolerance"]) != self.tolerance:
            raise ValueError("cannot combine pointing accumulators with different tolerances")
        hits, misses = (np.asarray(state[k], np.int64) for k in ("hits", "misses"))
        if hits.shape != self.hits.shape or misses.shape != self.misses.shape:
            raise ValueError("cannot combine pointing accumulators of different class counts")
        self.hits, self.misses = hits.copy(), misses.copy()
        self.energy_sum = float(state["energy_sum"])
        self.num_images = int(state["num_images"])

    def result(self) -> dict[str, Any]:
        """Percentages: ``pointing_game`` (mean over the classes that occur of hits /
        (hits + misses)), ``pointing_hit_rate`` (all images), ``energy_pointing_game``."""
        if self.num_images == 0:
            raise ValueError("PointingAccumulator.result() before any image was accumulated")
        seen = (self.hits + self.misses) > 0
        per_class = self.hits[seen] / (self.hits + self.misses)[seen]
        return {"pointing_game": 100.0 * float(per_class.mean()),
                "pointing_hit_rate": 100.0 * float(self.hits.sum()) / self.num_images,
                "energy_pointing_game": 100.0 * self.energy_sum / self.num_images,
                "tolerance": self.tolerance, "num_images": int(self.num_images)}
