"""Processes (layer 0): start-up of a process group, process index, sums over processes,
this process's rows of a global array. No training code: the mesh lives in training/."""
from __future__ import annotations

import os

import jax
import numpy as np

from camjax.errors import ConfigError


def maybe_initialize(distributed: bool = False) -> None:
    """Start ``jax.distributed`` when asked (``distributed``) or the environment says so.

    ``distributed`` = True uses JAX's auto-detection (TPU pods, SLURM, ...);
    ``CAMJAX_COORDINATOR`` (host:port of process 0) with ``CAMJAX_NUM_PROCESSES`` and
    ``CAMJAX_PROCESS_ID`` start a process group by hand (GPU hosts, several processes on
    one machine). A no-op when ``jax.distributed`` is already initialised. It must run
    before anything computes with JAX (a module-level ``jnp`` constant included).
    """
    coordinator = os.environ.get("CAMJAX_COORDINATOR")
    if not (coordinator or distributed) or jax.distributed.is_initialized():
        return
    if jax.config.values.get("jax_cpu_collectives_implementation") == "none":
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU processes
    try:
        if coordinator:
            missing = [k for k in ("CAMJAX_NUM_PROCESSES", "CAMJAX_PROCESS_ID")
                       if k not in os.environ]
            if missing:
                raise ConfigError(f"CAMJAX_COORDINATOR is set but {', '.join(missing)} is not")
            jax.distributed.initialize(coordinator_address=coordinator,
                                       num_processes=int(os.environ["CAMJAX_NUM_PROCESSES"]),
                                       process_id=int(os.environ["CAMJAX_PROCESS_ID"]))
        else:
            jax.distributed.initialize()
    except RuntimeError as err:
        if "must be called before" not in str(err):
            raise
        raise RuntimeError(
            "multi-process training was requested but JAX was already initialised in this "
            "process (by a computation at import time, or before train_and_evaluate); "
            "jax.distributed.initialize() must come first") from err


def is_main_process() -> bool:
    return jax.process_index() == 0


def local_numpy(array) -> np.ndarray:
    """This process's rows of a batch-sharded array, in local batch order."""
    if getattr(array, "is_fully_addressable", True):
        return np.asarray(array)
    shards = sorted(array.addressable_shards, key=lambda s: s.index[0].start or 0)
    seen, rows = set(), []
    for s in shards:   # replicated axes give several shards with the same rows
        start = s.index[0].start or 0
        if start not in seen:
            seen.add(start)
            rows.append(np.asarray(s.data))
    return np.concatenate(rows)


def sum_over_processes(values) -> np.ndarray:
    """Element-wise sum of a host array over all processes (identity on one process)."""
    if jax.process_count() == 1:
        return np.asarray(values)
    from jax.experimental import multihost_utils
    return np.asarray(multihost_utils.process_allgather(np.asarray(values))).sum(axis=0)


def any_process(flag: bool) -> bool:
    """True on every process when ``flag`` is True on any (a collective: all must call)."""
    if jax.process_count() == 1:
        return bool(flag)
    return bool(sum_over_processes(np.array([flag], np.int32))[0])


def gather_to_main(text: str) -> list[str]:
    """Every process's ``text``, in process order, on every process (a collective: all
    must call; the identity list on one process). For per-image tables."""
    if jax.process_count() == 1:
        return [text]
    from jax.experimental import multihost_utils
    data = np.frombuffer(text.encode("utf-8"), np.uint8)
    sizes = multihost_utils.process_allgather(np.array([len(data)], np.int64)).reshape(-1)
    padded = np.zeros(int(sizes.max()), np.uint8)
    padded[:len(data)] = data
    rows = np.asarray(multihost_utils.process_allgather(padded)).reshape(len(sizes), -1)
    return [bytes(row[:n]).decode("utf-8") for row, n in zip(rows, sizes)]


def barrier(name: str) -> None:
    """Wait until every process reaches the barrier ``name`` (no-op on one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices(name)
