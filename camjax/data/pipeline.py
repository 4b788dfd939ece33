"""Every dataset source read through grain, sharded per process.

``open_source(config, split, workdir)`` opens ``config.dataset``: a TFDS name (prepared
on process 0, read as array_record), ``wsol:METADATA_DIR`` (``camjax.data.wsol``) or
``folder:DIR`` (``camjax.data.folders``); all satisfy ``camjax.data.sources.Source``.

Training batches: ``camjax.data.train_stream``.

Evaluation: process p takes elements p, p + P, ...; the evaluator sums counts.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import grain
import jax
import numpy as np
import tensorflow_datasets as tfds

from camjax import distributed
from camjax.data import joins, sources, transforms
from camjax.data.joins import box_lookup
from camjax.errors import ConfigError

BUILTIN = "camjax_shapes"


def data_dir(config, workdir) -> str:
    """config.data_dir, else $CAMJAX_DATA_DIR, else WORKDIR/tfds (never the home folder)."""
    d = config.data_dir or os.environ.get("CAMJAX_DATA_DIR") or str(Path(workdir) / "tfds")
    return str(Path(d).expanduser().absolute())


def prepare(name: str, directory: str) -> None:
    """Prepare a TFDS dataset as array_record (the built-in one is generated, no download).
    ``wsol:`` and ``folder:`` datasets are read as they are: nothing to do."""
    if dataset_kind(name)[0] != "tfds":
        return
    if name.startswith(BUILTIN):
        from camjax.data.builders import shapes
        config = name.split("/", 1)[1] if "/" in name else None
        shapes.prepare(directory, config=config or "default")
        return
    try:
        builder = tfds.builder(name, data_dir=directory, file_format="array_record")
    except tfds.core.registered.DatasetNotFoundError as err:   # its message lists all 1300
        raise ConfigError(f"dataset {name!r} is not a TFDS dataset (nor prepared in "
                          f"{directory})") from err
    if builder.is_prepared():
        return
    try:
        builder.download_and_prepare(file_format="array_record")
    except AssertionError as err:   # TFDS's way of saying "manual download missing"
        if "manual" not in str(err).lower():
            raise
        manual = Path(directory) / "downloads" / "manual"
        raise FileNotFoundError(
            f"dataset {name!r} needs a manual download: put its archives "
            f"(imagenet2012: ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar from "
            f"https://image-net.org) in {manual}, then rerun; see docs/training.md") from err


def tfds_data_source(name: str, split: str, directory: str):
    """The raw random-access ``tfds.data_source`` (no TensorFlow on the read path)."""
    if name.startswith(BUILTIN):
        from camjax.data.builders import shapes  # noqa: F401  (registers the builder)
    try:
        return tfds.data_source(name, split=split, data_dir=directory)
    except Exception as err:
        raise FileNotFoundError(
            f"dataset {name!r} split {split!r} is not prepared in {directory} "
            f"({type(err).__name__}: {str(err).splitlines()[0][:160]}); run "
            f"`camjax prepare --dataset {name} --data_dir {directory}`") from err


def source(name: str, split: str, directory: str, *, boxes: dict | None = None,
           annotations_path: str = "") -> sources.TfdsSource:
    """A prepared TFDS split as a camjax source (``boxes``: joined by file name)."""
    return sources.TfdsSource(tfds_data_source(name, split, directory), name, split,
                              boxes=boxes, annotations_path=annotations_path)


def dataset_kind(name: str) -> tuple[str, str]:
    """``config.dataset`` -> ("tfds", name) | ("wsol", METADATA_DIR) | ("folder", DIR)."""
    for kind in ("wsol", "folder"):
        if name.startswith(kind + ":"):
            path = name[len(kind) + 1:]
            if not path:
                raise ConfigError(f"config.dataset={name!r} needs a folder: {kind}:PATH")
            return kind, path
    return "tfds", name


def open_source(config, split: str, workdir, *, join_annotations: bool = True,
                draft_size: int = 0):
    """The ``split`` of ``config.dataset`` as a :class:`camjax.data.sources.Source`.

    TFDS datasets are prepared first, on process 0, the others waiting. Folder layouts
    are checked now (metadata, labels, that every file exists), before any training.
    ``join_annotations`` (off for a training split): the split is to be evaluated, so
    ``config.eval_annotations`` boxes are joined by file name (folder and TFDS sources)
    and no image may have more boxes than ``config.max_boxes``. ``draft_size``: JPEG files
    (``wsol:``, ``folder:``) may be decoded down to this side (``train_stream.train_draft_size``).
    """
    kind, path = dataset_kind(config.dataset)
    lookup = box_lookup(config) if join_annotations and kind != "wsol" else None
    if kind == "wsol":
        from camjax.data import wsol
        src = wsol.WsolSource(path, split, image_root=config.image_root,
                              mask_root=config.mask_root, max_pixels=config.max_image_pixels,
                              draft_size=draft_size)
        return _check_max_boxes(src, config) if join_annotations else src
    if kind == "folder":
        from camjax.data import folders
        src = folders.ImageFolderSource(
            path, split, class_split=config.train_split, max_pixels=config.max_image_pixels,
            boxes=lookup, annotations_path=config.eval_annotations,
            exif_orientation=not config.eval_annotations, draft_size=draft_size)
        return _check_max_boxes(src, config) if join_annotations else src
    ddir = data_dir(config, workdir)
    if distributed.is_main_process():
        prepare(config.dataset, ddir)
    distributed.barrier("camjax_prepare")
    return source(config.dataset, split, ddir, boxes=lookup,
                  annotations_path=config.eval_annotations)


def with_splits(config):
    """``(config, note)``: a class-folder dataset's evaluation splits resolved against its
    folders (``camjax.data.folders.resolve_splits``: no ``test/`` but ``val/`` -> ``val``;
    a ``val_split`` without a folder, or the split evaluated, dropped), ``note`` saying what
    changed for the report; other datasets: ``(config, "")``."""
    kind, path = dataset_kind(config.dataset)
    if kind != "folder":
        return config, ""
    from camjax.data import folders
    eval_split, val_split, note = folders.resolve_splits(path, config.eval_split,
                                                         config.val_split)
    if not note:
        return config, ""
    resolved = config.copy_and_resolve_references()
    resolved.eval_split, resolved.val_split = eval_split, val_split
    resolved.lock()
    return resolved, f"{config.dataset}: {note}"


def _check_max_boxes(src, config):
    """Eval batches hold config.max_boxes boxes per image: say so now, not mid-evaluation."""
    most, image_id = src.most_boxes
    if most > config.max_boxes:
        raise ConfigError(f"image {image_id!r} of {src.dataset} {src.split!r} has {most} "
                          f"boxes, more than config.max_boxes={config.max_boxes}: set "
                          f"--config.max_boxes={most}")
    return src


def num_classes(src) -> int:
    if hasattr(src, "class_names"):
        return len(src.class_names)
    return src.dataset_info.features["label"].num_classes


def class_names(src) -> list[str]:
    if hasattr(src, "class_names"):
        return list(src.class_names)
    return list(src.dataset_info.features["label"].names)


def has_boxes(src) -> bool:
    """Whether the records carry ``boxes`` (imagenet2012 in TFDS does not)."""
    if hasattr(src, "has_boxes"):
        return bool(src.has_boxes)
    return sources._tfds_has_boxes(src.dataset_info.features)


def has_masks(src) -> bool:
    if hasattr(src, "has_masks"):
        return bool(src.has_masks)
    return "segmentation_mask" in src.dataset_info.features


def describe(src) -> str:
    """One line naming the dataset and split, for reports."""
    return getattr(src, "description", None) or type(src).__name__


def eval_batches(src, config, *, with_boxes: bool = True, limit: int | None = None):
    """Local eval batches over the whole split in order, the last padded (``valid`` False).

    Yields (batch index, local batch): ``image`` (image_size), ``label``, ``valid``,
    ``file_name`` (the record's id: a path for folder sources), ``index`` (its position in
    the split), and ``boxes`` (with_boxes; padded with -1) and ``mask`` (when the records
    have masks) at ``config.eval_map_size`` (0: image_size). Process p of P takes elements
    p, p + P, ...; so global batch s holds elements [s*B, (s+1)*B) for any P, and every
    process yields the same number of batches.
    """
    n = len(src) if limit is None else min(limit, len(src))
    procs, me = jax.process_count(), jax.process_index()
    local_batch = config.eval_batch_size // procs
    fn = functools.partial(transforms.eval_example, image_size=config.image_size,
                           max_boxes=config.max_boxes, with_boxes=with_boxes,
                           map_size=config.eval_map_size)
    join = with_boxes and not has_boxes(src) and bool(config.eval_annotations)
    lookup = box_lookup(config) if join else None

    def example(index: int) -> dict:
        record = src[index]
        if join:
            record = joins.with_boxes(record, lookup=lookup, path=config.eval_annotations)
        out = fn(record)
        out["file_name"] = str(record.get("file_name", index))
        out["index"] = np.int64(index)
        return out

    ds = grain.MapDataset.range(n)[me::procs].map(example)
    per_process = -(-n // procs)
    steps = -(-per_process // local_batch)
    it = iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=config.data_threads)))
    template = None
    for step in range(steps):
        items = []
        for _ in range(local_batch):
            item = next(it, None)
            if item is None:   # (a process with no element at all pads from element 0)
                item = transforms.padding_example(template or example(0))
            template = template or item
            items.append(item)
        yield step, {k: np.stack([e[k] for e in items]) for k in items[0]}
