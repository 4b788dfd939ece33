"""camjax.threads.map_chunks: chunks cover the range in order, on at most `workers`
threads of one persistent pool; an error in a chunk is raised to the caller."""
import threading

import pytest

from camjax import threads


def test_chunks_cover_the_range_in_order():
    out = threads.map_chunks(lambda a, b: list(range(a, b)), 23, 3)
    assert [x for part in out for x in part] == list(range(23))
    assert len(out) == 3 * threads.CHUNKS_PER_WORKER          # more chunks than workers


def test_one_worker_runs_in_the_caller():
    names = []
    out = threads.map_chunks(lambda a, b: names.append(threading.current_thread().name)
                             or (a, b), 10, 1)
    assert out == [(0, 10)] and names == [threading.current_thread().name]
    assert threads.map_chunks(lambda a, b: (a, b), 0, 4) == [(0, 0)]


def test_at_most_workers_threads_and_one_pool():
    active, peak, lock = [0], [0], threading.Lock()

    def work(a, b):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        threading.Event().wait(0.002)
        with lock:
            active[0] -= 1
        return threading.current_thread().name

    names = set(threads.map_chunks(work, 40, 2))
    assert peak[0] <= 2 and len(names) <= 2
    pool = threads._pool(2)
    threads.map_chunks(work, 40, 2)
    assert threads._pool(2) is pool


def test_errors_reach_the_caller():
    def work(a, b):
        if a <= 5 < b:
            raise KeyError("chunk with 5")
        return a
    with pytest.raises(KeyError, match="chunk with 5"):
        threads.map_chunks(work, 30, 3)
    with pytest.raises(ValueError, match="at least 1"):
        threads.map_chunks(work, 30, 0)
