"""`camjax train` then `camjax evaluate` through the command line on a wsolevaluation
folder and on class folders (tiny_gap, 32 px, two steps); a bad folder is one line, exit
2, before anything is written."""
import json

import pytest

from tests.conftest import DEMO, run_cli
from tests.data.fixtures import make_folders, make_wsol

TINY = {"image_size": 32, "batch_size": 8, "eval_batch_size": 8, "num_train_steps": 2,
        "log_every_steps": 1, "checkpoint_every_steps": 2, "warmup_steps": 0,
        "data_threads": 1, "top_k": 3, "eval_at_end": False}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A compilation cache shared by this module's subprocesses."""
    d = str(tmp_path_factory.mktemp("jax_cache"))
    return {"JAX_COMPILATION_CACHE_DIR": d, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "TF_CPP_MIN_LOG_LEVEL": "3"}


def args(**overrides):
    return [f"--config.{k}={v}" for k, v in {**TINY, **overrides}.items()]


def train_then_evaluate(workdir, env, **overrides):
    common = ["--config", str(DEMO), "--workdir", str(workdir)]
    out = run_cli("train", *common, *args(**overrides), env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert not (workdir / "eval").exists()                       # eval_at_end off
    out = run_cli("evaluate", *common, *args(**overrides), env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_wsol_folder_trains_and_evaluates(tmp_path, cache):
    data = make_wsol(tmp_path / "data")
    workdir = tmp_path / "run"
    train_then_evaluate(workdir, cache, dataset=f"wsol:{data['metadata']}",
                        image_root=data["images"], eval_map_size=24)
    assert json.loads((workdir / "class_names.json").read_text()) == [
        "class_0", "class_1", "class_2"]
    report = (workdir / "eval" / "report.md").read_text()
    assert "**MaxBoxAccV2**" in report and "MaxBoxAcc (V1" in report
    metrics = json.loads((workdir / "eval" / "metrics.json").read_text())
    assert metrics["wsol_v2"]["num_images"] == 9                  # the test split
    assert set(metrics["wsol_v2"]["max_box_acc"]) == {"30", "50", "70"}


def test_class_folders_train_and_evaluate(tmp_path, cache):
    root = make_folders(tmp_path / "data")
    workdir = tmp_path / "run"
    train_then_evaluate(workdir, cache, dataset=f"folder:{root}", eval_split="val")
    assert json.loads((workdir / "class_names.json").read_text()) == ["cat", "dog", "eel"]
    metrics = json.loads((workdir / "eval" / "metrics.json").read_text())
    assert metrics["classification"]["num_images"] == 6
    assert (workdir / "eval" / "report.md").is_file()


def test_a_bad_folder_is_one_line_and_writes_nothing(tmp_path, cache):
    data = make_wsol(tmp_path / "data")
    missing = data["truth"]["train"]["ids"][3]
    (data["images"] / missing).unlink()
    workdir = tmp_path / "run"
    out = run_cli("train", "--config", str(DEMO), "--workdir", str(workdir),
                  *args(dataset=f"wsol:{data['metadata']}", image_root=data["images"]),
                  env=cache)
    assert out.returncode == 2, out.stderr[-3000:]
    assert out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr
    assert missing in out.stderr and "image_ids.txt" in out.stderr
    assert not (workdir / "checkpoints").exists() and not (workdir / "config.json").exists()
