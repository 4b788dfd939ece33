"""The 1-D ``data`` mesh and global batches from per-process data (processes: distributed.py)."""
from __future__ import annotations

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P


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


def global_batch(mesh, local: dict) -> dict:
    """Per-process numpy arrays -> global jax arrays sharded along ``data``."""
    sharding = batch_sharded(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
            for k, v in local.items()}
