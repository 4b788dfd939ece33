"""Folders camjax writes to (a workdir, an --out folder): checked before any work, so a
read-only or mistyped one is named at once rather than after training or evaluating."""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from camjax.errors import UserError


class WorkdirError(UserError):
    """A workdir or output folder that is a file, cannot be created or is not writable."""


def _write_error(folder: Path) -> OSError | None:
    """The error of creating a file in ``folder``, None when it works (permission bits
    say nothing for root or a read-only mount: try it)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".camjax-write-test-", dir=folder)
    except OSError as err:
        return err
    os.close(fd)
    os.unlink(probe)
    return None


def writable_folder(path, what: str = "--workdir", hint: str = "", *,
                    create: bool = True) -> Path:
    """``path`` as a folder this process can write to, created when missing (``create``
    False: only checked, the nearest existing parent must take it). A file there, a folder
    that cannot be created or written: WorkdirError naming ``what`` and ``path``; ``hint``
    says what to do (default: choose another)."""
    hint = hint or f"choose another {what}"
    path = Path(path).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise WorkdirError(f"{what} {path} is a file, not a folder; {hint}")
    if not path.exists():
        parent = next(p for p in path.parents if p.exists())
        err = OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)) if not parent.is_dir() \
            else _write_error(parent)
        if err is None and create:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as mkdir_err:
                err = mkdir_err
        if err is not None:
            raise WorkdirError(f"cannot create {what} {path} ({err.strerror or err}); "
                               f"{hint}") from err
        if not create:
            return path
    err = _write_error(path)
    if err is not None:
        raise WorkdirError(f"{what} {path} is not writable ({err.strerror or err}); "
                           f"{hint}") from err
    return path


def checkpoint_steps(workdir) -> list[int]:
    """The steps of the checkpoints in WORKDIR/checkpoints (complete ones: orbax names a
    checkpoint being written ``<step>.orbax-checkpoint-tmp``)."""
    folder = Path(workdir).expanduser() / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and p.is_dir())
