"""orbax checkpoints: the train state, each process's data-iterator position, run metadata.

A checkpoint ``WORKDIR/checkpoints/<step>/`` holds three items:

- ``state``: the ``TrainState`` (step, params, BatchNorm statistics and nnx RNG state in
  ``rest``, optimiser state), written collectively by all processes (``StandardSave``);
- ``data``: one ``process_<i>-of-<n>.json`` per process, that process's grain iterator
  state taken when ``save`` is called;
- ``meta``: JSON describing the run (model, dataset, classes, batch), checked on restore.

Saves are atomic: orbax writes into a temporary folder and renames it when every process
has finished, so a run killed at any moment (SIGKILL included) leaves the previous
checkpoints intact; the temporary folder is removed on the next start. A save that fails
(a full disk, a read-only folder) raises :class:`CheckpointSaveError` naming the step and
the folder, at the save or at the next check (``check_saves``, ``close``). orbax's own log
lines are muted: camjax reports what failed.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp
from etils import epath

from camjax.checks.resume import CheckpointError, check_meta  # noqa: F401
from camjax.checks.saves import (CheckpointSaveError, check_saves,  # noqa: F401
                                 check_space, close, mute_orbax_logs, saving, wait)


# ------------------------------------------------------------------ per-process JSON item
class ProcessJsonHandler(ocp.CheckpointHandler):
    """Each process writes and reads its own ``process_<i>-of-<n>.json``.

    (orbax's ``JsonSave`` writes on the primary process only; every process has its own
    data iterator.)
    """

    @staticmethod
    def _name(count: int | None = None) -> str:
        return f"process_{jax.process_index()}-of-{count or jax.process_count()}.json"

    def save(self, directory: epath.Path, args: "ProcessJsonSave"):
        (directory / self._name()).write_text(json.dumps(args.item))

    def restore(self, directory: epath.Path, args: "ProcessJsonRestore | None" = None):
        path = directory / self._name()
        if not path.exists():   # written by another number of processes
            return None
        return json.loads(path.read_text())

    def metadata(self, directory: epath.Path):
        return None

    def finalize(self, directory: epath.Path):
        pass

    def close(self):
        pass


@ocp.args.register_with_handler(ProcessJsonHandler, for_save=True)
@dataclasses.dataclass
class ProcessJsonSave(ocp.args.CheckpointArgs):
    item: Any


@ocp.args.register_with_handler(ProcessJsonHandler, for_restore=True)
@dataclasses.dataclass
class ProcessJsonRestore(ocp.args.CheckpointArgs):
    pass


# ------------------------------------------------------------------------------- manager
def manager(workdir, *, max_to_keep: int = 3, read_only: bool = False) -> ocp.CheckpointManager:
    """The CheckpointManager of ``WORKDIR/checkpoints`` (async saves, keep the last K)."""
    path = Path(workdir).absolute() / "checkpoints"
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"{path} is not a folder; use a fresh --workdir")
    mute_orbax_logs()
    # the step folder is created in save() itself, so an unwritable folder fails there at
    # once (asynchronous creation waits minutes for a signal that never comes)
    options = ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep, create=not read_only, cleanup_tmp_directories=not read_only,
        read_only=read_only,
        async_options=ocp.AsyncOptions(create_directories_asynchronously=False))
    handlers = {"state": ocp.StandardCheckpointHandler(), "data": ProcessJsonHandler(),
                "meta": ocp.JsonCheckpointHandler()}
    try:
        return ocp.CheckpointManager(path, options=options, item_handlers=handlers)
    except Exception as err:
        raise CheckpointError(f"{path} is not a camjax checkpoint folder "
                              f"({type(err).__name__}: {_first_line(err)}); use a fresh "
                              "--workdir or delete it") from err


def save(mngr, step: int, state, data_state: dict, meta: dict, *, force: bool = True) -> bool:
    """Start saving (asynchronously: the arrays are copied first, written in background).

    Raises CheckpointSaveError when the previous save in the background failed, when the
    disk has no room for this one, or when it fails to start.
    """
    wait(mngr)   # orbax waits for the previous save anyway; its failure is named here
    check_space(mngr, step, state)
    with saving(mngr, step):
        return mngr.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            data=ProcessJsonSave(data_state),
            meta=ocp.args.JsonSave(meta)), force=force)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__


def _key(k) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def _shape(leaf) -> tuple[int, ...]:
    dtype = getattr(leaf, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        # typed RNG keys (nnx RNG streams) are stored as their raw key data
        return tuple(jax.eval_shape(jax.random.key_data,
                                    jax.ShapeDtypeStruct(leaf.shape, dtype)).shape)
    return tuple(leaf.shape)


def _signature(tree) -> dict[str, tuple[int, ...]]:
    """{'params/head/classifier/kernel': shape} of a tree of arrays or array metadata."""
    leaves = jax.tree_util.tree_flatten_with_path(
        tree, is_leaf=lambda x: hasattr(x, "shape") and hasattr(x, "dtype"))[0]
    return {"/".join(_key(k) for k in path if _key(k) != "value"): _shape(leaf)
            for path, leaf in leaves}


def check_compatible(stored, target, where: str) -> None:
    """Raise CheckpointError naming the first array whose presence or shape differs."""
    have, want = _signature(stored), _signature(target)
    for name in [*want, *(k for k in have if k not in want)]:   # params first
        if name not in have:
            problem = f"has no {name!r}"
        elif name not in want:
            problem = f"has {name!r}, which this model and optimiser do not"
        elif have[name] != want[name]:
            problem = f"has {name!r} of shape {have[name]}, this config needs {want[name]}"
        else:
            continue
        raise CheckpointError(f"checkpoint {where} was written by a different model or "
                              f"optimiser config: it {problem}; use another --workdir")


def restore(mngr, abstract_state, *, expect: dict | None = None, step: int | None = None,
            with_data: bool = True):
    """(state, data_state or None, meta) of ``step`` (default: the latest).

    Checks, before reading any array, that the checkpoint's metadata matches ``expect``
    and that its arrays have the paths and shapes of ``abstract_state``; raises
    CheckpointError naming the problem otherwise, or when a file is unreadable.
    """
    step = mngr.latest_step() if step is None else step
    if step is None:
        raise CheckpointError(f"no checkpoint in {mngr.directory}")
    where = f"{mngr.directory}/{step}"
    others = [s for s in mngr.all_steps() if s != step]
    hint = (f"; delete {where} to resume from step {max(others)}" if others else
            "; use a fresh --workdir or delete it")
    try:
        meta = mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
        stored = mngr.item_metadata(step)["state"]
        stored = getattr(stored, "tree", stored)
    except Exception as err:  # orbax raises many types from deep inside; name the folder
        raise CheckpointError(f"checkpoint {where} is unreadable ({type(err).__name__}: "
                              f"{_first_line(err)}){hint}") from err
    if not isinstance(meta, dict) or stored is None:
        raise CheckpointError(f"checkpoint {where} is not a camjax checkpoint{hint}")
    check_meta(meta, expect or {}, where)
    check_compatible(stored, abstract_state, where)
    items = {"state": ocp.args.StandardRestore(abstract_state)}
    if with_data:
        items["data"] = ProcessJsonRestore()
    try:
        out = mngr.restore(step, args=ocp.args.Composite(**items))
    except Exception as err:
        raise CheckpointError(f"checkpoint {where} is corrupt ({type(err).__name__}: "
                              f"{_first_line(err)}){hint}") from err
    return out.state, (out.data if with_data else None), meta


def abstract(tree, sharding):
    """ShapeDtypeStructs with the given sharding: the target of a restore."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)

