"""Complexity and sparseness of maps, Quantus's definitions, per map.

As Quantus's ``Complexity`` and ``Sparseness`` with their defaults (``abs=True``,
``normalise=True`` with ``normalise_by_max``): each map is flattened, divided by its
largest absolute value (an all-zero map is left as it is) and made absolute, then

* **complexity** (Bhatt et al., IJCAI 2020): the entropy of the fractional contributions,
  ``p = a / sum(a)``, ``-sum p log(p + 1e-12)`` (natural log; Quantus's epsilon). From 0
  (all the mass on one pixel) to ``log(H W)`` (a uniform map). Lower is simpler.
* **sparseness** (Chalasani et al., ICML 2020): the Gini index of ``a + 1e-7`` (Quantus's
  epsilon) sorted increasingly, ``sum_i (2 i - n - 1) a_(i) / (n sum a)``, i = 1..n.
  0 for a uniform map, ``(n - 1) / n`` at most. Higher is sparser.

Quantus normalises by the largest absolute value over the whole batch it is given;
camjax by each map's own, so a map's scores do not depend on its batch. Entropy does not
depend on the scale; the Gini index only through the 1e-7 (the two agree for maps whose
maximum is the batch's, such as min-max normalised maps). An all-zero map has complexity
NaN in Quantus (0 / 0); camjax gives it ``log(H W)`` (it is uniform) and sparseness 0.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _flat_unit(maps) -> np.ndarray:
    """(N, H W) float64: |map| / max |map| per map (zero maps stay zero)."""
    a = np.abs(np.asarray(maps, np.float64))
    if a.ndim < 2:
        raise ValueError(f"maps must be (N, ...) with one map per row, got shape {a.shape}")
    a = a.reshape(a.shape[0], -1)
    if not np.isfinite(a).all():
        raise ValueError("maps hold NaN or inf")
    top = a.max(axis=1, keepdims=True)
    return a / np.where(top > 0, top, 1)


def complexity(maps) -> np.ndarray:
    """(N,) entropy of each map's normalised absolute values (natural log)."""
    a = _flat_unit(maps)
    total = a.sum(axis=1, keepdims=True)
    p = np.where(total > 0, a / np.where(total > 0, total, 1), 1.0 / a.shape[1])
    return -(p * np.log(p + 1e-12)).sum(axis=1)


def sparseness(maps) -> np.ndarray:
    """(N,) Gini index of each map's normalised absolute values."""
    a = np.sort(_flat_unit(maps) + 1e-7, axis=1)
    n = a.shape[1]
    i = np.arange(1, n + 1)
    return ((2 * i - n - 1) * a).sum(axis=1) / (n * a.sum(axis=1))


class ComplexityAccumulator:
    """Mean complexity and sparseness over batches."""

    def __init__(self):
        self.complexity_sum = 0.0
        self.sparseness_sum = 0.0
        self.num_images = 0

    def update(self, maps) -> None:
        """maps (N, H, W), one per image."""
        self.complexity_sum += float(complexity(maps).sum())
        self.sparseness_sum += float(sparseness(maps).sum())
        self.num_images += int(np.shape(maps)[0])

    def merge(self, other: "ComplexityAccumulator") -> "ComplexityAccumulator":
        self.complexity_sum += other.complexity_sum
        self.sparseness_sum += other.sparseness_sum
        self.num_images += other.num_images
        return self

    def get_state(self) -> dict[str, Any]:
        return {"complexity_sum": float(self.complexity_sum),
                "sparseness_sum": float(self.sparseness_sum), "num_images": int(self.num_images)}

    def set_state(self, state: dict[str, Any]) -> None:
        self.complexity_sum = float(state["complexity_sum"])
        self.sparseness_sum = float(state["sparseness_sum"])
        self.num_images = int(state["num_images"])

    def result(self) -> dict[str, Any]:
        if self.num_images == 0:
            raise ValueError("ComplexityAccumulator.result() before any image was accumulated")
        return {"complexity": self.complexity_sum / self.num_images,
                "sparseness": self.sparseness_sum / self.num_images,
                "num_images": int(self.num_images)}
