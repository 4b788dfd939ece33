"""Faithfulness of saliency maps: average drop / increase in confidence, deletion / insertion.

Arrays in, numbers out: the caller supplies ``score_fn``, a callable from a batch of images
(N, H, W, 3), as the network takes them (normalised), to class probabilities (N, C), e.g.
``lambda x: jax.nn.softmax(predict(x))`` with ``predict`` jitted over the split model.
``maps`` are (N, H, W) at the image resolution, one per image, for the classes (N,).

* **Average drop and increase in confidence** (Chattopadhyay et al., WACV 2018, section
  5.1): ``Y`` = the class probability on the image, ``O`` = on the image multiplied by its
  map (in [0, 1]); average drop = mean of ``max(0, Y - O) / Y`` in %, increase in
  confidence = share of images with ``O > Y`` in %. The product is taken on the images as
  ``score_fn`` takes them, i.e. the normalised input, as pytorch-grad-cam
  (``multiply_tensor_with_cam``) and torchcam (``ClassificationMetric``) do.
* **Deletion and insertion** (Petsiuk et al., BMVC 2018, RISE's ``evaluation.py``): the
  pixels, in decreasing order of the map, are set to a baseline (deletion: default 0, the
  dataset mean of normalised images) or copied from the image into a blurred copy of it
  (insertion: RISE's blur, an 11 x 11 kernel obtained by ``scipy.ndimage.gaussian_filter``
  of a delta with sigma 5, applied per channel with zero padding). Step i of ``steps``
  has changed the first ``floor(i H W / steps)`` pixels (RISE's schedule when ``steps``
  divides H W, e.g. 224 steps of 224 pixels at 224 x 224); the class-probability curve
  over the ``steps + 1`` points, at abscissae i / steps, is integrated by the trapezoid
  rule over [0, 1] (RISE's ``auc``). Lower deletion and higher insertion are better.
  Ties in the map are broken by the row-major pixel index, lower first (a stable sort;
  RISE's reversed ``np.argsort`` leaves them to the sort algorithm).

All the perturbed images of a chunk of ``batch_size`` steps go through ``score_fn`` in one
call (N x batch_size images, image-major, so a batch sharded along ``data`` stays sharded).
Both accumulators keep sums and counts only; ``merge`` adds another one, ``get_state`` /
``set_state`` let processes sum their states (as the WSOL accumulators in wsol.py).
"""
from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from camjax.evaluation.perturbation import (ScoreFn, as_arrays, auc, blur, check_inputs,
                                            class_scores, perturbed_images, pixel_ranks,
                                            rise_blur_kernel, step_counts)


# ----------------------------------------------------------------- drop / increase
def confidence_scores(score_fn: ScoreFn, images, maps, classes):
    """(Y, O): class probabilities on the images and on ``images * maps``, each (N,)."""
    images, maps, classes = as_arrays(images, maps, classes)
    check_inputs(images, maps, classes, unit_maps=True)
    y = class_scores(score_fn, images, classes, check=True)[:, 0]
    o = class_scores(score_fn, images * maps[..., None].astype(images.dtype), classes)[:, 0]
    return y, o


class ConfidenceAccumulator:
    """Average drop and increase in confidence (%), over batches."""

    def __init__(self, score_fn: ScoreFn | None = None):
        self.score_fn = score_fn
        self.drop_sum = 0.0
        self.num_increased = 0
        self.num_images = 0

    def update(self, images, maps, classes) -> None:
        """images (N, H, W, 3), maps (N, H, W) in [0, 1], classes (N,)."""
        if self.score_fn is None:
            raise ValueError("ConfidenceAccumulator.update needs the score_fn it was built with")
        self.update_scores(*confidence_scores(self.score_fn, images, maps, classes))

    def update_scores(self, y, o) -> None:
        """Count class probabilities computed elsewhere: on the images (y) and masked (o)."""
        y, o = np.asarray(y, np.float64).ravel(), np.asarray(o, np.float64).ravel()
        if y.shape != o.shape:
            raise ValueError(f"y and o differ in shape: {y.shape} vs {o.shape}")
        drop = np.maximum(y - o, 0)
        # Y > 0 for a softmax; where it underflowed to 0 there is nothing to drop
        self.drop_sum += float(np.where(y > 0, drop / np.where(y > 0, y, 1), 0).sum())
        self.num_increased += int((o > y).sum())
        self.num_images += y.size

    def merge(self, other: "ConfidenceAccumulator") -> "ConfidenceAccumulator":
        self.drop_sum += other.drop_sum
        self.num_increased += other.num_increased
        self.num_images += other.num_images
        return self

    def get_state(self) -> dict[str, Any]:
        return {"drop_sum": float(self.drop_sum), "num_increased": int(self.num_increased),
                "num_images": int(self.num_images)}

    def set_state(self, state: dict[str, Any]) -> None:
        self.drop_sum = float(state["drop_sum"])
        self.num_increased = int(state["num_increased"])
        self.num_images = int(state["num_images"])

    def result(self) -> dict[str, Any]:
        if self.num_images == 0:
            raise ValueError("ConfidenceAccumulator.result() before any image was accumulated")
        return {"average_drop": 100.0 * self.drop_sum / self.num_images,
                "increase_in_confidence": 100.0 * self.num_increased / self.num_images,
                "num_images": int(self.num_images)}


