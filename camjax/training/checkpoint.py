"""orbax checkpoints of the train state, the data iterator position and run metadata.

Saves are atomic (orbax writes to a temporary folder and renames it on commit), so
a run killed at any moment leaves the previous checkpoint intact.
"""
from __future__ import annotations

from pathlib import Path

import jax
import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
    """A checkpoint folder that cannot be read back: corrupt or from another run."""


def manager(workdir, *, max_to_keep: int = 3, save_interval_steps: int = 1) -> ocp.CheckpointManager:
    path = Path(workdir).absolute() / "checkpoints"
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                           save_interval_steps=save_interval_steps,
                                           create=True, cleanup_tmp_directories=True)
    return ocp.CheckpointManager(path, options=options, item_names=("state", "data", "meta"))


def save(mngr, step: int, state, data_state: dict, meta: dict, *, force: bool = False) -> bool:
    return mngr.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        data=ocp.args.JsonSave(data_state),
        meta=ocp.args.JsonSave(meta)), force=force)


def restore(mngr, abstract_state, step: int | None = None):
    """(state, data_state, meta) of ``step`` (default: the latest); a clear error otherwise."""
    step = mngr.latest_step() if step is None else step
    where = mngr.directory
    if step is None:
        raise CheckpointError(f"no checkpoint in {where}")
    try:
        out = mngr.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state),
            data=ocp.args.JsonRestore(),
            meta=ocp.args.JsonRestore()))
    except Exception as err:  # orbax raises many types from deep inside; name the folder
        raise CheckpointError(
            f"checkpoint {where}/{step} cannot be restored into this model and optimiser "
            f"({type(err).__name__}: {str(err).splitlines()[0][:200]}). It is corrupt or was "
            "written by a different config; use a fresh --workdir or delete it") from err
    return out.state, out.data, out.meta


def abstract(tree, sharding):
    """ShapeDtypeStructs with the given sharding: the target of a restore."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)
