"""Faithfulness in the evaluation job (``config.faithfulness``): average drop / increase in
confidence and deletion / insertion AUC of the top-1 class's map, summed over processes.

``score_fn(images) -> class probabilities`` is supplied by the caller (the model's softmax);
the maps are the job's normalised maps, resized to the images' size when they differ.
"""
from __future__ import annotations

import numpy as np

from camjax.distributed import sum_over_processes
from camjax.evaluation.faithfulness import ConfidenceAccumulator, DeletionInsertionAccumulator


class Faithfulness:
    def __init__(self, score_fn, *, steps: int = 100, batch_size: int = 16):
        self.confidence = ConfidenceAccumulator(score_fn)
        self.curves = DeletionInsertionAccumulator(score_fn, steps=steps, batch_size=batch_size)

    def update(self, images, maps, classes) -> None:
        """images (N, H, W, 3) as the network takes them, maps (N, h, w) in [0, 1],
        classes (N,): the class each map explains."""
        if maps.shape[1:] != images.shape[1:3]:
            import cv2
            maps = np.stack([cv2.resize(m, images.shape[2:0:-1], interpolation=cv2.INTER_LINEAR)
                             for m in np.asarray(maps, np.float32)])
        self.confidence.update(images, maps, classes)
        self.curves.update(images, maps, classes)

    def result(self) -> dict:
        for acc in (self.confidence, self.curves):
            state = acc.get_state()
            acc.set_state({k: v if k == "config" else sum_over_processes(v)
                           for k, v in state.items()})
        conf, curves = self.confidence.result(), self.curves.result()
        return {"average_drop": conf["average_drop"],
                "increase_in_confidence": conf["increase_in_confidence"],
                "deletion_auc": curves["deletion_auc"], "insertion_auc": curves["insertion_auc"],
                "deletion_curve": curves["deletion_curve"].tolist(),
                "insertion_curve": curves["insertion_curve"].tolist(),
                "fractions": curves["fractions"].tolist(), "num_images": curves["num_images"]}
