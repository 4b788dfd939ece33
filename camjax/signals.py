"""Ctrl-C (SIGINT) and SIGTERM in camjax's long loops: a flag the loops read between
batches, so that they stop, write what is done and return (the command line exits 130
or 143, docs/errors.md; training saves a checkpoint and exits 0).

Inside ``with StopSignals() as stop:`` the first signal sets ``stop.signum``; a second
one ends the process at once (the default action). Outside a ``with`` block (or off the
main thread, where Python allows no handler) nothing changes: Ctrl-C raises
``KeyboardInterrupt`` as usual. :func:`requested` is the innermost active block's signal,
for code that cannot be handed the object (the evaluation job's loop).
"""
from __future__ import annotations

import os
import signal

_ACTIVE: list["StopSignals"] = []


class StopSignals:
    """SIGTERM / SIGINT set a flag instead of interrupting (see the module docstring)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.signum: int | None = None
        self._old: dict = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def signal_name(self) -> str | None:
        return signal.Signals(self.signum).name if self.signum is not None else None

    @property
    def exit_status(self) -> int:
        """The shell's status of a process ended by the signal: 128 + its number."""
        return 128 + int(self.signum or 0)

    def __enter__(self):
        for sig in self.SIGNALS:
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:   # not the main thread: no signal handling
                pass
        _ACTIVE.append(self)
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:       # second signal: the default action, now
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self.signum = signum

    def __exit__(self, *exc):
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old = {}


def requested() -> StopSignals | None:
    """The innermost active :class:`StopSignals` that received a signal, else None."""
    return _ACTIVE[-1] if _ACTIVE and _ACTIVE[-1].requested else None
