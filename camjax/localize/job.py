"""``localize``: maps, boxes and overlays for a user's own image files, batched and jitted.

Images are decoded and preprocessed on the host by a pool of threads (the next batch
while the current one runs), stacked ``batch_size`` at a time (the last batch padded, so
the network compiles once), and each batch is one jitted call
(:func:`camjax.localize.predictor.predict_batch`). Boxes come from the paper rule
(``camjax.boxes.largest_component_boxes``, ``threshold`` of each map's max) on the maps at
the model input's resolution and are mapped back to the original pixels
(:mod:`camjax.engine.frames`). A file that does not decode is reported (stderr and
predictions.json's ``failed``) and the others are still processed and written.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import jax
import numpy as np
from tqdm import tqdm

from camjax import methods
from camjax.errors import ImageError, UserError
from camjax.localize import draw, output
from camjax.localize.inputs import ImageInput, collect
from camjax.localize.predictor import (Predictor, check_layer, from_weights, from_workdir,
                                      predict_batch)

DEFAULT_BATCH_SIZE = 16


@dataclass
class LocalizeResult:
    """What a run wrote: per-image results, failed and skipped files, the two tables."""
    out_dir: Path
    images: list[output.ImageResult]
    failed: list[output.Failure]
    skipped: list[str]
    predictions_json: Path
    predictions_csv: Path
    settings: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every image was processed (the CLI exits 0, else 1)."""
        return not self.failed


