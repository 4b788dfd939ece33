"""The 1-D ``data`` mesh and global batches from per-process data (processes: distributed.py).

Two kinds of jobs use it: those whose processes run in lockstep (training, the evaluation
job) take :func:`data_mesh` over every device of every process and build global batches
(:func:`global_batch`); those whose processes each work on their own share of the inputs
(``camjax localize``, the faithfulness scorers) take ``data_mesh(local=True)``, this
process's devices only, and place padded batches on it (:func:`local_batch`): no step
waits for another process, so a share may have more batches, or more failed images, than
another's."""
from __future__ import annotations

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P


def data_mesh(local: bool = False) -> jax.sharding.Mesh:
    """All devices of all processes along one ``data`` axis (``local``: this process's
    devices only).

    Auto axis type: the compiler propagates shardings (the batch axis stays sharded
    through the CAM gather and einsum) without per-op annotations.
    """
    devices = jax.local_devices() if local else jax.devices()
    return jax.make_mesh((len(devices),), ("data",), devices=devices,
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


def round_up(rows: int, mesh) -> int:
    """The least multiple of the mesh's device count that is at least ``rows``."""
    return -(-rows // mesh.size) * mesh.size


def local_batch(mesh, local: dict, rows: int | None = None) -> dict:
    """This process's numpy rows, padded to ``rows`` (default :func:`round_up` of their
    count) by repeating the last row (a valid input of any function: the caller drops the
    padded rows' outputs), as arrays sharded along ``data`` over ``mesh``, a mesh of this
    process's devices (``data_mesh(local=True)``)."""
    sharding = batch_sharded(mesh)
    out = {}
    for key, value in local.items():
        value = np.asarray(value)
        size = round_up(len(value), mesh) if rows is None else rows
        if size % mesh.size or size < len(value):
            raise ValueError(f"local_batch: {size} rows for {len(value)} rows of {key!r} on "
                             f"{mesh.size} devices")
        if size > len(value):
            value = np.concatenate([value, np.repeat(value[-1:], size - len(value), 0)])
        out[key] = jax.device_put(value, sharding)
    return out


def local_copy(tree, mesh):
    """``tree`` (arrays replicated over any mesh) replicated over ``mesh``, a mesh of this
    process's devices: a replicated array spanning several processes gives its local
    shard, which is its whole value (a no-op on one process, where the meshes agree)."""
    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            x = x.addressable_data(0)
        return jax.device_put(x, replicated(mesh))
    return jax.tree.map(one, tree)
