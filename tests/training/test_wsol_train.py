"""Every WSOL method through the command line on the tiny built-in dataset: ``camjax
train --config.wsol_method=X`` then ``camjax evaluate``, in this process (one JAX start);
an augmenting method (HaS) and a branching one (ACoL) killed with SIGKILL mid-run in a
subprocess, resumed there, and compared with the uninterrupted in-process run. And HaS
and CutMix give the same steps on 1 and on 8 devices for a fixed global batch."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

import pytest

from camjax import config as config_lib, training
from camjax.cli import main
from tests.conftest import DEMO, ROOT
from tests.training.conftest import (TINY, assert_trees_close, cli_env, finish, logged_steps,
                                     losses, output, start_train, tiny_args, wait_for_step)

# CAM itself: tests/training/test_train.py
TITLES = {"has": "HaS", "cutmix": "CutMix", "adl": "ADL", "acol": "ACoL", "spg": "SPG",
          "fewshot": "the few-shot baseline"}
# a four-layer tiny_gap: the methods' code paths at a smaller compile
SMALL = {"model_kwargs.widths": "(8, 8, 16, 16)", "model_kwargs.strides": "(2, 2, 1, 1)",
         "model_kwargs.cam_channels": 16}
RESUMED = {"has": 5, "acol": 5}          # method -> the step after which it is killed
LONG = dict(num_train_steps=24, checkpoint_every_steps=4, keep_checkpoints=2)


def _args(data_dir, method):
    extra = LONG if method in RESUMED else {}
    return tiny_args(data_dir, wsol_method=method, eval_at_end=False, **SMALL, **extra)


def _kill_and_resume(method, work, args, env, box):
    """In a thread: train in a subprocess, SIGKILL it after step RESUMED[method], resume
    (same command); ``box[method]`` gets the step it was killed at, or the error."""
    try:
        proc = start_train(work, args, env)
        wait_for_step(proc, work, RESUMED[method])
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed = logged_steps(work)[-1]["step"]
        assert finish(start_train(work, args, env), work) == 0, output(work)[-3000:]
        box[method] = killed
    except BaseException as err:   # noqa: BLE001  (re-raised by the test)
        box[method] = err


@pytest.mark.slow
@pytest.mark.xdist_group("wsol_train")
def test_every_method_trains_evaluates_and_resumes(tiny_data_dir, tmp_path, jax_cache):
    box, threads = {}, []
    for method in RESUMED:   # the interrupted runs, beside this process's own
        thread = threading.Thread(target=_kill_and_resume, args=(
            method, tmp_path / f"killed_{method}", _args(tiny_data_dir, method),
            cli_env(cache=jax_cache), box))
        thread.start()
        threads.append(thread)
        thread.join() if method == "acol" else None   # one subprocess at a time
    for method in TITLES:
        work = tmp_path / method
        assert main(["train", "--config", str(DEMO), "--workdir", str(work),
                     *_args(tiny_data_dir, method)]) == 0
        assert main(["evaluate", "--workdir", str(work)]) == 0
        metrics = json.loads((work / "eval" / "metrics.json").read_text())
        assert metrics["wsol_method"] == method
        assert f"trained with {TITLES[method]}" in (work / "eval" / "report.md").read_text()
        saved = json.loads((work / "config.json").read_text())
        assert saved["wsol_method"] == method and metrics["step"] == saved["num_train_steps"]
        assert 0 <= metrics["wsol_v2"]["max_box_acc_v2"] <= 100
    for thread in threads:
        thread.join()
    for method, after in RESUMED.items():
        killed = box[method]
        if isinstance(killed, BaseException):
            raise killed
        work, reference = tmp_path / f"killed_{method}", tmp_path / method
        assert after <= killed < LONG["num_train_steps"], "killed too late: make it longer"
        assert [r["step"] for r in logged_steps(work)] == list(range(1, 25))
        assert losses(work) == pytest.approx(losses(reference), rel=1e-6, abs=1e-7)
        config = config_lib.load(DEMO, {**TINY, "data_dir": tiny_data_dir,
                                        "wsol_method": method, **SMALL, **LONG})
        _, state, _ = training.restore_for_inference(config, work, 12)
        _, expected, _ = training.restore_for_inference(config, reference, 12)
        assert_trees_close(state, expected)


# TS-CAM on a tiny DeiT: 2 blocks of width 32, 8 px patches (4 x 4 maps at 32 px), with
# stochastic depth, AdamW and a rate dropped at a boundary: the recipe's code paths (its
# bad configs: tests/cli_cases.py)
TSCAM = {"model": "deit_small_patch16_224", "wsol_method": "tscam", "model_kwargs.depth": 2,
         "model_kwargs.embed_dim": 32, "model_kwargs.num_heads": 2,
         "model_kwargs.patch_size": 8, "model_kwargs.image_size": 32,
         "model_kwargs.drop_path_rate": 0.1, "optimizer": "adamw", "learning_rate": 5e-4,
         "weight_decay": 0.05, "lr_schedule": "step", "lr_boundaries": "(1,)"}


def test_tscam_trains_and_evaluates_its_map(tiny_data_dir, tmp_path):
    work = tmp_path / "tscam"
    args = tiny_args(tiny_data_dir, eval_at_end=False, **TSCAM)
    assert main(["train", "--config", str(DEMO), "--workdir", str(work), *args]) == 0
    steps = logged_steps(work)
    assert [r["learning_rate"] for r in steps] == pytest.approx([5e-4, 5e-5])
    assert main(["evaluate", "--workdir", str(work)]) == 0
    metrics = json.loads((work / "eval" / "metrics.json").read_text())
    assert metrics["wsol_method"] == "tscam" and metrics["step"] == 2
    assert "trained with TS-CAM" in (work / "eval" / "report.md").read_text()
    assert 0 <= metrics["wsol_v2"]["max_box_acc_v2"] <= 100


# one global batch, the same HaS / CutMix step on a 1-device and an 8-device mesh
_PARALLEL = """
import jax, numpy as np
from jax.sharding import Mesh
from camjax import config as config_lib
from camjax.training import mesh as mesh_lib, state as state_lib
rng = np.random.default_rng(0)
batch = {"image": rng.normal(size=(8, 16, 16, 3)).astype(np.float32),
         "label": rng.integers(0, 5, 8).astype(np.int32)}
