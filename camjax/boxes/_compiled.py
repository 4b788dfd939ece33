"""numba options and the small compiled helpers the sweeps share: box packing and
the listing of tree nodes under the levels they are alive at.

Every compiled function of the box rules is ``nogil`` (threads share a batch) and
cached on disk (``cache=True``: in ``__pycache__`` next to its file, or numba's user
cache directory where that is read-only); a cold compile of them all takes several
seconds (tens on a loaded machine).
"""
from __future__ import annotations

import numba as nb
import numpy as np

JIT = dict(nogil=True, cache=True)
SHIFT = 16   # box coordinates packed in one int64 sort key: needs H, W <= 65535
MASK = (1 << SHIFT) - 1


@nb.njit(**JIT)
def pack(x0, y0, x1, y1):
    """One int64 whose order is the lexicographic order of (x0, y0, x1, y1)."""
    return ((x0 << SHIFT | y0) << SHIFT | x1) << SHIFT | y1


@nb.njit(**JIT)
def grow(buf, size):
    """``buf``, or a copy at least twice as large when it holds fewer than ``size``."""
    if buf.size >= size:
        return buf
    new = np.empty(max(size, 2 * buf.size), buf.dtype)
    new[:buf.size] = buf
    return new


@nb.njit(**JIT)
def bucket(lo, hi, value, needed, offsets, buf):
    """Bucket ``value[i]`` under each needed level ``v`` with ``lo[i] < v <= hi[i]``:
    fills ``offsets`` (L+2,) so that level v's values are ``buf[offsets[v]:offsets[v+1]]``;
    returns ``buf``, grown if it was too small."""
    L = needed.size - 1
    offsets[:] = 0
    for i in range(lo.size):
        for v in range(lo[i] + 1, hi[i] + 1):
            if needed[v]:
                offsets[v + 1] += 1
    for v in range(L + 1):
        offsets[v + 1] += offsets[v]
    buf = grow(buf, offsets[L + 1])
    fill = offsets[:L + 1].copy()
    for i in range(lo.size):
        for v in range(lo[i] + 1, hi[i] + 1):
            if needed[v]:
                buf[fill[v]] = value[i]
                fill[v] += 1
    return buf


@nb.njit(**JIT)
def needed_levels(levels, peak, L):
    """(L+1,) bool: the levels 1..peak that appear in ``levels``."""
    needed = np.zeros(L + 1, np.bool_)
    for v in levels:
        if 1 <= v <= peak:
            needed[v] = True
    return needed
