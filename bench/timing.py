"""What the benches share, written once: the options and the start of a camjax against
PyTorch comparison (:func:`comparison_options`, :func:`start`), medians of interleaved
repeats (each contender timed in turn, so all see the same machine load), a wall + CPU
clock, and the line that says what ran and how it was timed."""
from __future__ import annotations

import statistics
import time


def comparison_options(parser, section: str, *, repeats: int = 3, dtypes: bool = True):
    """``--repeats``, ``--threads``, ``--torch-device``, (``dtypes``: ``--bf16``,
    ``--channels-last``), ``--section`` (default ``section``) and ``--no-write``."""
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--threads", type=int, default=0, help="pin both libraries to N "
                        "cores (0: all cores, default threads)")
    parser.add_argument("--torch-device", default="auto", help="auto (CUDA when available) "
                        "| cpu | cuda")
    if dtypes:
        parser.add_argument("--bf16", action="store_true",
                            help="bfloat16 compute on both sides")
        parser.add_argument("--channels-last", action="store_true",
                            help="PyTorch in channels-last")
    parser.add_argument("--section", default=section, help="BENCHMARKS.md section to write")
    parser.add_argument("--no-write", action="store_true", help="print only")
    return parser


def start(args):
    """``(pinned note, machine.Stamp, torch.device)`` for :func:`comparison_options`'
    ``args``: the cores pinned first (before JAX starts its CPU backend), then the machine
    stamped, then PyTorch's device picked."""
    import machine
    import threads
    import torch_device
    pinned = threads.pin(args.threads)
    stamp = machine.Stamp()
    return pinned, stamp, torch_device.pick(args.torch_device)


def median_interleaved(runs: dict, repeats: int) -> dict:
    """``{name: median seconds}`` of ``repeats`` rounds, each calling every ``runs[name]()``
    once in turn (warm-up and compilation are the caller's, before)."""
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def median_time(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls of ``fn()``."""
    return median_interleaved({"fn": fn}, repeats)["fn"]


def clock() -> tuple[float, float]:
    """A start for :func:`since`: (wall, CPU time of this thread)."""
    return time.perf_counter(), time.thread_time()


def since(start) -> tuple[float, float]:
    """(wall, CPU of this thread) seconds since ``start`` (:func:`clock`)."""
    return time.perf_counter() - start[0], time.thread_time() - start[1]


def setup_line(torch_note: str, pinned: str, dtype: str, repeats: int) -> str:
    """The jax release and devices, PyTorch's device (``torch_device.describe``), the
    threads (``threads.pin``'s note), the dtype and the repeats, on one line."""
    import jax
    devices = jax.devices()
    return (f"jax {jax.__version__} on {len(devices)} x {devices[0].platform}; {torch_note}; "
            f"{pinned}; {dtype}; medians of {repeats} interleaved runs after a warm-up")
