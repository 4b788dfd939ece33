"""Data parallelism: the same seed and global batch give the same losses, parameters and
evaluation on 1, 2 and 8 CPU devices and on 2 processes x 2 devices (jax.distributed)."""
import json
import subprocess
import sys

import jax
import pytest

from camjax import config as config_lib, training
from tests.conftest import DEMO
from tests.training.conftest import (DISTRIBUTED_LAUNCHER, TINY, assert_trees_close, cli_env,
                                     finish, free_port, logged_steps, losses, output,
                                     start_train, tiny_args)

# a constant rate: the elastic resume trains on to step 6 (a longer cosine is refused)
RUN = dict(num_train_steps=4, checkpoint_every_steps=2, lr_schedule="constant")
NUM_CLASSES = 12


def _gloo_reason() -> str | None:
    if "jax_cpu_collectives_implementation" not in jax.config.values:
        return "this JAX has no CPU collectives (jax_cpu_collectives_implementation)"
    return None


@pytest.mark.slow
@pytest.mark.xdist_group("parallel")
def test_same_run_on_1_2_8_devices_and_2_processes(tiny_data_dir, tmp_path, jax_cache):
    args = tiny_args(tiny_data_dir, **RUN)
    runs = {}
    for devices in (2, 8):                 # evaluation: compared on 2 processes below
        work = tmp_path / f"devices{devices}"
        runs[work] = [start_train(work, tiny_args(tiny_data_dir, **RUN, eval_at_end=False),
                                  cli_env(devices, jax_cache))]
    multi = tmp_path / "processes2x2"
    if _gloo_reason() is None:
        port = free_port()
        # the launcher starts jax.distributed before importing camjax, so that this test
        # does not depend on test_importing_camjax_leaves_jax_uninitialised
        runs[multi] = [start_train(multi, args, cli_env(
            2, jax_cache, CAMJAX_COORDINATOR=f"localhost:{port}", CAMJAX_NUM_PROCESSES=2,
            CAMJAX_PROCESS_ID=i), launcher=DISTRIBUTED_LAUNCHER) for i in (0, 1)]

    assert jax.device_count() == 1            # this process: the 1-device reference
    config = config_lib.load(DEMO, {**TINY, "data_dir": tiny_data_dir, **RUN})
    ref_dir = tmp_path / "devices1"
    ref_metrics = training.train_and_evaluate(config, ref_dir)
    _, ref_state, _ = training.restore_for_inference(config, ref_dir, NUM_CLASSES)

    for work, procs in runs.items():
        try:
            codes = [finish(p, work, timeout=400) for p in procs]
        except AssertionError:
            for p in procs:
                p.kill()
            raise
        assert codes == [0] * len(procs), output(work)[-4000:]
        # one line per step: with 2 processes, only process 0 writes
        assert [r["step"] for r in logged_steps(work)] == [1, 2, 3, 4], work.name
        assert losses(work) == pytest.approx(losses(ref_dir), rel=1e-5), work.name
        _, state, _ = training.restore_for_inference(config, work, NUM_CLASSES)
        assert int(state.step) == 4
        assert_trees_close(state, ref_state, rtol=1e-4, atol=1e-5)   # params, BN stats, momentum
        if work != multi:
            continue
        metrics = json.loads((work / "eval" / "metrics.json").read_text())
        for key in ("cam", "baseline"):
            assert metrics[key]["num_images"] == 32, (work.name, "each test image counted once")
            for name, value in ref_metrics[key].items():   # an argmax may flip on a tie
                assert value == pytest.approx(metrics[key][name], abs=100 / 32 + 1e-6), name
    if _gloo_reason():
        pytest.skip(_gloo_reason())
    # elastic resume: the 2-process checkpoint continues on 1 process (no data position
    # for process 0 of 1 in it: recomputed from the step) like the 1-device run does
    more = config_lib.load(DEMO, {**TINY, "data_dir": tiny_data_dir, **RUN,
                                                  "num_train_steps": 6, "eval_at_end": False})
    for work in (ref_dir, multi):
        assert training.train_and_evaluate(more, work) == {"step": 6}
    assert losses(multi) == pytest.approx(losses(ref_dir), rel=1e-5)
    assert [r["step"] for r in logged_steps(multi)] == [1, 2, 3, 4, 5, 6]
    _, state, _ = training.restore_for_inference(config, multi, NUM_CLASSES)
    _, ref_state, _ = training.restore_for_inference(config, ref_dir, NUM_CLASSES)
    assert_trees_close(state, ref_state, rtol=1e-4, atol=1e-5)



def test_importing_camjax_leaves_jax_uninitialised():
    """``CAMJAX_COORDINATOR=... camjax train`` calls jax.distributed.initialize() after the
    imports, which JAX refuses once anything has computed: no module may compute with
    jnp at import time (use numpy constants). The failure names the line that did."""
    code = "\n".join([
        "import traceback",
        "from jax._src import xla_bridge",
        "real, culprit = xla_bridge.backends, []",
        "def spy(*args, **kwargs):",
        "    if not xla_bridge.backends_are_initialized() and not culprit:",
        "        culprit.extend(f'{f.filename}:{f.lineno}' for f in traceback.extract_stack()",
        "                       if '/camjax/' in f.filename)",
        "    return real(*args, **kwargs)",
        "xla_bridge.backends = spy",
        "import camjax, camjax.cli, camjax.training.loop, camjax.models",
        "print('clean' if not xla_bridge.backends_are_initialized() else",
        "      'initialised by ' + ' <- '.join(reversed(culprit)))"])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=cli_env(), timeout=300)
    assert out.stdout.strip().endswith("clean"), (
        "importing camjax initialised the JAX backend, so multi-process `camjax train` "
        "cannot start jax.distributed: " + out.stdout.strip() + out.stderr[-2000:])
