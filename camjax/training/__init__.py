"""Data-parallel training: the ``data`` mesh, the train state and step, the loop,
checkpoints; and the glue that evaluates a run with ``camjax.evaluator``.

The names below load on first use, so ``camjax.training.validate`` (the checks the
command line runs first) does not pay for orbax, grain and TFDS.
"""
import importlib

_NAMES = {"CheckpointError": "checkpoint", "CheckpointSaveError": "save_errors",
          "NonFiniteLossError": "hooks", "evaluate_workdir": "evaluate",
          "restore_for_inference": "evaluate", "train_and_evaluate": "loop"}

__all__ = sorted(_NAMES)


def __getattr__(name):
    if name in _NAMES:
        return getattr(importlib.import_module(f"camjax.training.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'camjax.training' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_NAMES])
