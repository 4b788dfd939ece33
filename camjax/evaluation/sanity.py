"""Sanity checks for saliency maps (Adebayo et al., NeurIPS 2018): how much a method's maps
change when the network's parameters are randomised, layer by layer.

Arrays in, numbers out: the caller computes the maps of the trained network and of each
randomised variant (``camjax.models.randomise``: cascading from the logits down, and one
layer at a time), for the same images and classes, and this module compares them:

* **Spearman rank correlation** of the two maps' pixels (scipy's ``rankdata``, ties
  averaged, then Pearson's correlation of the ranks: ``scipy.stats.spearmanr``). Where a
  map is constant the correlation is undefined: camjax gives 1 when both maps are the
  same constant (nothing changed) and 0 otherwise.
* **SSIM** (scikit-image's ``structural_similarity``, its defaults: a 7 x 7 uniform window,
  or the largest odd window the map holds) with ``data_range`` 1: the maps are expected
  in [0, 1] (min-max normalised, as the evaluation job's).

A method passes when the maps of the fully randomised network (the last cascading step)
keep a mean rank correlation below ``threshold`` (0.5) with the trained network's; a map
that ignores the parameters keeps 1 and fails. The paper reads the curves by eye; the
threshold is camjax's, for the report's verdict.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

MODES = ("cascading", "independent")


def rank_correlation(a, b) -> np.ndarray:
    """(N,) Spearman rank correlation of each pair of maps (N, ...)."""
    a, b = (np.asarray(x, np.float64).reshape(len(x), -1) for x in (a, b))
    if a.shape != b.shape:
        raise ValueError(f"maps differ in shape: {a.shape} vs {b.shape}")
    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra, rb = ra - ra.mean(axis=1, keepdims=True), rb - rb.mean(axis=1, keepdims=True)
    norm = np.sqrt((ra ** 2).sum(axis=1) * (rb ** 2).sum(axis=1))
    same = (a == b).all(axis=1)
    r = np.where(norm > 0, (ra * rb).sum(axis=1) / np.where(norm > 0, norm, 1), 0.0)
    return np.where(norm > 0, r, same.astype(np.float64))


def ssim(a, b) -> np.ndarray:
    """(N,) SSIM of each pair of maps (N, H, W) in [0, 1]."""
    from skimage.metrics import structural_similarity
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"maps must both be (N, H, W), got {a.shape} and {b.shape}")
    side = min(a.shape[1:])
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        raise ValueError(f"SSIM needs maps of at least 3 x 3 pixels, got {a.shape[1:]}")
    return np.array([structural_similarity(x, y, data_range=1.0, win_size=win)
                     for x, y in zip(a, b)])


class SanityAccumulator:
    """Mean rank correlation and SSIM between the trained network's maps and each
    randomised variant's, per mode and step, over batches.

    ``layers``: the names of the steps, from the top (step j of the cascading test has
    layers 0..j randomised; step j of the independent test layer j alone)."""

    def __init__(self, layers, threshold: float = 0.5):
        self.layers = [str(x) for x in layers]
        if not self.layers:
            raise ValueError("layers must not be empty")
        self.threshold = float(threshold)
        shape = (len(MODES), len(self.layers))
        self.spearman_sum, self.ssim_sum = np.zeros(shape), np.zeros(shape)
        self.num_images = np.zeros(shape, np.int64)

    def update(self, mode: str, step: int, original, randomised) -> None:
        """Maps (N, H, W) of the trained network and of variant ``step`` of ``mode``."""
        m = MODES.index(mode)
        self.spearman_sum[m, step] += rank_correlation(original, randomised).sum()
        self.ssim_sum[m, step] += ssim(original, randomised).sum()
        self.num_images[m, step] += len(original)

    def merge(self, other: "SanityAccumulator") -> "SanityAccumulator":
        mine, theirs = self.get_state(), other.get_state()
        self.set_state({**theirs, **{k: mine[k] + theirs[k] for k in
                                     ("spearman_sum", "ssim_sum", "num_images")}})
        return self

    def get_state(self) -> dict[str, Any]:
        return {"spearman_sum": self.spearman_sum.copy(), "ssim_sum": self.ssim_sum.copy(),
                "num_images": self.num_images.copy(), "layers": list(self.layers)}

    def set_state(self, state: dict[str, Any]) -> None:
        if list(state["layers"]) != self.layers:
            raise ValueError("cannot combine sanity accumulators of different layers")
        self.spearman_sum = np.asarray(state["spearman_sum"], np.float64).copy()
        self.ssim_sum = np.asarray(state["ssim_sum"], np.float64).copy()
        self.num_images = np.asarray(state["num_images"], np.int64).copy()

    def result(self) -> dict[str, Any]:
        """Per mode: ``spearman`` and ``ssim`` lists (one per step, from the top), and
        ``layers``; ``fully_randomised_spearman`` (the last cascading step), ``passed``."""
        if (self.num_images == 0).any():
            raise ValueError("SanityAccumulator.result() before every variant was compared")
        spearman, ssim_mean = (s / self.num_images for s in (self.spearman_sum, self.ssim_sum))
        out: dict[str, Any] = {"layers": list(self.layers), "threshold": self.threshold,
                               "num_images": int(self.num_images[0, 0])}
        for m, mode in enumerate(MODES):
            out[mode] = {"spearman": spearman[m].tolist(), "ssim": ssim_mean[m].tolist()}
        last = float(spearman[0, -1])
        out["fully_randomised_spearman"] = last
        out["fully_randomised_ssim"] = float(ssim_mean[0, -1])
        out["passed"] = bool(last < self.threshold)
        return out
