"""Helpers for training tests that run ``camjax train`` in subprocesses."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DEMO, ROOT
from tests.conftest import TINY_OVERRIDES as TINY   # the tiny run, as config overrides


@pytest.fixture(scope="session")
def jax_cache(tmp_path_factory):
    """A persistent compilation cache shared by the subprocesses of this test worker."""
    return str(tmp_path_factory.mktemp("jax_cache"))


def tiny_args(data_dir, **overrides) -> list[str]:
    values = {**TINY, "data_dir": data_dir, **overrides}
    return [f"--config.{k}={v}" for k, v in values.items()]


def cli_env(devices: int = 1, cache: str | None = None, **extra) -> dict:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
           "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
    if cache:
        env.update(JAX_COMPILATION_CACHE_DIR=cache,
                   JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                   JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    return {k: str(v) for k, v in env.items()}


# ``camjax train`` with jax.distributed started before camjax is imported
DISTRIBUTED_LAUNCHER = (
    "import os, sys, jax; jax.distributed.initialize(os.environ['CAMJAX_COORDINATOR'], "
    "int(os.environ['CAMJAX_NUM_PROCESSES']), int(os.environ['CAMJAX_PROCESS_ID'])); "
    "from camjax.cli import main; sys.exit(main(sys.argv[1:]))")


def start_train(workdir, args, env, config=DEMO, launcher=None) -> subprocess.Popen:
    """``python -m camjax.cli train`` in the background; output in workdir/../<name>.log."""
    log = open(Path(str(workdir) + ".log"), "a")
    program = ["-c", launcher] if launcher else ["-m", "camjax.cli"]
    return subprocess.Popen([sys.executable, *program, "train", "--config",
                             str(config), "--workdir", str(workdir), *args],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def output(workdir) -> str:
    path = Path(str(workdir) + ".log")
    return path.read_text() if path.exists() else ""


def logged_steps(workdir) -> list[dict]:
    path = Path(workdir) / "metrics.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:   # being written
            pass
    return out


def wait_for_step(proc, workdir, step: int, timeout: float = 300) -> int:
    """Wait until metrics.jsonl holds ``step`` (or later); returns the last logged step."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        steps = [r["step"] for r in logged_steps(workdir)]
        if steps and steps[-1] >= step:
            return steps[-1]
        if proc.poll() is not None:
            raise AssertionError(f"training ended (rc {proc.returncode}) before step {step}:\n"
                                 f"{output(workdir)[-3000:]}")
        try:   # a short wait on the process itself: the poll interval of this loop
            proc.wait(timeout=0.02)
        except subprocess.TimeoutExpired:
            pass
    proc.kill()
    raise AssertionError(f"no step {step} within {timeout} s:\n{output(workdir)[-3000:]}")


def finish(proc, workdir, timeout: float = 300) -> int:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"did not finish:\n{output(workdir)[-3000:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def losses(workdir) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in logged_steps(workdir)}


def leaves(tree) -> list[np.ndarray]:
    """Leaves of a TrainState (params, rest, optimiser state) or any pytree as numpy
    (RNG keys as their raw data; the step counter included)."""
    import jax
    out = []
    for x in jax.tree.leaves(tree):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        out.append(np.asarray(x))
    return out


def assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    la, lb = leaves(a), leaves(b)
    assert len(la) == len(lb)
    for i, (x, y) in enumerate(zip(la, lb)):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"leaf {i}")
