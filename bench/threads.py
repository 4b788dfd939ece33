"""``--threads N`` for the benches: camjax (XLA:CPU) and PyTorch on the same N cores.

On a shared machine the per-core comparison is the stable one: both libraries restricted
to the same cores (the process's CPU affinity, which XLA sizes its thread pools by) and
PyTorch's intra-op threads set to N; for N = 1, XLA's Eigen pool is turned off too. It
must run before JAX starts its CPU backend (the first ``jax.devices()`` or computation).
"""
from __future__ import annotations

import os


def pin(threads: int) -> str:
    """Restrict this process to ``threads`` cores (0: leave it alone); returns a note."""
    if threads <= 0 or not hasattr(os, "sched_setaffinity"):
        return f"{os.cpu_count()} cores, default threads"
    cores = sorted(os.sched_getaffinity(0))[:threads]
    os.sched_setaffinity(0, cores)
    flags = os.environ.get("XLA_FLAGS", "")
    if threads == 1 and "--xla_cpu_multi_thread_eigen=false" not in flags:
        # (not the often-quoted "intra_op_parallelism_threads=1": it is no XLA flag, and
        # XLA ignores every flag after it in XLA_FLAGS)
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass
    return f"pinned to {len(cores)} core{'s' * (len(cores) > 1)} ({threads} thread" \
           f"{'s' * (threads > 1)} each for XLA and PyTorch)"
