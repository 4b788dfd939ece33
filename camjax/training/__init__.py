"""Data-parallel training: the ``data`` mesh, the train state and step, the loop,
checkpoints; and the glue that evaluates a run with ``camjax.evaluator``."""
from camjax.training.checkpoint import CheckpointError
from camjax.training.evaluate import evaluate_workdir, restore_for_inference
from camjax.training.hooks import NonFiniteLossError
from camjax.training.loop import train_and_evaluate

__all__ = ["CheckpointError", "NonFiniteLossError", "evaluate_workdir",
           "restore_for_inference", "train_and_evaluate"]
