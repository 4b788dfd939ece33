"""A run stopped by SIGINT, then SIGTERM, then killed with SIGKILL, and resumed each
time, ends with the parameters and per-step losses of an uninterrupted run."""
import re
import signal

import pytest

from camjax import config as config_lib, training
from tests.conftest import DEMO
from tests.training.conftest import (TINY, assert_trees_close, cli_env, finish, logged_steps,
                                     losses, output, start_train, tiny_args, wait_for_step)

TOTAL = 64
RUN = dict(num_train_steps=TOTAL, checkpoint_every_steps=7, keep_checkpoints=2,
           eval_at_end=False)


def _checkpoints(work) -> list[int]:
    return sorted(int(p.name) for p in (work / "checkpoints").iterdir() if p.name.isdigit())


def _stop_with(sig, work, args, env, after: int) -> int:
    """Start (or resume) training, send ``sig`` once step ``after`` is logged; returns the
    step the run says it saved; checks exit status 0 and the checkpoint on disk."""
    proc = start_train(work, args, env)
    wait_for_step(proc, work, after)
    proc.send_signal(sig)
    assert finish(proc, work) == 0, output(work)[-3000:]
    found = re.findall(rf"{sig.name} received: checkpoint saved at step (\d+)", output(work))
    assert found, output(work)[-3000:]
    saved = int(found[-1])
    assert saved >= after and _checkpoints(work)[-1] == saved
    assert logged_steps(work)[-1]["step"] == saved
    return saved


@pytest.mark.slow
@pytest.mark.xdist_group("preemption")
def test_stopped_and_killed_runs_resume_exactly(tiny_data_dir, tmp_path, jax_cache):
    args = tiny_args(tiny_data_dir, **RUN)
    env = cli_env(cache=jax_cache)
    work = tmp_path / "run"

    first = _stop_with(signal.SIGINT, work, args, env, after=3)
    second = _stop_with(signal.SIGTERM, work, args, env, after=first + 4)
    assert f"resumed from {work}/checkpoints/{first}" in output(work)

    proc = start_train(work, args, env)           # SIGKILL: no chance to save
    wait_for_step(proc, work, second + 12)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = logged_steps(work)[-1]["step"]
    assert killed_at < TOTAL, "the run finished before the kill: make it longer"
    last_ckpt = _checkpoints(work)[-1]

    config = config_lib.load(DEMO, {**TINY, "data_dir": tiny_data_dir, **RUN})
    assert training.train_and_evaluate(config, work) == {"step": TOTAL}
    assert _checkpoints(work) == [TOTAL - TOTAL % 7, TOTAL]          # keep_checkpoints=2
    reference = tmp_path / "reference"
    training.train_and_evaluate(config, reference)

    resumed, uninterrupted = losses(work), losses(reference)
    assert sorted(resumed) == list(range(1, TOTAL + 1)), "every step logged exactly once"
    assert [r["step"] for r in logged_steps(work)] == list(range(1, TOTAL + 1))
    assert resumed == pytest.approx(uninterrupted, rel=1e-6, abs=1e-7)
    num_classes = 12
    _, state, _ = training.restore_for_inference(config, work, num_classes)
    _, expected, _ = training.restore_for_inference(config, reference, num_classes)
    assert int(state.step) == int(expected.step) == TOTAL
    assert_trees_close(state, expected)       # params, BN stats, momentum, step
    print(f"stops at {first} (SIGINT), {second} (SIGTERM); killed at {killed_at}, "
          f"resumed from {last_ckpt}")
