"""TFDS array_record sources read through grain, sharded per process.

Process p of P reads global elements p, p + P, p + 2P, ...: its local batch s is
the slice of global batch s that lands on its devices, so a run gives the same
global batches whatever the number of processes.
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

BUILTIN = "camjax_shapes"


def data_dir(config, workdir) -> str:
    """config.data_dir, else $CAMJAX_DATA_DIR, else WORKDIR/tfds (never the home folder)."""
    d = config.get("data_dir") or os.environ.get("CAMJAX_DATA_DIR") or str(Path(workdir) / "tfds")
    return str(Path(d).expanduser().absolute())


def prepare(name: str, directory: str) -> None:
    """Prepare a TFDS dataset as array_record (the built-in one is generated, no download)."""
    if name.startswith(BUILTIN):
        from camjax.data.builders import shapes
        config = name.split("/", 1)[1] if "/" in name else None
        shapes.prepare(directory, config=config or "default")
        return
    builder = tfds.builder(name, data_dir=directory, file_format="array_record")
    if not builder.is_prepared():
        builder.download_and_prepare(file_format="array_record")


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


def train_iterator(src, config, *, seed: int):
    """An endless, checkpointable iterator of local batches (dict of numpy arrays)."""
    local_batch = config.batch_size // jax.process_count()
    fn = functools.partial(transforms.train_example, image_size=config.image_size,
                           augment=config.get("augment", "flip"))
    ds = (grain.MapDataset.source(src).shuffle(seed=seed).repeat()
          .random_map(lambda rec, rng: fn(rec, rng), seed=seed + 1))
    ds = ds[jax.process_index()::jax.process_count()]
    ds = ds.batch(local_batch, drop_remainder=True)
    workers = config.get("data_threads", min(4, os.cpu_count() or 1))
    return iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=workers,
                                                     prefetch_buffer_size=2 * workers)))


def eval_batches(src, config, *, with_boxes: bool = True, limit: int | None = None):
    """Local eval batches over the whole split in order, the last padded (``valid`` False).

    Yields (global_start_index, batch); every process yields the same number of batches.
    """
    n = len(src) if limit is None else min(limit, len(src))
    procs, me = jax.process_count(), jax.process_index()
    local_batch = config.eval_batch_size // procs
    fn = functools.partial(transforms.eval_example, image_size=config.image_size,
                           max_boxes=config.get("max_boxes", 8), with_boxes=with_boxes)
    ds = grain.MapDataset.source(src)[:n][me::procs].map(fn)
    per_process = -(-n // procs)
    steps = -(-per_process // local_batch)
    it = iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=config.get("data_threads", 2))))
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
