"""TFDS array_record sources read through grain, sharded per process.

Training: global batch s is elements [s*B, (s+1)*B) of one shuffled, augmented,
endless stream; process p of P reads the contiguous block [s*B + p*B/P, s*B + (p+1)*B/P)
of it, the rows that ``jax.make_array_from_process_local_data`` places on its devices.
So the global batches, row for row, do not depend on the number of processes or
devices, and an iterator's state (batches consumed) is the training step.

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

from camjax.data import transforms
from camjax.errors import ConfigError

BUILTIN = "camjax_shapes"


def data_dir(config, workdir) -> str:
    """config.data_dir, else $CAMJAX_DATA_DIR, else WORKDIR/tfds (never the home folder)."""
    d = config.data_dir or os.environ.get("CAMJAX_DATA_DIR") or str(Path(workdir) / "tfds")
    return str(Path(d).expanduser().absolute())


def prepare(name: str, directory: str) -> None:
    """Prepare a TFDS dataset as array_record (the built-in one is generated, no download)."""
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


def source(name: str, split: str, directory: str):
    """A random-access ``tfds.data_source`` (no TensorFlow on the read path)."""
    if name.startswith(BUILTIN):
        from camjax.data.builders import shapes  # noqa: F401  (registers the builder)
    try:
        return tfds.data_source(name, split=split, data_dir=directory)
    except Exception as err:
        raise FileNotFoundError(
            f"dataset {name!r} split {split!r} is not prepared in {directory} "
            f"({type(err).__name__}: {str(err).splitlines()[0][:160]}); run "
            f"`camjax prepare --dataset {name}` or see the README") from err


def num_classes(src) -> int:
    return src.dataset_info.features["label"].num_classes


def has_boxes(src) -> bool:
    """Whether the records carry boxes (``bbox`` or ``objects/bbox``): imagenet2012 does not."""
    features = src.dataset_info.features
    if "bbox" in features:
        return True
    return "objects" in features and "bbox" in features["objects"]


def _train_dataset(src, config, *, seed: int) -> grain.MapDataset:
    """Endless map dataset of this process's local batches (see the module docstring)."""
    procs = jax.process_count()
    local_batch = config.batch_size // procs
    fn = functools.partial(transforms.train_example, image_size=config.image_size,
                           augment=config.augment)
    ds = (grain.MapDataset.source(src).shuffle(seed=seed).repeat()
          .random_map(lambda rec, rng: fn(rec, rng), seed=seed + 1))
    # local-batch-sized chunks; chunk s*P + p is process p's share of global batch s
    return ds.batch(local_batch, drop_remainder=True)[jax.process_index()::procs]


def train_iterator(src, config, *, seed: int):
    """An endless, checkpointable iterator of local batches (dict of numpy arrays).

    With threads (``config.data_threads``), ``get_state()`` is ``{"next_index": batches
    consumed}``. ``config.data_workers`` > 0 decodes and augments in that many grain
    worker processes instead (same batches; a state of another form).
    """
    if config.augment not in transforms.AUGMENTATIONS:
        raise ConfigError(f"config.augment must be one of {transforms.AUGMENTATIONS}, "
                          f"got {config.augment!r}")
    ds = _train_dataset(src, config, seed=seed)
    threads = config.data_threads
    it_ds = ds.to_iter_dataset(grain.ReadOptions(num_threads=threads,
                                                 prefetch_buffer_size=2 * max(threads, 1)))
    workers = config.data_workers
    if workers:
        from absl import flags
        if not flags.FLAGS.is_parsed():   # grain's workers read absl flags; camjax has none
            flags.FLAGS.mark_as_parsed()
        it_ds = it_ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
    return iter(it_ds)


def restore_iterator(it, state: dict | None, step: int) -> str:
    """Put ``it`` where a checkpoint of ``step`` left it; returns how.

    ``state`` is this process's saved iterator state; ``None`` when the checkpoint was
    written by a different number of processes. Then the position is recomputed: the
    global batches do not depend on the process count, so it is ``step`` batches.
    """
    if state is not None:
        it.set_state(state)
        return "saved"
    fresh = it.get_state()
    if set(fresh) != {"next_index"}:
        raise ValueError("the checkpoint holds no data position for this process (it was "
                         "written by another number of processes) and a data_workers "
                         "iterator cannot be placed by step: resume with config.data_workers=0")
    it.set_state({"next_index": int(step)})
    return "recomputed"


def box_lookup(config) -> dict | None:
    """file stem -> (n, 4) pixel boxes from ``config.eval_annotations`` (None when unset)."""
    path = config.eval_annotations
    if not path:
        return None
    from camjax.data import annotations, ilsvrc
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config.eval_annotations not found: {path}")
    if path.is_dir() and (path / "image_ids.txt").exists():
        found = annotations.read_wsol_metadata(path)
    else:
        if not config.synsets:
            raise ConfigError(f"config.eval_annotations={path} needs config.synsets "
                              "(LOC_synset_mapping.txt) to map synsets to labels")
        synsets = ilsvrc.read_synsets(config.synsets)
        read = ilsvrc.read_loc_val_solution if path.suffix == ".csv" else ilsvrc.read_ilsvrc_xml
        found = read(path, synsets)
    return {annotations.file_stem(k): v for k, v in found.boxes.items()}


def _with_boxes(record: dict, lookup: dict) -> dict:
    from camjax.data.annotations import file_stem
    name = record.get("file_name", record.get("image/filename"))
    if name is None:
        raise KeyError("config.eval_annotations needs records with a 'file_name' feature")
    stem = file_stem(name)
    if stem not in lookup:
        raise KeyError(f"config.eval_annotations has no boxes for image {stem!r}")
    return {**record, "boxes": lookup[stem]}


def eval_batches(src, config, *, with_boxes: bool = True, limit: int | None = None):
    """Local eval batches over the whole split in order, the last padded (``valid`` False).

    Yields (batch index, local batch); every process yields the same number of batches.
    """
    n = len(src) if limit is None else min(limit, len(src))
    procs, me = jax.process_count(), jax.process_index()
    local_batch = config.eval_batch_size // procs
    fn = functools.partial(transforms.eval_example, image_size=config.image_size,
                           max_boxes=config.max_boxes, with_boxes=with_boxes)
    ds = grain.MapDataset.source(src)[:n][me::procs]
    lookup = box_lookup(config) if with_boxes else None
    if lookup is not None:
        ds = ds.map(functools.partial(_with_boxes, lookup=lookup))
    ds = ds.map(fn)
    per_process = -(-n // procs)
    steps = -(-per_process // local_batch)
    it = iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=config.data_threads)))
    template = None
    for step in range(steps):
        items = []
        for _ in range(local_batch):
            item = next(it, None)
            if item is None:
                item = transforms.padding_example(template)
            template = template or item
            items.append(item)
        yield step, {k: np.stack([e[k] for e in items]) for k in items[0]}
