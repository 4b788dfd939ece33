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

Deletion and insertion are computed together in one jitted program, ``score_fn`` traced
into it: the pixel order once, the image itself scored once (deletion's first point is
insertion's last), so 2 steps + 1 distinct images per row; ``batch_size`` of them x N
images per ``score_fn`` call (image-major, so a batch sharded along ``data`` stays
sharded), no padded images, and no result returns to the host before the end.
Both accumulators keep sums and counts only; ``merge`` adds another one, ``get_state`` /
``set_state`` let processes sum their states (as the WSOL accumulators in wsol.py).
"""
from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from camjax.evaluation.perturbation import (ScoreFn, as_arrays, as_partial, auc, blur_bands,
                                            blur_with_bands, check_inputs, class_probability,
                                            class_scores, pixel_ranks, rise_blur_kernel,
                                            step_counts)


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
def curve_points(num_pixels: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The 2 steps + 1 distinct images behind the two curves, as (pixels switched, deletion?)
    pairs: the image itself (deletion's point 0 and insertion's point ``steps``, scored
    once), deletion's points 1..steps, then insertion's points 0..steps-1."""
    counts = step_counts(num_pixels, steps)
    switched = np.concatenate([counts[:1], counts[1:], counts[:-1]]).astype(np.int32)
    deleting = np.arange(2 * steps + 1) <= steps
    return switched, deleting


@partial(jax.jit, static_argnames=("steps", "chunk"))
def _curves(score_fn, images, maps, classes, baseline, bands, *, steps: int, chunk: int):
    """(deletion (N, steps + 1), insertion (N, steps + 1), classes in range?) in one program:
    the pixel order, the blur, every perturbed image, ``score_fn`` and the class
    probabilities; ``chunk`` points of the N images per ``score_fn`` call (a ``lax.map``
    over the full chunks, then one call for the rest: no padded images)."""
    n, h, w, c = images.shape
    ranks = pixel_ranks(maps).reshape(n, 1, h, w, 1)
    removed = jnp.broadcast_to(baseline.astype(images.dtype), images.shape)
    blurred = blur_with_bands(images, *bands)
    switched, deleting = curve_points(h * w, steps)
    seen = {}                                        # the class count, found when tracing

    def score(args):
        count, delete = args                         # (s,), (s,): one chunk of points
        at = lambda a: a[:, None]                    # noqa: E731  (N, 1, H, W, 3)
        d = delete[None, :, None, None, None]
        start = jnp.where(d, at(images), at(blurred))
        finish = jnp.where(d, at(removed), at(images))
        x = jnp.where(ranks < count[None, :, None, None, None], finish, start)
        probs = score_fn(x.reshape(-1, h, w, c))      # image-major: a sharded batch stays so
        if probs.ndim != 2 or probs.shape[0] != x.shape[0] * x.shape[1]:
            raise ValueError(f"score_fn must return (N={x.shape[0] * x.shape[1]}, C) class "
                             f"probabilities, got shape {probs.shape}")
        seen["classes"] = probs.shape[1]
        return class_probability(probs.astype(jnp.float32), classes)

    full, rest = divmod(len(switched), chunk)
    parts = []
    if full:
        out = jax.lax.map(score, (switched[:full * chunk].reshape(full, chunk),
                                  deleting[:full * chunk].reshape(full, chunk)))
        parts.append(jnp.moveaxis(out, 0, 1).reshape(n, full * chunk))   # (N, full chunk)
    if rest:
        parts.append(score((switched[full * chunk:], deleting[full * chunk:])))
    points = jnp.concatenate(parts, axis=1)                           # (N, 2 steps + 1)
    deletion = points[:, :steps + 1]
    insertion = jnp.concatenate([points[:, steps + 1:], points[:, :1]], axis=1)
    in_range = jnp.all((classes >= 0) & (classes < seen["classes"]))
    return deletion, insertion, in_range


def deletion_insertion_curves(score_fn: ScoreFn, images, maps, classes, *, steps: int = 100,
                              batch_size: int = 16, baseline=0.0, blur_size: int = 11,
                              blur_sigma: float = 5.0) -> dict[str, jax.Array]:
    """{"deletion": (N, steps + 1), "insertion": (N, steps + 1)} class probabilities.

    One jitted program (``score_fn`` is traced into it, see ``perturbation.as_partial``):
    the 2 steps + 1 distinct images of each row go through ``score_fn`` ``batch_size``
    points x N images per call, and nothing returns to the host until the end."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    images, maps, classes = as_arrays(images, maps, classes)
    check_inputs(images, maps, classes, unit_maps=False)
    baseline = jnp.asarray(baseline, images.dtype)
    bands = blur_bands(rise_blur_kernel(blur_size, blur_sigma), *images.shape[1:3])
    deletion, insertion, in_range = _curves(
        as_partial(score_fn), images, maps, classes, baseline, bands, steps=steps,
        chunk=min(batch_size, 2 * steps + 1))
    if not bool(in_range):
        raise ValueError("classes must lie in [0, C) (score_fn's classes)")
    return {"deletion": deletion, "insertion": insertion}


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
