"""A checkpoint save that fails (a full disk, a read-only folder) stops training with one
error naming the step and the folder; orbax's own log lines about it are muted.

A save first checks that the disk has room for the state (``check_space``): orbax fails
noisily when a write runs out of space half way. orbax saves in the background: a later
failure surfaces at the next ``save``, at ``check_saves`` (the loop calls it at every
logged step) or at ``wait`` / ``close``.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import weakref

import jax

from camjax.errors import RunError


class CheckpointSaveError(RunError):
    """A checkpoint that could not be written: training stops (exit status 1)."""


class _MuteOrbax(logging.Filter):
    """Drops orbax's log records (read-only warnings, tracebacks of a failed background
    save, its asyncio tasks' unretrieved errors): camjax raises one error naming the
    checkpoint instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "/orbax/" in record.pathname.replace(os.sep, "/"):
            return False
        return not (record.name == "asyncio" and "orbax" in record.getMessage())


def mute_orbax_logs() -> None:
    # orbax logs through absl.logging; its failed tasks are reported by asyncio's logger
    for name in ("absl", "asyncio"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _MuteOrbax) for f in logger.filters):
            logger.addFilter(_MuteOrbax())


def describe(err: BaseException) -> str:
    """``Type: first line of the message``."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200]}" if text else type(err).__name__


def save_error(mngr, step: int | None, why: str) -> CheckpointSaveError:
    """The error of a failed save of ``step`` (None: the step is not known)."""
    what = f"the checkpoint of step {step}" if step is not None else "a checkpoint"
    return CheckpointSaveError(
        f"could not save {what} in {mngr.directory} ({why}): training stopped, the "
        "checkpoints before it are kept; free disk space or make the folder writable, then "
        "run the same command to resume")


# manager -> step of its latest save, named when that save fails in the background
_LAST_SAVE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def saving(mngr, step: int):
    """Around ``mngr.save(step, ...)``: an exception becomes CheckpointSaveError; the step
    is remembered for a failure that surfaces later."""
    try:
        yield
    except Exception as err:
        raise save_error(mngr, step, describe(err)) from err
    _LAST_SAVE[mngr] = step


def state_bytes(state) -> int:
    return sum(int(getattr(x, "nbytes", 0)) for x in jax.tree.leaves(state))


def check_space(mngr, step: int, state, margin: float = 1.1) -> None:
    """CheckpointSaveError before writing when the disk has less room than the state
    needs (with ``margin`` for orbax's own files)."""
    need = int(state_bytes(state) * margin) + (1 << 20)
    try:
        free = shutil.disk_usage(str(mngr.directory)).free
    except OSError:   # no answer from the filesystem: let the save itself tell
        return
    if free < need:
        raise save_error(mngr, step, f"{free / 2**20:.1f} MiB free on its disk, the state "
                                     f"needs {need / 2**20:.1f} MiB")


def check_saves(mngr) -> None:
    """Raise CheckpointSaveError if a background save has failed (cheap: no waiting)."""
    try:
        mngr.check_for_errors()
    except Exception as err:
        raise save_error(mngr, _LAST_SAVE.get(mngr), describe(err)) from err


def wait(mngr) -> None:
    """Wait for the save in flight; CheckpointSaveError if it failed."""
    try:
        mngr.wait_until_finished()
        mngr.check_for_errors()
    except Exception as err:
        raise save_error(mngr, _LAST_SAVE.get(mngr), describe(err)) from err


def close(mngr, *, raise_errors: bool = True) -> None:
    """Wait for the save in flight and close ``mngr``. A failed save raises
    CheckpointSaveError, unless ``raise_errors`` is False (another error is on its way)."""
    try:
        wait(mngr)
    except CheckpointSaveError:
        if raise_errors:
            raise
    finally:
        try:
            mngr.close()
        except Exception:   # a manager whose save failed may fail to close again
            if raise_errors:
                raise
