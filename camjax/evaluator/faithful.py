"""Faithfulness in the evaluation job (``config.metrics`` with ``faithfulness``): average
drop / increase in confidence and deletion / insertion AUC of the top-1 class's map, summed
over processes. A scorer of the job (``evaluator.scorers``).

``score_fn(images) -> class probabilities`` is supplied by the caller (the model's softmax);
the maps are the job's normalised maps, resized to the images' size when they differ.
``place`` (optional, from the caller: ``camjax.training.scoring.local_scoring``) puts a
batch's rows on the devices, padded to a multiple of their count and sharded along
``data``; the padded rows' scores are dropped before they are counted.
"""
from __future__ import annotations

import numpy as np

from camjax.evaluation.faithfulness import (ConfidenceAccumulator, DeletionInsertionAccumulator,
                                            confidence_scores, deletion_insertion_curves)
from camjax.evaluator.scorers import Batch, at_image_size, summed


class Faithfulness:
    key = "faithfulness"

    def __init__(self, score_fn, *, steps: int = 100, batch_size: int = 16, place=None):
        self.score_fn, self.place = score_fn, place or (lambda arrays: arrays)
        self.confidence = ConfidenceAccumulator(score_fn)
        self.curves = DeletionInsertionAccumulator(score_fn, steps=steps, batch_size=batch_size)

    def update(self, batch: Batch) -> None:
        n = len(batch.images)
        rows = self.place({"images": batch.images, "classes": batch.top[:, 0],
                           "maps": at_image_size(batch.maps[:, 1], batch.images)})
        args = (self.score_fn, rows["images"], rows["maps"], rows["classes"])
        y, o = confidence_scores(*args)
        self.confidence.update_scores(np.asarray(y)[:n], np.asarray(o)[:n])
        curves = deletion_insertion_curves(*args, **self.curves.options)
        self.curves.update_curves(np.asarray(curves["deletion"])[:n],
                                  np.asarray(curves["insertion"])[:n])

    def merge(self, other: "Faithfulness") -> "Faithfulness":
        self.confidence.merge(other.confidence)
        self.curves.merge(other.curves)
        return self

    def result(self) -> dict:
        summed(self.confidence, ("drop_sum", "num_increased", "num_images"))
        summed(self.curves, ("deletion_curve_sum", "insertion_curve_sum", "num_images"))
        conf, curves = self.confidence.result(), self.curves.result()
        return {"average_drop": conf["average_drop"],
                "increase_in_confidence": conf["increase_in_confidence"],
                "deletion_auc": curves["deletion_auc"], "insertion_auc": curves["insertion_auc"],
                "deletion_curve": curves["deletion_curve"].tolist(),
                "insertion_curve": curves["insertion_curve"].tolist(),
                "fractions": curves["fractions"].tolist(), "num_images": curves["num_images"]}
