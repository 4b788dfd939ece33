"""The checks that run before any work: a bad config, workdir, dataset or weights file is
named in one line before data preparation, compilation or training (docs/errors.md).

- :func:`check_config`: the values alone (ranges first, then the choices that need the
  library: model, pooling, upsample, ...), ``model_kwargs`` against the network's
  signature, ``image_size`` against its stride (a shape-only probe, nothing compiled) and
  ``pretrained`` against its shapes.
- :func:`early`: what the command line checks as soon as the config loads, before the
  training stack is imported and before ``jax.distributed`` starts (nothing here starts
  JAX's backends): the folders (nothing created), ``check_config`` but ``pretrained``, the
  step to resume, the dataset and its splits, ``eval_annotations``.
- :func:`before_training` / :func:`before_evaluation` (called by ``train_and_evaluate``
  and ``evaluate_workdir``, so the library checks as much): the same, then the device
  count, the folders (created), the checkpoint's run metadata when resuming.
- :func:`with_classes`: what needs the dataset's number of classes (``top_k``).

What passed once in a process (a probe, a weights file, an annotation file) is not
redone.

Every failure is a :class:`camjax.errors.ConfigError` naming the key and its value, or a
:class:`WorkdirError` naming the folder.
"""
from __future__ import annotations

import math
from pathlib import Path

from camjax.errors import ConfigError, UserError
from camjax.training.probe import check_model, check_pretrained
from camjax.training.workdirs import WorkdirError, checkpoint_steps, writable_folder  # noqa: F401

# key -> (test, what the value must be); keys a config lacks are skipped
_AT_LEAST_0 = (lambda v: v >= 0, ">= 0")
_AT_LEAST_1 = (lambda v: v >= 1, ">= 1")
_POSITIVE = (lambda v: v > 0, "> 0")
RANGES = {
    "batch_size": _AT_LEAST_1, "eval_batch_size": _AT_LEAST_1, "image_size": _AT_LEAST_1,
    "num_train_steps": _AT_LEAST_1, "log_every_steps": _AT_LEAST_1,
    "checkpoint_every_steps": _AT_LEAST_1, "eval_every_steps": _AT_LEAST_0,
    "keep_checkpoints": (lambda v: v >= 1, ">= 1 (0 would delete every checkpoint)"),
    "stop_check_every_steps": _AT_LEAST_1, "eval_during_training_images": _AT_LEAST_1,
    "top_k": _AT_LEAST_1, "max_boxes": _AT_LEAST_1, "data_workers": _AT_LEAST_0,
    "data_threads": _AT_LEAST_1, "eval_map_size": _AT_LEAST_0, "warmup_steps": _AT_LEAST_0,
    "lr_step_size": _AT_LEAST_1, "seed": _AT_LEAST_0,
    "learning_rate": _POSITIVE, "lr_gamma": _POSITIVE, "new_layer_lr_mult": _POSITIVE,
    "weight_decay": _AT_LEAST_0,
    "momentum": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "cam_threshold": (lambda v: 0 <= v <= 1, "in [0, 1] (a fraction of the map's max)"),
    "cam_curve_interval": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "faithfulness_steps": _AT_LEAST_1, "faithfulness_batch_size": _AT_LEAST_1,
    "road_noise": _AT_LEAST_0, "road_batch_size": _AT_LEAST_1,
    "pointing_tolerance": _AT_LEAST_0, "sanity_images": _AT_LEAST_1,
    "sanity_threshold": (lambda v: -1 <= v <= 1, "in [-1, 1] (a rank correlation)"),
}
LISTS = ("cam_method", "metrics")       # comma-separated choices


def choices() -> dict[str, tuple[str, ...]]:
    """The allowed values of each enumerated config key (imports the library)."""
    from camjax import cam, methods, models
    from camjax.data import transforms
    from camjax.models.registry import POOLINGS
    from camjax.training import optim, scoring, state, wsol
    return {"model": tuple(models.available()), "pooling": POOLINGS,
            "wsol_method": wsol.METHODS,
            "upsample": tuple(cam.UPSAMPLE_METHODS), "normalize": tuple(cam.NORMALIZE_MODES),
            "lr_schedule": optim.LR_SCHEDULES, "augment": tuple(transforms.AUGMENTATIONS),
            "compute_dtype": tuple(state.COMPUTE_DTYPES), "cam_method": tuple(methods.METHODS),
            "eval_transform": tuple(transforms.EVAL_TRANSFORMS),
            "metrics": scoring.METRICS}


