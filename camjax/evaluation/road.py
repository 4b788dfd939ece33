"""ROAD (RemOve And Debias, Rong et al., ICML 2022) as pytorch-grad-cam computes it.

For each percentile p (default 10, 20, ..., 90) of the map, the pixels are split by a
threshold and the removed ones are filled by the noisy linear imputation
(:mod:`camjax.evaluation.imputation`); the score is the change of the class probability,
``score(imputed) - score(image)``, averaged over the percentiles:

* **MoRF** (most relevant first, ``ROADMostRelevantFirst``): the pixels with
  ``map >= percentile(map, p)`` are removed (``map < threshold`` kept), about (100 - p)%
  of them. Lower (a larger drop) is better.
* **LeRF** (least relevant first, ``ROADLeastRelevantFirst``): the same on ``1 - map``,
  so the pixels with ``1 - map >= percentile(1 - map, p)`` are removed, the least
  relevant (100 - p)%. Higher (a smaller drop) is better.
* **Combined** (``ROADCombined``): ``(LeRF - MoRF) / 2``, higher is better.

``percentile`` is numpy's (linear interpolation) on the float32 map, ties at the
threshold are removed, as in pytorch-grad-cam.

Where pytorch-grad-cam departs from the paper (and the authors' ``road_evaluation``): the
paper removes a fraction p of the pixels by rank (ties broken by adding 1e-4 Gaussian noise
to the min-max rescaled map), imputes the image before the network's normalisation, and
reports the model's accuracy and mean class probability over the test set at each p
(curves, not differences); the averaged differences and the combined score are
pytorch-grad-cam's summary (the paper compares MoRF and LeRF rankings, not their
difference). pytorch-grad-cam imputes the normalised input tensor, as camjax does here
(``images`` as ``score_fn`` takes them). Its ``NoisyLinearImputer`` ignores its
``weighting`` argument (the module's weights are always used); camjax has no such
argument.

The noise of image ``n`` is ``numpy.random.default_rng([*key_data(key), n])``'s standard
normal (2 P, H, W, C) draw, one slice per variant (MoRF at percentiles 0..P-1, then LeRF;
numpy's generator, because ``jax.random.normal`` compiles for every image size, for
seconds): ``key`` a ``jax.random`` key, ``n`` the image's index,
which a caller that splits a data set over processes passes (``indices``), so the result
does not depend on the batch size or the number of processes. All imputed images of a
chunk of ``batch_size`` variants go through ``score_fn`` in one call (N x chunk images,
image-major; the last chunk padded so every call has one shape).
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from camjax.evaluation.imputation import impute
from camjax.evaluation.perturbation import ScoreFn, as_arrays, check_inputs, class_scores

PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)


def kept_pixels(maps, percentiles=PERCENTILES) -> np.ndarray:
    """(N, 2P, H, W) bool, True where a pixel is kept: MoRF at each percentile, then LeRF
    (pytorch-grad-cam's ``RemoveMostRelevantFirst`` / ``RemoveLeastRelevantFirst``)."""
    maps = np.asarray(maps, np.float32)
    q = np.asarray(percentiles, np.float64)
    inverse = np.float32(1) - maps
    out = []
    for m in (maps, inverse):
        thresholds = np.stack([np.percentile(x, q) for x in m])        # (N, P), per map
        out.append(m[:, None] < thresholds[:, :, None, None].astype(m.dtype))
    return np.concatenate(out, axis=1)


def _draws(key, indices, variants: int, shape) -> np.ndarray:
    """(N, variants, H, W, C) standard normal draws, image ``n``'s from numpy's generator
    seeded with (the key's data, n): no compilation per shape, the same draws for an image
    whatever batch it comes in."""
    words = [int(w) for w in np.asarray(jax.random.key_data(key)).ravel()]
    return np.stack([np.random.default_rng([*words, int(n)]).standard_normal(
        (variants, *shape), dtype=np.float32) for n in indices])


def road_scores(score_fn: ScoreFn, images, maps, classes, *, percentiles=PERCENTILES,
                noise: float = 0.01, key=None, indices=None,
                batch_size: int = 6) -> dict[str, np.ndarray]:
    """{"morf": (N, P), "lerf": (N, P)}: ``score(imputed) - score(image)`` of each image's
    class at each percentile. ``maps`` (N, H, W) at the image resolution (any finite
    scores; pytorch-grad-cam's are in [0, 1], where ``1 - map`` is the reversed order);
    ``key`` the noise key (default ``jax.random.key(0)``); ``indices`` (N,) the images'
    indices in the data set (default 0..N-1)."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    images, maps, classes = as_arrays(images, maps, classes)
    check_inputs(images, maps, classes, unit_maps=False)
    n, h, w, c = images.shape
    p = len(percentiles)
    if p == 0 or min(percentiles) < 0 or max(percentiles) > 100:
        raise ValueError(f"percentiles must be in [0, 100], got {percentiles}")
    indices = np.arange(n) if indices is None else np.asarray(indices)
    if indices.shape != (n,):
        raise ValueError(f"indices must be (N={n},), got shape {indices.shape}")
    keep = kept_pixels(maps, percentiles)                                # (N, 2P, H, W)
    key = jax.random.key(0) if key is None else key
    draws = _draws(key, indices, 2 * p, (h, w, c)) if noise else None
    base = class_scores(score_fn, images, classes, check=True)[:, 0]
    host = np.asarray(images, np.float32)
    chunk = min(batch_size, 2 * p)
    scores = []
    for start in range(0, 2 * p, chunk):
        v = np.arange(start, min(start + chunk, 2 * p))
        x = np.repeat(host, len(v), axis=0)                              # image-major
        d = None if draws is None else draws[:, v].reshape(-1, h, w, c)
        filled = impute(x, keep[:, v].reshape(-1, h, w), noise=noise, draws=d)
        filled = filled.reshape(n, len(v), h, w, c)
        if len(v) < chunk:          # pad the last chunk (copies): one shape, one compile
            filled = np.concatenate([filled, np.repeat(filled[:, -1:], chunk - len(v), 1)], 1)
        scores.append(class_scores(score_fn, jnp.asarray(filled.reshape(-1, h, w, c)),
                                   classes)[:, :len(v)])
    after = np.asarray(jnp.concatenate(scores, axis=1))
    change = after - np.asarray(base)[:, None]
    return {"morf": change[:, :p], "lerf": change[:, p:]}


class ROADAccumulator:
    """MoRF, LeRF and combined ROAD scores over batches (mean class-probability change,
    averaged over the percentiles), and their per-percentile curves."""

    def __init__(self, score_fn: ScoreFn | None = None, *, percentiles=PERCENTILES,
                 noise: float = 0.01, key=None, batch_size: int = 6):
        self.score_fn = score_fn
        self.key = jax.random.key(0) if key is None else key
        self.batch_size = batch_size
        self.config = {"percentiles": tuple(float(q) for q in percentiles),
                       "noise": float(noise)}
        self.sums = {m: np.zeros(len(percentiles)) for m in ("morf", "lerf")}
        self.num_images = 0

    def update(self, images, maps, classes, indices=None) -> None:
        """images (N, H, W, 3) as ``score_fn`` takes them, maps (N, H, W), classes (N,);
        ``indices`` the images' data-set indices (default: counted from 0 over updates)."""
        if self.score_fn is None:
            raise ValueError("ROADAccumulator.update needs the score_fn it was built with")
        if indices is None:
            indices = self.num_images + np.arange(np.shape(images)[0])
        s = road_scores(self.score_fn, images, maps, classes,
                        percentiles=self.config["percentiles"], noise=self.config["noise"],
                        key=self.key, indices=indices, batch_size=self.batch_size)
        self.update_scores(s["morf"], s["lerf"])

    def update_scores(self, morf, lerf) -> None:
        """Add (N, P) score changes computed elsewhere."""
        for name, s in (("morf", morf), ("lerf", lerf)):
            s = np.asarray(s, np.float64)
            if s.ndim != 2 or s.shape[1] != len(self.sums[name]):
                raise ValueError(f"{name} scores must be (N, {len(self.sums[name])}), got "
                                 f"shape {s.shape}")
            self.sums[name] += s.sum(axis=0)
        self.num_images += s.shape[0]

    def merge(self, other: "ROADAccumulator") -> "ROADAccumulator":
        state = other.get_state()
        mine = self.get_state()
        self.set_state({**state, **{k: mine[k] + state[k] for k in
                                    ("morf_sum", "lerf_sum", "num_images")}})
        return self

    def get_state(self) -> dict[str, Any]:
        return {"morf_sum": self.sums["morf"].copy(), "lerf_sum": self.sums["lerf"].copy(),
                "num_images": int(self.num_images), "config": dict(self.config)}

    def set_state(self, state: dict[str, Any]) -> None:
        if dict(state["config"]) != self.config:
            raise ValueError(f"cannot combine ROAD accumulators with different settings: "
                             f"{state['config']} vs {self.config}")
        self.sums = {m: np.asarray(state[f"{m}_sum"], np.float64).copy()
                     for m in ("morf", "lerf")}
        self.num_images = int(state["num_images"])

    def result(self) -> dict[str, Any]:
        if self.num_images == 0:
            raise ValueError("ROADAccumulator.result() before any image was accumulated")
        morf, lerf = (self.sums[m] / self.num_images for m in ("morf", "lerf"))
        return {"road_morf": float(morf.mean()), "road_lerf": float(lerf.mean()),
                "road_combined": float((lerf.mean() - morf.mean()) / 2),
                "morf_curve": morf, "lerf_curve": lerf,
                "percentiles": np.asarray(self.config["percentiles"]),
                "num_images": int(self.num_images)}
