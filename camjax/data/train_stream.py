"""The training stream: global batch s is elements [s*B, (s+1)*B) of one shuffled,
augmented, endless stream of a source (``pipeline.open_source``); process p of P reads the
contiguous block [s*B + p*B/P, s*B + (p+1)*B/P) of it, the rows that
``jax.make_array_from_process_local_data`` places on its devices. So the global batches,
row for row, do not depend on the number of processes or devices, and an iterator's state
(batches consumed) is the training step.
"""
from __future__ import annotations

import functools

import grain
import jax
import numpy as np

from camjax.data import sources, transforms
from camjax.errors import ConfigError


def train_draft_size(config) -> int:
    """The JPEG draft side of the training split (``config.jpeg_draft``; 0: full decode)."""
    if not config.jpeg_draft:
        return 0
    return transforms.train_draft_size(config.image_size, config.augment)


def trains_on_val(config) -> bool:
    """The few-shot baseline (``config.wsol_method='fewshot'``) trains on
    ``config.val_split`` (train-fullsup), with each image's foreground as a target."""
    return config.get("wsol_method") == "fewshot"


def _train_example(record: dict, rng, *, image_size: int, augment: str, skip: bool,
                   foreground: bool) -> dict:
    out = transforms.train_example(record, rng, image_size=image_size, augment=augment,
                                   foreground=foreground)
    if skip:
        out["skipped"] = np.int32(record["skipped"])
        out["skipped_file"] = record["skipped_file"]
    return out


def _train_dataset(src, config, *, seed: int) -> grain.MapDataset:
    """Endless map dataset of this process's local batches (see the module docstring)."""
    procs = jax.process_count()
    local_batch = config.batch_size // procs
    skip = bool(config.get("skip_bad_images", False))
    fn = functools.partial(_train_example, image_size=config.image_size,
                           augment=config.augment, skip=skip,
                           foreground=trains_on_val(config))
    ds = (grain.MapDataset.source(sources.SkipBadImages(src) if skip else src).shuffle(seed=seed)
          .repeat().random_map(lambda rec, rng: fn(rec, rng), seed=seed + 1))
    # local-batch-sized chunks; chunk s*P + p is process p's share of global batch s
    return ds.batch(local_batch, drop_remainder=True)[jax.process_index()::procs]


def train_iterator(src, config, *, seed: int):
    """An endless, checkpointable iterator of local batches (dict of numpy arrays; the
    images uint8, normalised on the device by the train step).

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
                         "iterator cannot be placed by step: resume with --config.data_workers=0")
    it.set_state({"next_index": int(step)})
    return "recomputed"
