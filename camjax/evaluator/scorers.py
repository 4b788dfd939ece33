"""Composable scorers of the evaluation job (in the manner of big_vision's evaluators): each
is fed every batch of one map method's predictions, keeps sums only, and sums them over
processes in ``result``.

A scorer has ``key`` (its entry in metrics.json), ``update(batch)`` with a :class:`Batch`,
``merge(other)`` (another scorer of the same kind, e.g. of another thread) and
``result() -> dict`` (a collective: every process calls it, in the same order). The job
always runs the WSOL tally (``evaluator.tally``); the scorers chosen by
``config.metrics`` are built in ``camjax.training.scoring`` and run beside it:

* ``faithfulness`` (:class:`~camjax.evaluator.faithful.Faithfulness`): average drop /
  increase, deletion / insertion of the top-1 class's map;
* ``road`` (:class:`ROAD`): ROAD MoRF / LeRF / combined of the top-1 class's map;
* ``pointing`` (:class:`Pointing`): pointing game and energy pointing game of the
  ground-truth class's map against its boxes (or its mask);
* ``complexity`` (:class:`Complexity`): complexity and sparseness of the top-1 class's map;
* ``sanity`` (:class:`~camjax.evaluator.sanity.Sanity`): model-parameter randomisation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from camjax.distributed import sum_over_processes
from camjax.evaluation.complexity import ComplexityAccumulator
from camjax.evaluation.pointing import PointingAccumulator
from camjax.evaluation.road import ROADAccumulator


@dataclass
class Batch:
    """One batch's valid rows as the job sees them, and the local batch they came from.

    ``maps`` (N, 1 + k, S, S): the normalised maps of [label, top-1, ..., top-k] at the
    map size S; ``gt`` a list of (n_i, 4) boxes in the map's frame, or None; ``indices``
    the images' positions in the split (the same on any number of processes)."""
    images: np.ndarray
    labels: np.ndarray
    top: np.ndarray
    maps: np.ndarray
    gt: list | None
    masks: np.ndarray | None
    indices: np.ndarray
    local: dict = field(default_factory=dict)


def at_image_size(maps: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Maps (N, S, S) resized (bilinear) to the images' H x W when they differ."""
    if maps.shape[1:] == images.shape[1:3]:
        return maps
    import cv2
    return np.stack([cv2.resize(m, images.shape[2:0:-1], interpolation=cv2.INTER_LINEAR)
                     for m in np.asarray(maps, np.float32)])


def summed(acc, keys) -> None:
    """Sum an accumulator's state entries ``keys`` over processes (in place)."""
    state = acc.get_state()
    acc.set_state({**state, **{k: sum_over_processes(np.asarray(state[k])) for k in keys}})


class ROAD:
    key = "road"

    def __init__(self, score_fn, **options):
        self.acc = ROADAccumulator(score_fn, **options)

    def update(self, batch: Batch) -> None:
        self.acc.update(batch.images, at_image_size(batch.maps[:, 1], batch.images),
                        batch.top[:, 0], indices=batch.indices)

    def merge(self, other: "ROAD") -> "ROAD":
        self.acc.merge(other.acc)
        return self

    def result(self) -> dict:
        summed(self.acc, ("morf_sum", "lerf_sum", "num_images"))
        r = self.acc.result()
        return {**r, **{k: np.asarray(r[k]).tolist() for k in
                        ("morf_curve", "lerf_curve", "percentiles")}}


class Pointing:
    key = "pointing"

    def __init__(self, num_classes: int, tolerance: float = 15):
        self.acc = PointingAccumulator(num_classes, tolerance)

    def update(self, batch: Batch) -> None:
        regions = batch.gt if batch.gt is not None else batch.masks
        if regions is not None:
            self.acc.update(batch.maps[:, 0], regions, batch.labels)

    def merge(self, other: "Pointing") -> "Pointing":
        self.acc.merge(other.acc)
        return self

    def result(self) -> dict:
        summed(self.acc, ("hits", "misses", "energy_sum", "num_images"))
        return self.acc.result() if self.acc.num_images else {"num_images": 0}


class Complexity:
    key = "complexity"

    def __init__(self):
        self.acc = ComplexityAccumulator()

    def update(self, batch: Batch) -> None:
        self.acc.update(batch.maps[:, 1])

    def merge(self, other: "Complexity") -> "Complexity":
        self.acc.merge(other.acc)
        return self

    def result(self) -> dict:
        summed(self.acc, ("complexity_sum", "sparseness_sum", "num_images"))
        return self.acc.result()