def check_values(config) -> None:
    """The numeric ranges of RANGES (no import beyond the config)."""
    for key, (ok, must) in RANGES.items():
        if key not in config:
            continue
        value = config[key]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or not ok(value):
            raise ConfigError(f"config.{key}={value!r} must be {must}")


def check_choices(config) -> None:
    for key, allowed in choices().items():
        if key not in config:
            continue
        value = config[key]
        given = [v.strip() for v in str(value).split(",")] if key in LISTS else [value]
        bad = [v for v in given if v not in allowed]
        if bad:
            which = f" ({bad[0]!r})" if key in LISTS and len(given) > 1 else ""
            raise ConfigError(f"config.{key}={value!r}{which} is not one of: "
                              f"{', '.join(allowed)}")
    if config.get("eigen_smooth"):
        from camjax import methods
        listed = [v.strip() for v in str(config.cam_method).split(",") if v.strip()]
        if not any(methods.registry.get(n).eigen_smooth for n in listed):
            takers = ", ".join(n for n, m in methods.registry.methods().items()
                               if m.eigen_smooth)
            raise ConfigError(f"config.eigen_smooth: config.cam_method={config.cam_method!r} "
                              f"has no weighted channels to project (these do: {takers})")
    if "road_percentiles" in config:
        q = config.road_percentiles
        if not (isinstance(q, tuple) and q and all(
                isinstance(v, (int, float)) and 0 <= v <= 100 for v in q)):
            raise ConfigError(f"config.road_percentiles={q!r} must be a tuple of numbers in "
                              "[0, 100]")


def check_config(config, *, pretrained: bool = True) -> None:
    """Every check of the config's values alone; ``pretrained``: also read and fit
    ``config.pretrained`` (off when resuming: the checkpoint holds the weights)."""
    from camjax.training.wsol import checks as wsol_checks
    check_values(config)
    check_choices(config)
    wsol_checks.check(config)
    check_model(config)
    if pretrained and config.get("pretrained"):
        check_pretrained(config)


def check_devices(config) -> None:
    """Global batches that divide by the device count (after jax.distributed starts)."""
    from camjax.training import mesh
    mesh.check_batch_size(config.batch_size)
    mesh.check_batch_size(config.eval_batch_size, "eval_batch_size")


def check_dataset(config, workdir) -> None:
    """``config.dataset`` is a TFDS dataset camjax can build, and when it is prepared its
    splits include the configured ones. ``wsol:`` / ``folder:`` datasets are checked
    when they are opened."""
    name = config.dataset
    if name.startswith(("wsol:", "folder:")):
        return
    from camjax.data import pipeline
    from camjax.training.probe import dataset_builder
    builder = dataset_builder(name, pipeline.data_dir(config, workdir))
    if not builder.is_prepared():
        return
    splits = list(builder.info.splits)
    if not splits:   # no split information to check against
        return
    for key in ("train_split", "eval_split", "val_split"):
        split = config.get(key) or ""
        base = split.split("[")[0]
        if base and "+" not in split and base not in splits:
            raise ConfigError(f"config.{key}={split!r}: dataset {name!r} has the splits "
                              f"{', '.join(splits)}")


def check_annotations(config) -> None:
    """``config.eval_annotations`` reads (now, not at the final evaluation); a file read
    once in this process is not read again."""
    path = config.get("eval_annotations")
    key = (path, config.get("synsets"))
    if not path or key in _READ:
        return
    from camjax.data import pipeline
    try:
        pipeline.box_lookup(config)
    except (UserError, FileNotFoundError):
        raise
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(f"config.eval_annotations={path!r} cannot be read "
                          f"({type(err).__name__}: {err})") from err
    _READ.add(key)


_READ: set = set()   # (eval_annotations, synsets) that read without an error


