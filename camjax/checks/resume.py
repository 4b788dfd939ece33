"""Resuming a run: the step to resume from, and the checkpoint's run description against
the config that resumes it. A config that changes what the checkpoint means (the network,
the data, the input size, the seed, the learning-rate schedule, the WSOL method) is refused
naming the key, the checkpoint's value and the new one; a change that does not (logging,
evaluation, checkpoint frequency) is allowed and listed when ``config.json`` is rewritten.
"""
from __future__ import annotations

import json
from pathlib import Path

from camjax.checks.folders import checkpoint_steps
from camjax.errors import ConfigError, UserError

# what a checkpoint records about its run and must match when resuming (a checkpoint
# written before a key was recorded is accepted for that key)
IDENTITY_KEYS = ("model", "pooling", "num_classes", "dataset", "train_split", "batch_size",
                 "model_kwargs", "seed", "image_size", "augment", "learning_rate",
                 "lr_schedule", "lr_step_size", "lr_gamma", "warmup_steps", "momentum",
                 "weight_decay", "new_layer_lr_mult", "num_train_steps", "wsol_method")
# num_train_steps changes the schedule only where it sets the decay's length
_SCHEDULE_LENGTH = {"num_train_steps": ("cosine",)}


class CheckpointError(UserError):
    """A checkpoint folder that cannot be read back: corrupt, or from another run."""


def run_meta(config, num_classes: int) -> dict:
    """What a checkpoint records about its run (checked when resuming)."""
    import jax
    kwargs = config.model_kwargs
    kwargs = kwargs.to_dict() if hasattr(kwargs, "to_dict") else dict(kwargs)
    meta = {key: config[key] for key in IDENTITY_KEYS if key in config}
    meta.update(num_classes=int(num_classes), batch_size=int(config.batch_size),
                model_kwargs=json.loads(json.dumps(kwargs)),   # tuples -> lists, as stored
                seed=int(config.seed), process_count=jax.process_count(),
                device_count=jax.device_count())
    return meta


def check_meta(stored: dict, expected: dict, where: str) -> None:
    """CheckpointError naming the first key whose recorded value differs."""
    for key in IDENTITY_KEYS:
        if key not in stored or key not in expected or stored[key] == expected[key]:
            continue
        schedules = _SCHEDULE_LENGTH.get(key)
        if schedules and stored.get("lr_schedule", "cosine") not in schedules:
            continue
        raise CheckpointError(
            f"checkpoint {where} was written with {key}={stored[key]!r}, this config has "
            f"{key}={expected[key]!r}; resuming would change what it means: use another "
            "--workdir (or the original config)")


def check_steps(config, workdir) -> int | None:
    """The step to resume from (None: a fresh run); a num_train_steps below it is
    refused (it would train nothing)."""
    steps = checkpoint_steps(workdir)
    if not steps:
        return None
    where = Path(workdir).absolute() / "checkpoints" / str(steps[-1])
    if config.num_train_steps < steps[-1]:
        more = "" if config.lr_schedule in _SCHEDULE_LENGTH["num_train_steps"] else \
            "raise it to train on, "
        raise ConfigError(f"config.num_train_steps={config.num_train_steps} is below step "
                          f"{steps[-1]} of the checkpoint to resume ({where}): {more}"
                          f"`camjax evaluate --workdir {workdir}` to evaluate that "
                          "checkpoint, or use a fresh --workdir")
    return steps[-1]


def read_meta(workdir, step: int) -> dict | None:
    """The run description of checkpoint ``step``, or None when unreadable (then the
    restore names the problem)."""
    import orbax.checkpoint as ocp

    from camjax.checks.saves import mute_orbax_logs
    mute_orbax_logs()
    path = Path(workdir).absolute() / "checkpoints"
    try:
        mngr = ocp.CheckpointManager(
            path, options=ocp.CheckpointManagerOptions(read_only=True, create=False),
            item_handlers={"meta": ocp.JsonCheckpointHandler()})
        try:
            meta = mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
        finally:
            mngr.close()
    except Exception:   # noqa: BLE001  (reported by the restore, with the folder's name)
        return None
    return meta if isinstance(meta, dict) else None


def check_resume(config, workdir) -> int | None:
    """:func:`check_steps`, then the checkpoint's run description against the config
    (model, data, input size, seed, schedule, ...): refused where they differ."""
    step = check_steps(config, workdir)
    meta = read_meta(workdir, step) if step is not None else None
    if meta is not None:   # an unreadable one is named by the restore
        expected = {k: v for k, v in run_meta(config, 1).items() if k != "num_classes"}
        check_meta(meta, expected, str(Path(workdir).absolute() / "checkpoints" / str(step)))
    return step


def _flat(tree, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def config_changes(saved_json: str, config) -> list[str]:
    """``key: old -> new`` for every key whose value differs between a run's saved
    ``config.json`` text and ``config`` (an unreadable file: every key is new)."""
    try:
        old = _flat(json.loads(saved_json))
    except ValueError:
        old = {}
    new = _flat(json.loads(config.to_json_best_effort()))
    return [f"{k}: {old.get(k, '(none)')!r} -> {new[k]!r}" for k in sorted(new)
            if old.get(k) != new[k]]
