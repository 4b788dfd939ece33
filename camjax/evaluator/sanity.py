"""The model-parameter randomisation test (Adebayo et al., NeurIPS 2018) in the evaluation
job, and for any map function.

The job hands the scorer ``maps_fn(images, labels, variant) -> (B, S, S)``: the normalised
maps of the labels for a batch as the job's predict function takes it (this process's
rows, padded), by the trained network (``variant`` None) or by randomised variant
``(mode, step)`` (``camjax.training.sanity`` builds it with ``camjax.models.randomise``;
the scorer never sees parameters). The first ``num_images`` images of the split are
compared (on P processes, each process's first ``ceil(num_images / P)``), every variant on
the same images: ``1 + 2 L`` map computations per batch for ``L`` layers.
"""
from __future__ import annotations

import jax
import numpy as np

from camjax.evaluation.sanity import MODES, SanityAccumulator
from camjax.evaluator.scorers import Batch, summed


def compare(maps_fn, images, labels, num_layers: int, acc: SanityAccumulator,
            rows=None) -> None:
    """Feed ``acc`` the maps of every variant against the trained network's, for
    ``images`` and ``labels`` (``rows``: the rows to score, default all)."""
    rows = np.arange(len(images)) if rows is None else np.asarray(rows)
    original = np.asarray(maps_fn(images, labels, None))[rows]
    for mode in MODES:
        for step in range(num_layers):
            maps = np.asarray(maps_fn(images, labels, (mode, step)))[rows]
            if len(rows):           # maps_fn is called regardless (a collective)
                acc.update(mode, step, original, maps)


class Sanity:
    key = "sanity"

    def __init__(self, maps_fn, layers, *, num_images: int = 8, threshold: float = 0.5):
        self.maps_fn = maps_fn
        self.acc = SanityAccumulator(layers, threshold)
        # each process scores its first ceil(num_images / P) rows: the maps are computed
        # on global batches, so every process must call maps_fn for the same batches
        self.rows_wanted = -(-int(num_images) // jax.process_count())
        self.rows_seen = 0

    def update(self, batch: Batch) -> None:
        local = batch.local
        todo = self.rows_wanted - self.rows_seen
        if todo <= 0:
            return
        self.rows_seen += len(local["valid"])
        rows = np.flatnonzero(local["valid"][:todo])
        compare(self.maps_fn, local["image"], local["label"], len(self.acc.layers), self.acc,
                rows)

    def merge(self, other: "Sanity") -> "Sanity":
        self.acc.merge(other.acc)
        return self

    def result(self) -> dict:
        summed(self.acc, ("spearman_sum", "ssim_sum", "num_images"))
        return self.acc.result()