out = []
for method, devices in [(m, d) for m in ("has", "cutmix")
                        for d in (jax.devices()[:1], jax.devices())]:
    cfg = config_lib.load("demo", {"image_size": 16, "batch_size": 8, "wsol_method": method,
                                   "has_grid_size": 3, "cutmix_prob": 1.0})
    mesh = Mesh(np.array(devices), ("data",))
    setup = state_lib.initial_state(state_lib.build_model(cfg, 5), cfg, mesh)
    step = state_lib.compile_train_step(setup.train_graphdef, setup.tx, mesh, cfg)
    state, losses = setup.state, []
    for _ in range(2):
        state, metrics = step(state, mesh_lib.global_batch(mesh, batch))
        losses.append(float(metrics["loss"]))
    out.append((losses, [np.asarray(x) for x in jax.tree.leaves(state.params)]))
assert jax.device_count() == 8
for (l1, p1), (l8, p8) in (out[:2], out[2:]):
    np.testing.assert_allclose(l1, l8, rtol=1e-5)
    for a, b in zip(p1, p8):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
assert out[0][0] != out[2][0]     # HaS and CutMix: different batches, different losses
print("same", [o[0] for o in out])
"""


def test_augmentations_are_the_same_on_1_and_8_devices(jax_cache):
    out = subprocess.run([sys.executable, "-c", _PARALLEL], capture_output=True,
                         text=True, env=cli_env(8, jax_cache), cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "same" in out.stdout