def _check_options(method, top_k, threshold, batch_size, eigen_smooth=None) -> None:
    if method not in methods.METHODS:
        raise UserError(f"--method {method!r}: unknown map method; available: "
                        f"{', '.join(methods.METHODS)}")
    if eigen_smooth and not methods.registry.get(method).eigen_smooth:
        takers = ", ".join(n for n in methods.METHODS if methods.registry.get(n).eigen_smooth)
        raise UserError(f"--eigen_smooth: the method {method!r} has no weighted channels to "
                        f"project (these do: {takers})")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise UserError(f"--top_k must be a positive integer, got {top_k!r}")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise UserError(f"--threshold must lie in [0, 1] (a fraction of each map's max), "
                        f"got {threshold!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise UserError(f"--batch_size must be a positive integer, got {batch_size!r}")


def _out_dir(out_dir) -> Path:
    out_dir = Path(out_dir)
    try:
        (out_dir / "overlays").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--out {out_dir}: cannot create it ({err.strerror or err})") from None
    if not os.access(out_dir, os.W_OK):
        raise UserError(f"--out {out_dir}: not writable")
    return out_dir


def _load(item: ImageInput, predictor: Predictor):
    """(item, (shown image, model input, frame) or None, error message or None)."""
    from camjax.data.images import decode_image
    try:
        image = decode_image(item.path, max_pixels=predictor.max_pixels)
        x, frame = predictor.preprocessing(image)
        return item, (draw.shown_image(image), x, frame), None
    except ImageError as err:
        return item, None, str(err)
    except (ValueError, OSError, MemoryError) as err:   # a decoded image the transform refuses
        return item, None, f"{item.path}: cannot preprocess ({type(err).__name__}: {err})"


def _save_picture(path: Path, *args) -> None:
    from camjax import viz
    try:
        viz.save_png(path, draw.picture(*args))
    except OSError as err:
        raise UserError(f"cannot write {path}: {err.strerror or err}") from None


def localize(images, out_dir, *, model: str | None = None, weights=None, workdir=None,
             top_k: int | None = None, method: str = "cam", threshold: float | None = None,
             batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = True,
             layer: str | None = None, aug_smooth: bool | None = None,
             eigen_smooth: bool | None = None) -> LocalizeResult:
    """Maps, boxes and overlay pictures of ``images`` (files and folders) into ``out_dir``.

    The network is ``model`` (a torchvision classifier name) filled from ``weights``
    (ImageNet's 1000 classes, torchvision's preprocessing), or the latest checkpoint of the
    training ``workdir`` (its model, image size, transform, map options, class names).
    ``top_k`` (default: the config's ``top_k``, at most the number of classes) classes per
    image, each with its ``method`` map (a ``camjax.methods`` name; at ``layer``, a module
    path as torchvision names it, default the network's features) and its box at
    ``threshold`` (default: the config's ``cam_threshold``). ``aug_smooth``,
    ``eigen_smooth``: the map options of ``camjax.methods.smoothing`` (None: the config's,
    ``config.aug_smooth`` / ``config.eigen_smooth``, where the method takes it). Raises
    :class:`UserError`
    for what the user can fix before anything runs (paths, weights, options); an image
    that does not decode is recorded in ``result.failed`` instead.
    """
    if (workdir is None) == (model is None):
        raise UserError("give either --workdir, or --model with --weights")
    if workdir is not None and weights is not None:
        raise UserError("--weights goes with --model; a --workdir run uses its checkpoint")
    if model is not None and weights is None:
        raise UserError(f"--model {model} needs --weights (a torchvision .safetensors or "
                        ".pth file)")
    _check_options(method, top_k, threshold, batch_size, eigen_smooth)
    inputs = collect(images)
    out_dir = _out_dir(out_dir)
    predictor = from_workdir(workdir) if workdir is not None else from_weights(model, weights)
    config = predictor.config
    layer = layer or config.get("cam_layer") or None
    check_layer(predictor, method, layer)
    options = _map_options(config, method, aug_smooth, eigen_smooth)
    num_classes = len(predictor.class_names)
    if top_k is not None and top_k > num_classes:
        raise UserError(f"--top_k {top_k} is more than the model's {num_classes} classes")
    k = top_k or min(config.top_k, num_classes)
    threshold = config.cam_threshold if threshold is None else float(threshold)
    settings = {**predictor.source, "method": method, "layer": layer, "threshold": threshold,
                "top_k": k, "aug_smooth": dict(options).get("aug_smooth", False),
                "eigen_smooth": dict(options).get("eigen_smooth", False),
                "preprocessing": predictor.preprocessing.describe(),
                "upsample": predictor.upsample, "normalize": predictor.normalize,
                "num_classes": num_classes}

    items = inputs.images
    batch = min(batch_size, len(items))
    results, failed = [], []
    chunks = [items[i:i + batch] for i in range(0, len(items), batch)]
    bar = tqdm(total=len(items), unit="image", desc="localize", disable=not progress,
               file=sys.stderr)
    if inputs.skipped:
        tqdm.write(f"camjax: skipped {len(inputs.skipped)} files without an image extension "
                   "(listed in predictions.json)", file=sys.stderr)
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool, bar:
        pending = [pool.submit(_load, item, predictor) for item in chunks[0]]
        drawing = []
        for index in range(len(chunks)):
            loaded = [f.result() for f in pending]
            pending = ([pool.submit(_load, item, predictor) for item in chunks[index + 1]]
                       if index + 1 < len(chunks) else [])
            for item, _, error in loaded:
                if error is not None:
                    failed.append(output.Failure(str(item.path), error))
                    tqdm.write(f"camjax: failed: {error}", file=sys.stderr)
            good = [(item, data) for item, data, error in loaded if error is None]
            for f in drawing:          # the previous batch's pictures: bounded memory
                f.result()
            drawing = []
            if good:
                done, drawing = _run_batch(good, predictor, pool, out_dir, batch=batch,
                                           method=method, k=k, threshold=threshold,
                                           layer=layer, options=options)
                results.extend(done)
            bar.update(len(loaded))
        for f in drawing:
            f.result()
    tables = output.write_tables(out_dir, settings, results, failed,
                                 [str(p) for p in inputs.skipped])
    return LocalizeResult(out_dir, results, failed, [str(p) for p in inputs.skipped],
                          tables.json, tables.csv, settings)


def _map_options(config, method, aug_smooth, eigen_smooth) -> tuple:
    """``(("aug_smooth", bool), ("eigen_smooth", bool))`` as given, else the config's
    (``eigen_smooth`` only where the method takes it)."""
    if aug_smooth is None:
        aug_smooth = bool(config.get("aug_smooth"))
    if eigen_smooth is None:
        eigen_smooth = bool(config.get("eigen_smooth")) and \
            methods.registry.get(method).eigen_smooth
    return (("aug_smooth", bool(aug_smooth)),) + (
        (("eigen_smooth", True),) if eigen_smooth else ())


def _run_batch(good, predictor, pool, out_dir, *, batch, method, k, threshold, layer,
               options=()):
    """One jitted call on the decoded images ``good`` (padded to ``batch``), their boxes
    in original pixels, and their pictures submitted to ``pool``: (results, futures)."""
    from camjax.engine import boxes_on_photos
    size = predictor.preprocessing.size
    xs = np.zeros((batch, size, size, 3), np.float32)
    xs[:len(good)] = np.stack([data[1] for _, data in good])
    probs, top, maps = jax.device_get(predict_batch(
        predictor.graphdef, predictor.state, xs, method=method, k=k,
        upsample=predictor.upsample, normalize=predictor.normalize, layer=layer,
        options=options))
    boxes = boxes_on_photos(maps[:len(good)], [frame for _, (_, _, frame) in good],
                            threshold)
    title = f"{method}: heat of class 1; boxes at {threshold:g} of each map's max"
    results, futures = [], []
    for j, (item, (shown, _, frame)) in enumerate(good):
        result = _result(item, frame, out_dir, predictor, top[j], probs[j], boxes[j])
        results.append(result)
        labels = [f"{n}  {100 * p:.1f}%" for n, p in zip(result.class_names,
                                                         result.probabilities)]
        futures.append(pool.submit(_save_picture, output.overlay_path(out_dir, item.name),
                                   shown, frame, maps[j, 0], result.boxes, labels, title))
    return results, futures


def _result(item, frame, out_dir, predictor, classes, probs, boxes) -> output.ImageResult:
    overlay = output.overlay_path(out_dir, item.name).relative_to(out_dir).as_posix()
    return output.ImageResult(
        path=str(item.path), name=item.name, overlay=overlay, height=frame.height,
        width=frame.width, region=[int(v) for v in frame.region()],
        classes=[int(c) for c in classes],
        class_names=[predictor.class_names[int(c)] for c in classes],
        probabilities=[float(p) for p in probs], boxes=[[int(v) for v in b] for b in boxes])
