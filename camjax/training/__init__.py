"""Data-parallel training: the ``data`` mesh, the train state and step, the loop,
checkpoints; and the glue that evaluates a run with ``camjax.evaluator``.

The names below load on first use: importing ``camjax.training`` does not pay for
orbax, grain and TFDS. The checks before any work are ``camjax.checks``.
"""
import importlib

_NAMES = {"BadImageError": "hooks", "CheckpointError": "checkpoint",
          "CheckpointSaveError": "checkpoint",
          "NonFiniteLossError": "hooks", "evaluate_workdir": "evaluate",
          "restore_for_inference": "evaluate", "train_and_evaluate": "loop"}

__all__ = sorted(_NAMES)


def __getattr__(name):
    if name in _NAMES:
        return getattr(importlib.import_module(f"camjax.training.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'camjax.training' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_NAMES])
