"""The checks that run before any work, in one place (docs/errors.md): a mistake a user
can fix is named in one line before data preparation, compilation or training, and
nothing is left on disk.

- ``values``: a config's values alone (ranges, keys that bound each other, choices with
  "did you mean"); ``model``: the network with shapes only, its weights file fitted;
  ``dataset``: the TFDS dataset and splits, the annotation file; ``folders``: writable
  workdirs and output folders (``WorkdirError``); ``resume``: the checkpoint to resume
  against the config (``CheckpointError``); ``saves``: room on the disk before a
  checkpoint save, a failed save named (``CheckpointSaveError``).
- ``stages``: when each runs: ``early`` (the command line, before ``jax.distributed``),
  ``before_training``, ``before_evaluation``, ``with_classes``.

Used by ``camjax.training``, ``camjax.localize`` and the command line; the modules import
the library they check lazily, so ``early`` is cheap.
"""
from camjax.checks.folders import WorkdirError, checkpoint_steps, writable_folder
from camjax.checks.stages import (before_evaluation, before_training, early, output_folder,
                                  with_classes)

__all__ = ["WorkdirError", "before_evaluation", "before_training", "checkpoint_steps", "early",
           "output_folder", "with_classes", "writable_folder"]