def check_steps(config, workdir) -> int | None:
    """The step to resume from (None: a fresh run); a num_train_steps below it is
    refused (it would train nothing)."""
    steps = checkpoint_steps(workdir)
    if not steps:
        return None
    where = Path(workdir).absolute() / "checkpoints" / str(steps[-1])
    if config.num_train_steps < steps[-1]:
        raise ConfigError(f"config.num_train_steps={config.num_train_steps} is below step "
                          f"{steps[-1]} of the checkpoint to resume ({where}): raise it to "
                          f"train on, `camjax evaluate --workdir {workdir}` to evaluate that "
                          "checkpoint, or use a fresh --workdir")
    return steps[-1]


def read_meta(workdir, step: int) -> dict | None:
    """The run metadata of checkpoint ``step``, or None when unreadable (then
    ``checkpoint.restore`` names the problem)."""
    import orbax.checkpoint as ocp

    from camjax.training import checkpoint
    try:
        mngr = checkpoint.manager(workdir, read_only=True)
        try:
            meta = mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
        finally:
            mngr.close()
    except Exception:   # noqa: BLE001  (reported by restore, with the folder's name)
        return None
    return meta if isinstance(meta, dict) else None


def check_resume(config, workdir) -> int | None:
    """:func:`check_steps`, then the checkpoint's run metadata against the config (model,
    dataset, batch size, seed, ...): another run's checkpoint is refused."""
    from camjax.training import checkpoint, state
    step = check_steps(config, workdir)
    meta = read_meta(workdir, step) if step is not None else None
    if meta is not None:   # an unreadable one is named by checkpoint.restore
        expected = {k: v for k, v in state.run_meta(config, 1).items() if k != "num_classes"}
        checkpoint.check_meta(meta, expected, str(Path(workdir) / "checkpoints" / str(step)))
    return step


def _evaluation_workdir(config, workdir) -> Path:
    """The workdir to evaluate: with a checkpoint, or none and ``config.pretrained`` (a
    pretrained classifier evaluated as it is)."""
    workdir = Path(workdir).expanduser().absolute()
    if not checkpoint_steps(workdir) and not config.get("pretrained"):
        raise WorkdirError(f"no checkpoint in {workdir / 'checkpoints'}: train first "
                           f"(camjax train --workdir {workdir}), or set config.pretrained to "
                           "evaluate a pretrained classifier")
    return workdir


def _output_folder(workdir: Path, out, create: bool) -> Path:
    if out is not None:
        return writable_folder(out, "--out", create=create)
    return writable_folder(workdir / "eval", "output folder",
                           "write the report elsewhere with --out DIR", create=create)


def early(config, command: str, workdir, out=None) -> None:
    """What the command line checks before it imports the training stack (before
    ``jax.distributed`` starts, so nothing that asks for devices): the folders (nothing
    created), the config's values, the steps to resume, the dataset and annotations."""
    if command == "evaluate":
        _output_folder(_evaluation_workdir(config, workdir), out, create=False)
    else:
        writable_folder(workdir, create=False)
        check_steps(config, workdir)
    # not the weights file: fitting it creates arrays, which would start JAX's backends
    # before jax.distributed (before_training fits it, before the data is prepared)
    check_config(config, pretrained=False)
    check_dataset(config, workdir)
    check_annotations(config)


def before_training(config, workdir, *, data_given: bool = False) -> int | None:
    """All checks of ``train_and_evaluate`` before any work; returns the step it resumes
    from (None: a fresh run). ``data_given``: sources were passed in, not config.dataset."""
    check_config(config, pretrained=not checkpoint_steps(workdir))
    check_devices(config)
    if not data_given:
        check_dataset(config, workdir)
    check_annotations(config)
    workdir = writable_folder(workdir)   # created only once everything else is right
    return check_resume(config, workdir)


def before_evaluation(config, workdir, out=None) -> Path:
    """All checks of ``evaluate_workdir`` before any work; returns the output folder
    (``out``, default WORKDIR/eval), created and proven writable."""
    workdir = _evaluation_workdir(config, workdir)
    check_config(config, pretrained=not checkpoint_steps(workdir))
    check_devices(config)
    check_dataset(config, workdir)
    check_annotations(config)
    return _output_folder(workdir, out, create=True)


def with_classes(config, num_classes: int, dataset: str | None = None) -> None:
    """The checks that need the dataset's number of classes."""
    if config.top_k > num_classes:
        raise ConfigError(f"config.top_k={config.top_k} must be <= the {num_classes} classes "
                          f"of {dataset or config.dataset}")
