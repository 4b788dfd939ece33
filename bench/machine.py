"""What every bench states about its machine, and its rule for a busy one.

Every script in bench/ prints (and writes into its BENCHMARKS.md section) the machine
and the load average at its start and at its end (:class:`Stamp`), and runs through
:func:`rerun_while_loaded`: a run that writes BENCHMARKS.md and started with a load
average above ``LOAD_LIMIT`` (other work was running; the timings are not the
machine's) is run again, after waiting for the load to fall, at most ``RERUNS``
times (``CAMJAX_BENCH_RERUNS`` in the environment sets how many); the last run's
section stands and says its load. Print-only runs (``--no-write``, e.g. the tests'
tiny runs) are never rerun.
"""
from __future__ import annotations

import os
import platform
import sys
import time

LOAD_LIMIT = 1.0
RERUNS = int(os.environ.get("CAMJAX_BENCH_RERUNS", 2))   # 0: a provisional run, once
WAIT_S = 180          # at most this long for the load to fall before a rerun


def load_average() -> float:
    """The 1-minute load average (NaN where the OS has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    """The CPU, its count, Python and the XLA flags in effect (``import camjax`` adds
    one: camjax/xla_cpu.py)."""
    flags = os.environ.get("XLA_FLAGS", "").strip()
    return (f"{cpu_name()} ({platform.machine()}), {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}" + (f"; XLA_FLAGS {flags}" if flags else ""))


class Stamp:
    """Made when a bench starts: ``line()`` names the machine and the load average at
    the start and now (the end)."""

    def __init__(self):
        self.start = load_average()
        print(f"machine: {describe()}; load average {self.start:.2f} at start", flush=True)

    def line(self) -> str:
        end = load_average()
        busy = ("" if self.start <= LOAD_LIMIT else
                f" (above {LOAD_LIMIT:g}: other work was running, the timings are noisy)")
        return (f"machine: {describe()}; load average {self.start:.2f} at start, "
                f"{end:.2f} at end{busy}")


def _wait_for_quiet(limit: float, wait_s: float) -> float:
    deadline = time.monotonic() + wait_s
    while load_average() > limit and time.monotonic() < deadline:
        time.sleep(10)
    return load_average()


def rerun_while_loaded(main, argv=None, *, limit: float = LOAD_LIMIT,
                       reruns: int = RERUNS, wait_s: float = WAIT_S) -> int:
    """``main(argv)``, run again while its start found a load average above ``limit``
    (only for runs that write BENCHMARKS.md); returns the last run's exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    writes = "--no-write" not in argv
    for attempt in range(reruns + 1):
        start = load_average()
        status = main(argv) or 0
        if status or not writes or start <= limit or attempt == reruns:
            return status
        print(f"\nload average {start:.2f} at start (> {limit:g}): waiting for the machine "
              f"to quieten, then rerun {attempt + 1} of {reruns}", flush=True)
        _wait_for_quiet(limit, wait_s)
    return status
