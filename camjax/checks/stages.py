"""When each check runs (docs/errors.md): a bad config, folder, dataset or weights file is
named in one line before data preparation, compilation or training.

- :func:`early`: what the command line checks as soon as the config loads, before the
  training stack is imported and before ``jax.distributed`` starts (nothing here starts
  JAX's backends): the folders (nothing created), the config's values but ``pretrained``,
  the step to resume, the dataset and its splits, ``eval_annotations``.
- :func:`before_training` / :func:`before_evaluation` (called by ``train_and_evaluate``
  and ``evaluate_workdir``, so the library checks as much): the same, then the weights
  file, the device count and the checkpoint's run description when resuming. No folder is
  created here: the caller creates it once the dataset has opened too.
- :func:`with_classes`: what needs the dataset's number of classes (``top_k``).

What passed once in a process (a probe, a weights file, an annotation file) is not
redone.
"""
from __future__ import annotations

from pathlib import Path

from camjax.checks.dataset import check_annotations, check_dataset
from camjax.checks.folders import WorkdirError, checkpoint_steps, writable_folder
from camjax.checks.resume import check_resume, check_steps
from camjax.checks.values import check_config
from camjax.errors import ConfigError

DEFAULT_TOP_K = 5


def check_devices(config) -> None:
    """Global batches that divide by the device count (after jax.distributed starts)."""
    import jax
    devices = jax.device_count()
    for key in ("batch_size", "eval_batch_size"):
        if config[key] % devices:
            raise ConfigError(f"config.{key}={config[key]} must be divisible by the number "
                              f"of devices ({devices}); choose a multiple of {devices}")


def evaluation_workdir(config, workdir) -> Path:
    """The workdir to evaluate: with a checkpoint, or none and ``config.pretrained`` (a
    pretrained classifier evaluated as it is)."""
    workdir = Path(workdir).expanduser().absolute()
    if not checkpoint_steps(workdir) and not config.get("pretrained"):
        raise WorkdirError(f"no checkpoint in {workdir / 'checkpoints'}: train first "
                           f"(camjax train --config CONFIG --workdir {workdir}), or set "
                           "--config.pretrained to evaluate a pretrained classifier")
    return workdir


def output_folder(workdir, out, create: bool = False) -> Path:
    """Where ``camjax evaluate`` writes: ``out``, or WORKDIR/eval; checked writable (and
    created when ``create``)."""
    if out is not None:
        return writable_folder(out, "--out", create=create)
    return writable_folder(Path(workdir) / "eval", "output folder",
                           "write the report elsewhere with --out DIR", create=create)


def early(config, command: str, workdir, out=None) -> None:
    """What the command line checks before it imports the training stack (before
    ``jax.distributed`` starts, so nothing that asks for devices): the folders (nothing
    created), the config's values, the steps to resume, the dataset and annotations."""
    if command == "evaluate":
        output_folder(evaluation_workdir(config, workdir), out)
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
    from (None: a fresh run). ``data_given``: sources were passed in, not config.dataset.
    The workdir is checked, not created."""
    check_config(config, pretrained=not checkpoint_steps(workdir))
    check_devices(config)
    if not data_given:
        check_dataset(config, workdir)
    check_annotations(config)
    writable_folder(workdir, create=False)
    return check_resume(config, workdir)


def before_evaluation(config, workdir, out=None) -> Path:
    """All checks of ``evaluate_workdir`` before any work; returns the output folder
    (``out``, default WORKDIR/eval), checked, not created."""
    workdir = evaluation_workdir(config, workdir)
    check_config(config, pretrained=not checkpoint_steps(workdir))
    check_devices(config)
    check_dataset(config, workdir)
    check_annotations(config)
    return output_folder(workdir, out)


def with_classes(config, num_classes: int, dataset: str | None = None):
    """The checks that need the dataset's number of classes; returns ``config`` with
    ``top_k`` resolved (0: :data:`DEFAULT_TOP_K`, at most ``num_classes``), a copy when
    it changes. An explicit ``top_k`` above the class count is refused."""
    if config.top_k > num_classes:
        raise ConfigError(f"config.top_k={config.top_k} must be <= the {num_classes} classes "
                          f"of {dataset or config.dataset}")
    if config.top_k:
        return config
    resolved = config.copy_and_resolve_references()
    resolved.top_k = min(DEFAULT_TOP_K, num_classes)
    resolved.lock()
    return resolved
