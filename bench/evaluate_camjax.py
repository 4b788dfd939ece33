"""camjax's side of bench/evaluate.py: the code of ``camjax evaluate`` on one layout.

``pretrained_for_inference`` (the state dict as ``config.pretrained``, built once for
both layouts), ``pipeline.open_source`` / ``eval_batches``, ``predict_function`` (the
jitted ``engine.predict``) and ``evaluator.compare``; no report written.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from camjax import evaluator
from camjax.configs import default
from camjax.data import pipeline
from camjax.evaluation import BoxAccumulator, MaskAccumulator
from camjax.evaluator.job import Lane
from camjax.training.evaluate import num_eval_batches
from camjax.training.inference import map_size, predict_function

CLASSES = 200


def camjax_config(folder: dict, metadata: Path, weights: Path, args):
    c = default.get_config()
    c.dataset, c.image_root = f"wsol:{metadata.parent}", str(folder["images"])
    c.mask_root = str(folder["masks"])
    c.model, c.pretrained, c.image_size = "resnet50", str(weights), 224
    c.eval_batch_size, c.cam_curve_interval, c.upsample = args.batch, args.interval, "bicubic"
    c.data_threads = 2
    return c


class Camjax:
    """One layout through camjax's evaluation: ``run(overlap)`` -> (metrics, seconds)."""

    def __init__(self, config, workdir: Path, network):
        self.config = config
        self.src = pipeline.open_source(config, "test", workdir)
        graphdef, state, mesh = network
        self.predict = predict_function(graphdef, (state.params, state.rest), mesh, config)
        self.outputs = []

    def run(self, overlap=True, limit=None, predict=None, batches=None):
        c, src = self.config, self.src
        n = len(src) if limit is None else min(limit, len(src))
        if batches is None:
            batches = pipeline.eval_batches(src, c, with_boxes=pipeline.has_boxes(src),
                                            limit=limit)
        lanes = {"": Lane(predict or self.predict, {"paper_rule": c.cam_threshold})}
        t = time.perf_counter()
        metrics, _ = evaluator.compare(lanes, batches, num_classes=CLASSES,
                                       map_size=map_size(c),
                                       cam_curve_interval=c.cam_curve_interval,
                                       num_batches=num_eval_batches(n, c), gallery_size=0,
                                       overlap=overlap)[""]
        return metrics, time.perf_counter() - t

    def recorded(self, overlap=True):
        """One pass that records its batches and maps (both timed passes do, so that
        they pay the same); (metrics, seconds, replay() -> seconds of the job on the
        recorded maps alone, metric_alone() -> seconds)."""
        batches, outputs = [], []

        def predict(images, labels):
            out = self.predict(images, labels)
            outputs.append(out)
            return out

        def tee():
            for item in pipeline.eval_batches(self.src, self.config,
                                              with_boxes=pipeline.has_boxes(self.src)):
                batches.append(item)
                yield item
        metrics, seconds = self.run(overlap, predict=predict, batches=tee())
        self.outputs = outputs

        def replay():
            it = iter(outputs)
            again, t = self.run(predict=lambda images, labels: next(it), batches=iter(batches))
            assert scores(again) == scores(metrics)
            return t

        def metric_alone():
            """The reference's evaluator's work alone: the label maps -> MaxBoxAccV2 (or
            PxAP) through camjax's accumulator (the job also does V1, the centre-Gaussian
            baseline, paper-rule boxes of all 1 + k maps, the class counts)."""
            c, t = self.config, time.perf_counter()
            thresholds = np.arange(0, 1, c.cam_curve_interval)
            acc = (BoxAccumulator(thresholds, multi_contour=True) if "boxes" in batches[0][1]
                   else MaskAccumulator(c.cam_curve_interval))
            for (_, local), (_, _, maps) in zip(batches, outputs):
                valid = local["valid"]
                maps = np.asarray(maps)[valid, 0]
                if "boxes" in local:
                    acc.update(maps, [b[b[:, 0] >= 0] for b in local["boxes"][valid]])
                else:
                    acc.update(maps, local["mask"][valid])
            r = acc.result()
            got = r["max_box_acc"] if "max_box_acc" in r else {"PxAP": r["pxap"]}
            assert list(map(float, got.values())) == list(scores(metrics).values())
            return time.perf_counter() - t
        return metrics, seconds, replay, metric_alone


def scores(metrics) -> dict:
    if "wsol_v2" in metrics:
        return {f"MaxBoxAccV2@{k}": float(v)
                for k, v in metrics["wsol_v2"]["max_box_acc"].items()}
    return {"PxAP": float(metrics["pxap"])}
