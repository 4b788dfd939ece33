"""The 1-D ``data`` mesh, multi-host start-up, and global batches from per-process data."""
from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P


def maybe_initialize_distributed(config) -> None:
    """Start ``jax.distributed`` when the config or the environment asks for it.

    ``config.distributed`` = True uses JAX's auto-detection (TPU pods, SLURM, ...);
    ``CAMJAX_COORDINATOR`` (host:port of process 0) with ``CAMJAX_NUM_PROCESSES`` and
    ``CAMJAX_PROCESS_ID`` start a process group by hand (GPU hosts, several processes on
    one machine). A no-op when ``jax.distributed`` is already initialised. It must run
    before anything computes with JAX (a module-level ``jnp`` constant included).
    """
    coordinator = os.environ.get("CAMJAX_COORDINATOR")
    if not (coordinator or config.get("distributed", False)) or jax.distributed.is_initialized():
        return
    if jax.config.values.get("jax_cpu_collectives_implementation") == "none":
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU processes
    try:
        if coordinator:
            missing = [k for k in ("CAMJAX_NUM_PROCESSES", "CAMJAX_PROCESS_ID")
                       if k not in os.environ]
            if missing:
                from camjax.config import ConfigError
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


def data_mesh() -> jax.sharding.Mesh:
    """All devices of all processes along one ``data`` axis.

    Auto axis type: the compiler propagates shardings (the batch axis stays sharded
    through the CAM gather and einsum) without per-op annotations.
    """
    return jax.make_mesh((jax.device_count(),), ("data",),
                         axis_types=(jax.sharding.AxisType.Auto,))


def replicated(mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharded(mesh) -> NamedSharding:
    return NamedSharding(mesh, P("data"))


def check_batch_size(global_batch: int, name: str = "batch_size") -> int:
    """The per-process batch; the global batch must divide by the device count."""
    from camjax.config import ConfigError   # a ValueError the CLI reports in one line
    devices = jax.device_count()
    if global_batch % devices:
        raise ConfigError(f"config.{name}={global_batch} must be divisible by the number of "
                         f"devices ({devices}); choose a multiple of {devices}")
    return global_batch // jax.process_count()


def global_batch(mesh, local: dict) -> dict:
    """Per-process numpy arrays -> global jax arrays sharded along ``data``."""
    sharding = batch_sharded(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
            for k, v in local.items()}


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


def sum_over_processes(values: np.ndarray) -> np.ndarray:
    """Element-wise sum of a host array over all processes (identity on one process)."""
    if jax.process_count() == 1:
        return np.asarray(values)
    from jax.experimental import multihost_utils
    return np.asarray(multihost_utils.process_allgather(np.asarray(values))).sum(axis=0)
