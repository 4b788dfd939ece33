"""Worker threads for compiled kernels that release the GIL (the box rules, the mask
histograms of PxAP): a batch split into contiguous chunks, run on one persistent pool.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np


def default_workers() -> int:
    """Worker threads when the caller gives none: the CPU count, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


def _chunks(n: int, parts: int) -> list[tuple[int, int]]:
    bounds = np.linspace(0, n, parts + 1).astype(int)
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


# One pool for the process: threads are started once, not per call.
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
CHUNKS_PER_WORKER = 4     # more chunks than threads: a slow map or a busy core evens out


def _pool(workers: int) -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < workers:
            _POOL = ThreadPoolExecutor(max(workers, default_workers()),
                                       thread_name_prefix="camjax-boxes")
        return _POOL


def map_chunks(fn, n: int, workers: int | None) -> list:
    """``fn(start, stop)`` over contiguous chunks of range(n); the results in order.

    ``workers`` (None: :func:`default_workers`) threads of a persistent pool take
    chunks, ``CHUNKS_PER_WORKER`` per thread, as they finish the last one; one worker
    runs the whole range in the calling thread. The kernels (numba ``nogil``, OpenCV)
    release the GIL, so the threads run in parallel. An empty batch gives
    ``[fn(0, 0)]``."""
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    parts = _chunks(n, min(n, workers * CHUNKS_PER_WORKER)) if workers > 1 else []
    if len(parts) <= 1:
        return [fn(0, n)]
    results = [None] * len(parts)
    todo = iter(range(len(parts)))
    lock = threading.Lock()
    failed = threading.Event()

    def lane():
        while not failed.is_set():
            with lock:
                i = next(todo, None)
            if i is None:
                return
            try:
                results[i] = fn(*parts[i])
            except BaseException:
                failed.set()             # the others stop taking chunks
                raise

    lanes = [_pool(workers).submit(lane) for _ in range(min(workers, len(parts)))]
    wait(lanes)                          # all stopped; then the first error, if any
    for f in lanes:
        f.result()
    return results
