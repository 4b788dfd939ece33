"""``localize``: maps, boxes and overlays for a user's own image files, batched and jitted.

Images are decoded and preprocessed on the host by a pool of threads (the next batch
while the current one runs), stacked ``batch_size`` at a time (rounded up to a multiple of
this process's device count; the last batch padded, so the network compiles once), and
each batch is one jitted call (:func:`camjax.localize.predictor.predict_batch`) sharded
over this process's devices along ``data``; the padded rows' outputs are dropped. With
several processes (``jax.distributed``: ``CAMJAX_COORDINATOR``, ``CAMJAX_NUM_PROCESSES``,
``CAMJAX_PROCESS_ID``, or ``distributed=True``), each localizes its contiguous share of
the files and process 0 writes the merged tables (:mod:`camjax.localize.shares`).

Boxes come from the paper rule (``camjax.boxes.largest_component_boxes``, ``threshold`` of
each map's max) on the maps at the model input's resolution and are mapped back to the
original pixels (:mod:`camjax.engine.frames`). ``classes`` (``--class``,
:mod:`camjax.localize.classes`) replaces each image's top-k by chosen classes, through
the same engine call; ``save_maps`` writes each image's maps at its own size
(:mod:`camjax.localize.maps`). A file that does not decode is reported (stderr and
predictions.json's ``failed``) and the others are still processed and written.

Nothing is written before the inputs, the options (``--class`` included), ``--out`` and
the model have passed their checks. SIGINT / SIGTERM stop the run after the batch in
flight: the images done so far are written (overlays, maps, maps.npz and the tables,
``"interrupted": true`` in predictions.json) and ``LocalizeResult.interrupted`` names the
signal (the command line exits 130 / 143).
"""
from __future__ import annotations

import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import jax
import numpy as np
from tqdm import tqdm

from camjax import checks
from camjax.checks.stages import DEFAULT_TOP_K
from camjax.distributed import maybe_initialize
from camjax.errors import UserError, did_you_mean
from camjax.localize import classes as classes_lib, draw, maps as maps_lib, output
from camjax.localize import options as options_lib, shares
from camjax.localize.inputs import collect, load
from camjax.localize.predictor import (CLASSIFIERS, Predictor, check_layer, from_weights,
                                      from_workdir, predict_batch)
from camjax.methods import smoothing
from camjax.signals import StopSignals
from camjax.training import mesh as mesh_lib

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
    interrupted: str | None = None       # "SIGINT" / "SIGTERM" when a signal stopped it
    exit_status: int = 0                 # the shell status of that signal (130, 143)
    num_inputs: int = 0                  # images found, processed or not
    maps_npz: Path | None = None         # --save_maps: maps.npz (and the maps/ folder)
    process: int = 0                     # jax.process_index(): 0 wrote the tables

    @property
    def ok(self) -> bool:
        """True when every image was processed (the CLI exits 0, else 1)."""
        return not self.failed and not self.interrupted


