"""Shared fixtures: a tiny built-in dataset prepared once per test worker."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "experiments" / "configs"
DEMO = ROOT / "camjax" / "configs" / "demo.py"


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
    """camjax_shapes/tiny (64 train, 32 test images) as array_record, never in $HOME."""
    from camjax.data import pipeline
    directory = str(tmp_path_factory.mktemp("tfds"))
    pipeline.prepare("camjax_shapes/tiny", directory)
    return directory


@pytest.fixture
def tiny_config(tiny_data_dir):
    """The demo config shrunk to seconds: 32 px inputs, 2 steps, the tiny dataset."""
    from camjax import config as config_lib
    return config_lib.load(DEMO, {**TINY_OVERRIDES, "data_dir": tiny_data_dir})


@pytest.fixture(scope="session")
def trained_workdir(tiny_data_dir, tmp_path_factory):
    """A finished 2-step run of the tiny config (checkpoints 1 and 2, seed 0, no final
    evaluation, no val split), shared by the tests of a worker: read it, or copy it
    (``shutil.copytree``) to change it."""
    from camjax import config as config_lib, training
    workdir = tmp_path_factory.mktemp("trained") / "w"
    training.train_and_evaluate(config_lib.load(DEMO, {
        **TINY_OVERRIDES, "data_dir": tiny_data_dir, "eval_at_end": False,
        "val_split": ""}), workdir)
    return workdir


# the tiny run: the demo config shrunk to seconds (32 px inputs, 2 steps, the tiny dataset)
TINY_OVERRIDES = {"dataset": "camjax_shapes/tiny", "image_size": 32, "batch_size": 8,
                  "eval_batch_size": 16, "num_train_steps": 2, "log_every_steps": 1,
                  "checkpoint_every_steps": 1, "warmup_steps": 0, "data_threads": 1}


def run_cli(*args, env=None, timeout=600):
    """Run ``python -m camjax.cli`` in a subprocess; returns CompletedProcess."""
    import subprocess
    full_env = {**os.environ, "JAX_PLATFORMS": "cpu", **(env or {})}
    return subprocess.run([sys.executable, "-m", "camjax.cli", *args], capture_output=True,
                          text=True, env=full_env, cwd=ROOT, timeout=timeout)
