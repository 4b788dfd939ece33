"""The model-parameter randomisation test (Adebayo et al., NeurIPS 2018) in the evaluation
job, and for any map function.

The job hands the scorer ``maps_fn(images, labels, variant) -> (B, S, S)``: the normalised
maps of the labels for a batch as the job's predict function takes it (this process's
rows, padded), by the trained network (``variant`` None) or by randomised variant
``(mode, step)`` (``camjax.training.sanity`` builds it with ``camjax.models.randomise``;
the scorer never sees parameters). The first ``num_images`` valid images of the split are
compared, every variant on the same images: ``1 + 2 L`` map computations per image for
``L`` layers.
"""
from __future__ import annotations

import numpy as np

from camjax.evaluation.sanity import MODES, SanityAccumulator
from camjax.evaluator.scorers import Batch, summed


def compare(maps_fn, images, labels, num_layers: int, acc: SanityAccumulator,
            rows=None) -> None:
    """Feed ``acc`` the maps of every variant against the trained network's, for
    ``images`` and ``labels`` (``rows``: the rows to score, default all)."""
    rows = slice(None) if rows is None else rows
    original = np.asarray(maps_fn(images, labels, None))[rows]
    for mode in MODES:
        for step in range(num_layers):
            acc.update(mode, step, original,
                       np.asarray(maps_fn(images, labels, (mode, step)))[rows])


class Sanity:
    key = "sanity"

    def __init__(self, maps_fn, layers, *, num_images: int = 8, threshold: float = 0.5):
        self.maps_fn = maps_fn
        self.acc = SanityAccumulator(layers, threshold)
        self.wanted, self.seen = int(num_images), 0

    def update(self, batch: Batch) -> None:
        take = min(self.wanted - self.seen, len(batch.labels))
        if take <= 0:
            return
        local = batch.local
        rows = np.flatnonzero(local["valid"])[:take]
        compare(self.maps_fn, local["image"], local["label"], len(self.acc.layers), self.acc,
                rows)
        self.seen += take

    def merge(self, other: "Sanity") -> "Sanity":
        self.acc.merge(other.acc)
        self.seen += other.seen
        return self

    def result(self) -> dict:
        summed(self.acc, ("spearman_sum", "ssim_sum", "num_images"))
        return self.acc.result()