def localize(images, out_dir, *, model: str | None = None, weights=None, workdir=None,
             top_k: int | None = None, method: str = "cam", threshold: float | None = None,
             batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = True,
             max_image_pixels: int | None = None, layer: str | None = None,
             aug_smooth: bool | None = None, eigen_smooth: bool | None = None,
             classes=None, save_maps: bool = False,
             distributed: bool = False) -> LocalizeResult:
    """Maps, boxes and overlay pictures of ``images`` (files and folders) into ``out_dir``.

    The network is ``model`` (a torchvision classifier name) filled from ``weights``
    (ImageNet's 1000 classes, torchvision's preprocessing), or the latest checkpoint of the
    training ``workdir`` (its model, image size, transform, map options, class names).
    ``top_k`` (default: the config's ``top_k``, at most the number of classes) classes per
    image, each with its ``method`` map (a ``camjax.methods`` name; at ``layer``, a module
    path as torchvision names it, default the network's features) and its box at
    ``threshold`` (default: the config's ``cam_threshold``). ``aug_smooth``,
    ``eigen_smooth``: the map options of ``camjax.methods.smoothing`` (None: the config's,
    ``config.aug_smooth`` / ``config.eigen_smooth``, where the method takes it). Images above
    ``max_image_pixels`` (default: the config's ``max_image_pixels``) are refused before
    they are decoded. ``classes`` (an index or class name, or a list of them:
    :func:`camjax.localize.classes.resolve`) replaces the top-k: every image gets the maps
    and boxes of these classes, in this order (``top_k`` is then ignored, with a warning
    when given). ``save_maps``: each image's maps at its own size in ``maps/<name>.npy``
    and all of them in ``maps.npz`` (:mod:`camjax.localize.maps`). Raises
    :class:`UserError` for what the user can fix before anything runs (paths, weights,
    options, classes), writing nothing; an image that does not decode is recorded in
    ``result.failed`` instead.

    Several processes (``jax.distributed``, started here from the ``CAMJAX_*`` variables
    or, with ``distributed``, JAX's auto-detection) split the files: each writes its
    overlays and maps, process 0 the merged tables, and its result holds every image;
    another process's result holds its own share.
    """
    maybe_initialize(distributed)
    if (workdir is None) == (model is None):
        raise UserError("give either --workdir, or --model with --weights")
    if workdir is not None and weights is not None:
        raise UserError("--weights goes with --model; a --workdir run uses its checkpoint")
    if model is not None and model not in CLASSIFIERS:
        raise UserError(f"--model {model!r}: localize --model takes a torchvision classifier "
                        f"({', '.join(CLASSIFIERS)}){did_you_mean(model, CLASSIFIERS)}; for "
                        "other camjax networks train them and use --workdir")
    if model is not None and weights is None:
        raise UserError(f"--model {model} needs --weights (a torchvision .safetensors or "
                        ".pth file)")
    options_lib.check_options(method, top_k, threshold, batch_size, eigen_smooth)
    if max_image_pixels is not None and (not isinstance(max_image_pixels, int)
                                         or max_image_pixels < 1):
        raise UserError(f"--max_image_pixels must be a positive integer, got "
                        f"{max_image_pixels!r}")
    inputs = collect(images)
    checks.writable_folder(out_dir, "--out", create=False)        # checked, not created
    predictor = from_workdir(workdir) if workdir is not None else from_weights(model, weights)
    config = predictor.config
    layer = layer or config.get("cam_layer") or None
    check_layer(predictor, method, layer)
    options = smoothing.config_options(config, method, aug_smooth, eigen_smooth)
    num_classes = len(predictor.class_names)
    chosen = None
    if classes is not None:           # the chosen classes replace the top-k
        chosen = classes_lib.resolve(classes, predictor.class_names, _class_list(predictor))
        if top_k is not None:
            warnings.warn(f"--top_k {top_k} is ignored: --class chooses the classes to map",
                          stacklevel=2)
        top_k = len(chosen)
    if top_k is not None and top_k > num_classes:
        raise UserError(f"--top_k {top_k} is more than the model's {num_classes} classes")
    k = top_k or min(config.top_k or DEFAULT_TOP_K, num_classes)
    threshold = config.cam_threshold if threshold is None else float(threshold)
    max_pixels = max_image_pixels or predictor.max_pixels
    settings = {**predictor.source, "method": method, "layer": layer, "threshold": threshold,
                "top_k": None if chosen else k,
                **({"classes": chosen} if chosen else {}),
                "aug_smooth": dict(options).get("aug_smooth", False),
                "eigen_smooth": dict(options).get("eigen_smooth", False),
                "preprocessing": predictor.preprocessing.describe(),
                "upsample": predictor.upsample, "normalize": predictor.normalize,
                "num_classes": num_classes}
    out_dir = checks.writable_folder(out_dir, "--out")            # everything passed: now
    (out_dir / "overlays").mkdir(exist_ok=True)
    if save_maps:
        (out_dir / "maps").mkdir(exist_ok=True)
    index, count = jax.process_index(), jax.process_count()
    mine = shares.share(inputs.images, index, count)
    with StopSignals() as stop:
        results, failed = _run(mine, inputs.skipped, predictor, out_dir, stop,
                               batch_size=batch_size, method=method, k=k,
                               threshold=threshold, layer=layer, max_pixels=max_pixels,
                               progress=progress and index == 0, options=options,
                               classes=chosen, save_maps=save_maps)
    interrupted = stop.signal_name
    if count > 1:                 # process 0 writes the tables of every share
        merged = shares.gather(out_dir, results, failed, interrupted)
        if merged is None:        # another process: its own share's result
            return LocalizeResult(out_dir, results, failed, [str(p) for p in inputs.skipped],
                                  out_dir / "predictions.json", out_dir / "predictions.csv",
                                  settings, interrupted, stop.exit_status if interrupted
                                  else 0, len(mine), process=index)
        results, failed, interrupted = merged
    npz = maps_lib.write_npz(out_dir, [r.name for r in results]) if save_maps else None
    tables = output.write_tables(out_dir, settings, results, failed,
                                 [str(p) for p in inputs.skipped], interrupted=interrupted,
                                 num_inputs=len(inputs.images))
    return LocalizeResult(out_dir, results, failed, [str(p) for p in inputs.skipped],
                          tables.json, tables.csv, settings, interrupted,
                          shares.exit_status(interrupted), len(inputs.images), npz)