# ------------------------------------------------------------- deletion / insertion
def perturbation_curve(score_fn: ScoreFn, start, finish, ranks, classes, steps: int,
                       batch_size: int = 16) -> jax.Array:
    """(N, steps + 1) class probabilities as pixels switch from ``start`` to ``finish``:
    one ``score_fn`` call per chunk of ``batch_size`` steps (the last chunk padded, so
    every call has the same shape and compiles once)."""
    counts = step_counts(ranks.shape[1], steps)
    chunk = min(batch_size, steps + 1)
    padded = np.concatenate([counts, np.full(-len(counts) % chunk, counts[-1])])
    curves = [class_scores(score_fn, perturbed_images(start, finish, ranks, jnp.asarray(
        c, jnp.int32)), classes, check=i == 0) for i, c in enumerate(padded.reshape(-1, chunk))]
    return jnp.concatenate(curves, axis=1)[:, :steps + 1]


def deletion_insertion_curves(score_fn: ScoreFn, images, maps, classes, *, steps: int = 100,
                              batch_size: int = 16, baseline=0.0, blur_size: int = 11,
                              blur_sigma: float = 5.0) -> dict[str, jax.Array]:
    """{"deletion": (N, steps + 1), "insertion": (N, steps + 1)} class probabilities."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    images, maps, classes = as_arrays(images, maps, classes)
    check_inputs(images, maps, classes, unit_maps=False)
    ranks = pixel_ranks(maps)
    removed = jnp.broadcast_to(jnp.asarray(baseline, images.dtype), images.shape)
    blurred = blur(images, jnp.asarray(rise_blur_kernel(blur_size, blur_sigma)))
    curve = partial(perturbation_curve, score_fn, ranks=ranks, classes=classes, steps=steps,
                    batch_size=batch_size)
    return {"deletion": curve(images, removed), "insertion": curve(blurred, images)}


class DeletionInsertionAccumulator:
    """Mean deletion and insertion curves and their AUCs (fractions in [0, 1]), over batches.
    Options as :func:`deletion_insertion_curves`; ``baseline`` a scalar or (3,) colour."""

    def __init__(self, score_fn: ScoreFn | None = None, *, steps: int = 100,
                 batch_size: int = 16, baseline=0.0, blur_size: int = 11,
                 blur_sigma: float = 5.0):
        self.score_fn = score_fn
        self.options = {"steps": steps, "batch_size": batch_size, "baseline": baseline,
                        "blur_size": blur_size, "blur_sigma": blur_sigma}
        self.config = {"steps": int(steps), "baseline": tuple(np.ravel(baseline).tolist()),
                       "blur_size": int(blur_size), "blur_sigma": float(blur_sigma)}
        self.curve_sums = {m: np.zeros(steps + 1) for m in ("deletion", "insertion")}
        self.num_images = 0

    def update(self, images, maps, classes) -> None:
        """images (N, H, W, 3), maps (N, H, W) (any finite scores: only the order counts),
        classes (N,)."""
        if self.score_fn is None:
            raise ValueError("DeletionInsertionAccumulator.update needs the score_fn it was "
                             "built with")
        curves = deletion_insertion_curves(self.score_fn, images, maps, classes,
                                           **self.options)
        self.update_curves(curves["deletion"], curves["insertion"])

    def update_curves(self, deletion, insertion) -> None:
        """Add (N, steps + 1) curves computed elsewhere."""
        for mode, c in (("deletion", deletion), ("insertion", insertion)):
            c = np.asarray(c, np.float64)
            if c.ndim != 2 or c.shape[1] != self.config["steps"] + 1:
                raise ValueError(f"{mode} curves must be (N, {self.config['steps'] + 1}), "
                                 f"got shape {c.shape}")
            self.curve_sums[mode] += c.sum(axis=0)
        self.num_images += c.shape[0]

    def merge(self, other: "DeletionInsertionAccumulator") -> "DeletionInsertionAccumulator":
        self.set_state(_summed(self.get_state(), other.get_state()))
        return self

    def get_state(self) -> dict[str, Any]:
        return {**{f"{m}_curve_sum": s.copy() for m, s in self.curve_sums.items()},
                "num_images": int(self.num_images), "config": dict(self.config)}

    def set_state(self, state: dict[str, Any]) -> None:
        if dict(state["config"]) != self.config:
            raise ValueError(f"cannot combine deletion/insertion accumulators with different "
                             f"settings: {state['config']} vs {self.config}")
        for m in self.curve_sums:
            self.curve_sums[m] = np.asarray(state[f"{m}_curve_sum"], np.float64).copy()
        self.num_images = int(state["num_images"])

    def result(self) -> dict[str, Any]:
        """AUCs of the mean curves (= the mean of the per-image AUCs), the mean curves and
        their abscissae (fraction of pixels changed)."""
        if self.num_images == 0:
            raise ValueError("DeletionInsertionAccumulator.result() before any image")
        mean = {m: s / self.num_images for m, s in self.curve_sums.items()}
        return {"deletion_auc": float(auc(mean["deletion"])),
                "insertion_auc": float(auc(mean["insertion"])),
                "deletion_curve": mean["deletion"], "insertion_curve": mean["insertion"],
                "fractions": np.arange(self.config["steps"] + 1) / self.config["steps"],
                "num_images": int(self.num_images)}


def _summed(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    if dict(a["config"]) != dict(b["config"]):
        raise ValueError("cannot combine deletion/insertion accumulators with different "
                         f"settings: {a['config']} vs {b['config']}")
    return {k: a[k] if k == "config" else a[k] + b[k] for k in a}
