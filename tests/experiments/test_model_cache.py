"""experiments/common.train: finished models are reused, preempted ones resume, never cached."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from camjax import training


EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.fixture
def common(tmp_path, monkeypatch):
    monkeypatch.setenv("CAMJAX_EXPERIMENTS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CAMJAX_DATA_DIR", str(tmp_path / "tfds"))   # common sets a default
    monkeypatch.syspath_prepend(str(EXPERIMENTS))
    sys.modules.pop("common", None)
    module = importlib.import_module("common")
    yield module
    sys.modules.pop("common", None)


def test_stopped_run_is_not_cached_and_resumes(common, monkeypatch):
    config = common.load_config("experiments/configs/ablation_shapes.py")
    calls = []

    def preempted(config, workdir, data=None):
        (workdir / "checkpoints").mkdir()           # what a SIGTERM save leaves behind
        calls.append("stopped")
        return {"stopped_at": 7, "signal": "SIGTERM"}

    def finishes(config, workdir, data=None):
        assert (workdir / "checkpoints").is_dir()    # the checkpoint is still there to resume
        calls.append("finished")
        return {"cam": {"gt_known_acc": 12.5}, "step": 500}

    monkeypatch.setattr(training, "train_and_evaluate", preempted)
    with pytest.raises(SystemExit, match="SIGTERM at step 7"):
        common.train(config, "run")
    assert not (common.CACHE / "run" / "experiment_done.json").exists()

    monkeypatch.setattr(training, "train_and_evaluate", finishes)
    metrics, workdir = common.train(config, "run")
    assert metrics["cam"]["gt_known_acc"] == 12.5
    assert common.train(config, "run")[0] == metrics        # cached: not trained again
    assert calls == ["stopped", "finished"]

    config.seed = 1                                          # another config: trained afresh
    monkeypatch.setattr(training, "train_and_evaluate", preempted)
    with pytest.raises(SystemExit):
        common.train(config, "run")
    assert calls[-1] == "stopped"