def _class_list(predictor: Predictor) -> str:
    """Where the model's class names come from, for ``--class`` errors."""
    if "workdir" in predictor.source:
        return str(Path(predictor.source["workdir"]) / "class_names.json")
    return "ImageNet, camjax.data.imagenet_classes()"


def _run(items, skipped, predictor, out_dir, stop, *, batch_size, method, k, threshold,
         layer, max_pixels, progress, options=(), classes=None, save_maps=False):
    """The batches of ``items`` (this process's share): decode the next while the current
    one runs; stop between batches when ``stop`` has a signal. Returns (results, failed)."""
    # a multiple of the devices, each batch sharded over them
    batch = mesh_lib.round_up(max(1, min(batch_size, len(items))), predictor.mesh)
    results, failed = [], []
    chunks = [items[i:i + batch] for i in range(0, len(items), batch)]
    bar = tqdm(total=len(items), unit="image", desc="localize", disable=not progress,
               file=sys.stderr)
    if skipped and progress:
        tqdm.write(f"camjax: skipped {len(skipped)} files without an image extension "
                   "(listed in predictions.json)", file=sys.stderr)
    pool = ThreadPoolExecutor(min(8, os.cpu_count() or 1))
    try:
        pending = [pool.submit(load, item, predictor.preprocessing, max_pixels)
                   for item in (chunks[0] if chunks else [])]
        drawing = []
        for index in range(len(chunks)):
            if stop.requested:
                break
            loaded = [f.result() for f in pending]
            if stop.requested:          # decoded but not predicted: not done, not written
                break
            pending = ([pool.submit(load, item, predictor.preprocessing, max_pixels)
                        for item in chunks[index + 1]] if index + 1 < len(chunks) else [])
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
                                           layer=layer, options=options, classes=classes,
                                           save_maps=save_maps)
                results.extend(done)
            bar.update(len(loaded))
        for f in drawing:
            f.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)   # the next batch's decoding, if any
        bar.close()
    return results, failed


def _run_batch(good, predictor, pool, out_dir, *, batch, method, k, threshold, layer,
               options=(), classes=None, save_maps=False):
    """One jitted call on the decoded images ``good`` (padded to ``batch``), their boxes
    in original pixels, and their pictures (and ``save_maps``: their maps) submitted to
    ``pool``: (results, futures). ``classes``: the classes to map, else the top ``k``."""
    from camjax.engine import boxes_on_photos
    size = predictor.preprocessing.size
    xs = np.zeros((batch, size, size, 3), np.float32)
    xs[:len(good)] = np.stack([data[1] for _, data in good])
    arrays = {"images": xs} if classes is None else {
        "images": xs, "classes": np.tile(np.asarray(classes, np.int32), (batch, 1))}
    arrays = mesh_lib.local_batch(predictor.mesh, arrays, rows=batch)   # sharded: data
    probs, top, maps = jax.device_get(predict_batch(
        predictor.graphdef, predictor.state, arrays["images"], method=method, k=k,
        upsample=predictor.upsample, normalize=predictor.normalize, layer=layer,
        options=options, classes=arrays.get("classes")))
    boxes = boxes_on_photos(maps[:len(good)], [frame for _, (_, _, frame) in good],
                            threshold)
    title = f"{method}: heat of class 1; boxes at {threshold:g} of each map's max"
    results, futures = [], []
    for j, (item, (shown, _, frame)) in enumerate(good):
        result = _result(item, frame, out_dir, predictor, top[j], probs[j], boxes[j],
                         save_maps)
        results.append(result)
        labels = [f"{n}  {100 * p:.1f}%" for n, p in zip(result.class_names,
                                                         result.probabilities)]
        futures.append(pool.submit(draw.save_picture, output.overlay_path(out_dir, item.name),
                                   shown, frame, maps[j, 0], result.boxes, labels, title))
        if save_maps:
            futures.append(pool.submit(maps_lib.save, out_dir, item.name, frame, maps[j]))
    return results, futures


def _result(item, frame, out_dir, predictor, classes, probs, boxes,
            save_maps=False) -> output.ImageResult:
    overlay = output.overlay_path(out_dir, item.name).relative_to(out_dir).as_posix()
    saved = maps_lib.map_path(out_dir, item.name).relative_to(out_dir).as_posix() \
        if save_maps else None
    return output.ImageResult(
        path=str(item.path), name=item.name, overlay=overlay, height=frame.height,
        width=frame.width, region=[int(v) for v in frame.region()],
        classes=[int(c) for c in classes],
        class_names=[predictor.class_names[int(c)] for c in classes],
        probabilities=[float(p) for p in probs], boxes=[[int(v) for v in b] for b in boxes],
        map=saved)
