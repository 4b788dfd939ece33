"""A NumPy component tree (test oracle): every threshold's components in one sweep.

For an integer image ``lev`` (values 0..K) the foreground at level ``v`` (1..K) is
``lev >= v``; these sets are nested, so their connected components form a tree
(the max-tree). :func:`component_tree` builds it for a whole batch by adding the
pixels level by level, from the top, with a union-find over component ids: a
component that gains pixels at level ``v`` gets a new node, one that does not
keeps its node. Each node is one component, alive for the levels ``lo < v <= hi``,
with its bounding box, pixel count and first pixel (raster order).

Everything is vectorised over the batch: one pass per level, whatever the batch
size, and per-pixel work that does not depend on the level (neighbour tests,
edge reduction) is done once up front.

The box rules use the compiled tree of :mod:`camjax.boxes._unionfind` (a few
times faster); this NumPy version is a test oracle, an independent implementation
the tests compare the compiled one with. It shares the compiled tree's neighbour
tables (``RING``, ``RING_GROUPS``, :mod:`camjax.boxes._rings`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from camjax.boxes._rings import RING, RING_GROUPS


class Nodes(NamedTuple):
    """Component-tree nodes of a batch; all arrays (n,) int64.

    Node ``i`` is a connected component of ``lev[image[i]] >= v`` for every
    level ``lo[i] < v <= hi[i]``.
    """
    image: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    count: np.ndarray
    first: np.ndarray   # raster index (y * W + x) of the component's first pixel


def _masks(lev: np.ndarray, connectivity: int):
    """Per pixel (raster order, (N,) uint8 each): bits of the ring neighbours that are
    higher, and bits of the forward neighbours at the same level that need an edge.

    Forward neighbours come after the pixel in raster order: E, SE, S, SW for
    8-connectivity, E, S for 4. A same-level edge is left out when its two ends
    are joined anyway at that level: through a higher pixel adjacent to both (or,
    for 4-connectivity, two adjacent higher pixels), or, for a diagonal step, a
    side pixel at least as high. Pixels at level 0 (never foreground) get no bits.
    """
    B, H, W = lev.shape
    pad = np.zeros((B, H + 2, W + 2), lev.dtype)   # outside: level 0, never higher
    pad[:, 1:-1, 1:-1] = lev
    me = lev
    nb = [pad[:, 1 + dy:H + 1 + dy, 1 + dx:W + 1 + dx] for dy, dx in RING]
    higher = [(n > me) for n in nb]
    up = np.zeros(lev.shape, np.uint8)
    for i in range(8):
        up |= higher[i].view(np.uint8) << np.uint8(i)
    flat = np.zeros(lev.shape, np.uint8)
    if connectivity == 8:
        forward = (2, 3, 4, 5)
        keep = {2: ~(higher[0] | higher[1] | higher[3] | higher[4]),
                3: (nb[2] < me) & (nb[4] < me),
                4: ~(higher[2] | higher[3] | higher[5] | higher[6]),
                5: (nb[4] < me) & (nb[6] < me)}
    else:
        forward = (2, 4)
        keep = {2: ~((higher[0] & higher[1]) | (higher[4] & higher[3])),
                4: ~((higher[6] & higher[5]) | (higher[2] & higher[3]))}
    for k, i in enumerate(forward):
        same = (nb[i] == me) & keep[i]
        flat |= same.view(np.uint8) << np.uint8(k)
    dead = me == 0
    flat[dead] = 0
    up[dead] = 0
    return up.ravel(), flat.ravel(), np.array(forward)


def _bit_table(nbits: int) -> np.ndarray:
    """(2**nbits, nbits) int8: entry k is k where bit k is set, else -1."""
    m = np.arange(2 ** nbits)[:, None]
    k = np.arange(nbits)[None]
    return np.where(m >> k & 1, k, -1).astype(np.int8)


_BITS = {n: _bit_table(n) for n in (2, 4)}


def _find(parent: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Roots of ``x`` in the union-find ``parent``, compressing the paths walked."""
    r = parent[x]
    rr = parent[r]
    todo = np.flatnonzero(rr != r)
    if todo.size:
        r[todo] = rr[todo]
        while todo.size:
            nxt = parent[r[todo]]
            moved = nxt != r[todo]
            todo = todo[moved]
            r[todo] = nxt[moved]
        parent[x] = r
    return r


def _union(parent: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """Join the sets of a[i] and b[i] in the union-find ``parent`` (roots hook to smaller roots)."""
    while a.size:
        ra, rb = _find(parent, a), _find(parent, b)
        keep = ra != rb
        if not keep.any():
            return
        a, b, ra, rb = a[keep], b[keep], ra[keep], rb[keep]
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))


def _dedupe(x: np.ndarray, scratch: np.ndarray, where: bool = False):
    """The distinct values of ``x`` (non-negative, < scratch.size), one per value
    (its last occurrence), and with ``where`` their indices in ``x``."""
    ar = np.arange(x.size)
    scratch[x] = ar
    idx = np.flatnonzero(scratch[x] == ar)
    return (x[idx], idx) if where else x[idx]


def component_tree(lev: np.ndarray, nlevels: int, connectivity: int = 8,
                   counts: bool = True) -> Nodes:
    """The component tree of a batch of level images ``lev`` (B, H, W), values 0..nlevels.

    ``connectivity`` 8 or 4. Level 0 is never foreground. ``counts`` False skips
    the pixel counts and first pixels (zeros are returned for them).
    """
    lev = np.asarray(lev)
    if lev.ndim != 3:
        raise ValueError(f"lev must be (B, H, W), got shape {lev.shape}")
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    B, H, W = lev.shape
    HW = H * W
    lev = lev.astype(np.uint8 if nlevels < 256 else np.uint16, copy=False)
    key = lev.ravel()
    N = key.size
    up_mask, flat_mask, forward = _masks(lev, connectivity)
    pix = np.argsort(key, kind="stable")               # radix sort: pixels by level
    pb = np.zeros(nlevels + 2, np.int64)
    np.cumsum(np.bincount(key, minlength=nlevels + 1), out=pb[1:])
    ring_off = np.array([dy * W + dx for dy, dx in RING], np.int64)

    # level-independent edges, in level order: p and q as positions in ``pix``
    pos = np.empty(N, np.int64)                        # pixel -> its place in ``pix``
    pos[pix] = np.arange(N)
    table = RING_GROUPS[connectivity]
    um = up_mask[pix]
    rep = table[um, 0]
    has_up = rep >= 0
    first_q = pos[np.where(has_up, pix + ring_off[rep], 0)]   # one higher neighbour
    er = np.flatnonzero(table[um, 1] >= 0)            # pixels with further groups
    sub = table[um[er], 1:]
    r2, c2 = np.nonzero(sub >= 0)
    extra_p = er[r2]
    extra_q = pos[pix[extra_p] + ring_off[sub[r2, c2]]]
    xb = np.searchsorted(extra_p, pb)
    fm = flat_mask[pix]
    fr = np.flatnonzero(fm)
    fsub = _BITS[len(forward)][fm[fr]]
    r3, c3 = np.nonzero(fsub >= 0)
    flat_p = fr[r3]
    flat_q = pos[pix[flat_p] + ring_off[np.asarray(forward)[fsub[r3, c3]]]]
    fb = np.searchsorted(flat_p, pb)
    del pos, um, fm

    comp_of = np.empty(N, np.int64)          # position -> a component id (union-find)
    cparent = np.arange(N, dtype=np.int64)   # component union-find over ids
    version = np.empty(N, np.int64)          # root component -> its current node
    node_of = np.empty(N, np.int64)          # position -> the node created at its level
    scratch = np.empty(N, np.int64)
    lo = np.zeros(N, np.int64)               # 0 until closed (levels start at 1)
    hi = np.zeros(N, np.int64)
    nparent = np.empty(N, np.int64)
    node_image = np.empty(N, np.int64)
    n_nodes = n_comps = 0
    for v in range(nlevels, 0, -1):
        s, e = pb[v], pb[v + 1]
        nP = e - s
        if nP == 0:
            continue
        hu = has_up[s:e]
        label = np.empty(nP, np.int64)
        old_first = _find(cparent, comp_of[first_q[s:e][hu]])
        label[hu] = old_first
        if old_first.size < nP:               # no higher neighbour: a new component id
            nfree = nP - old_first.size
            label[~hu] = np.arange(n_comps, n_comps + nfree)
            n_comps += nfree
        xs, xe = xb[v], xb[v + 1]
        fs, fe = fb[v], fb[v + 1]
        if xe > xs:
            xc = _find(cparent, comp_of[extra_q[xs:xe]])
            touched = _dedupe(np.concatenate([old_first, xc]), scratch)
            ua = [label[extra_p[xs:xe] - s]]
            ub = [xc]
        else:
            touched = _dedupe(old_first, scratch)
            ua, ub = [], []
        if fe > fs:
            ua.append(label[flat_p[fs:fe] - s])
            ub.append(label[flat_q[fs:fe] - s])
        if ua:
            ua = np.concatenate(ua) if len(ua) > 1 else ua[0]
            ub = np.concatenate(ub) if len(ub) > 1 else ub[0]
            diff = ua != ub
            if diff.any():
                _union(cparent, ua[diff], ub[diff])
                label = _find(cparent, label)
        comp_of[s:e] = label
        roots, at = _dedupe(label, scratch, where=True)
        new = np.arange(n_nodes, n_nodes + roots.size)
        n_nodes += roots.size
        hi[new] = v
        node_image[new] = pix[s + at] // HW
        if touched.size:
            old_nodes = version[touched]
            lo[old_nodes] = v
            version[roots] = new
            nparent[old_nodes] = version[_find(cparent, touched)]
        else:
            version[roots] = new
        node_of[s:e] = version[label]
    if n_nodes == 0:
        z = np.zeros(0, np.int64)
        return Nodes(z, z, z, z, z, z, z, z, z)
    # aggregates: each node's own pixels (in raster order, coordinates by broadcasting),
    # then children into parents, level by level
    node_r = np.full(N, n_nodes, np.int64)                # background: a spare slot
    node_r[pix[pb[1]:]] = node_of[pb[1]:]
    idx_dtype = np.int32 if N < 2 ** 31 else np.int64
    xs = np.broadcast_to(np.arange(W, dtype=idx_dtype), (B, H, W)).ravel()   # contiguous
    ys = np.broadcast_to(np.arange(H, dtype=idx_dtype)[:, None], (B, H, W)).ravel()
    agg = np.empty((4 + counts, n_nodes + 1), idx_dtype)   # x0, y0, x1, y1, first
    agg[:2] = np.iinfo(idx_dtype).max
    agg[2:4] = -1
    np.minimum.at(agg[0], node_r, xs)
    np.minimum.at(agg[1], node_r, ys)
    np.maximum.at(agg[2], node_r, xs)
    np.maximum.at(agg[3], node_r, ys)
    node_image = node_image[:n_nodes]
    if counts:
        agg[4] = np.iinfo(idx_dtype).max
        np.minimum.at(agg[4], node_r, ys * W + xs)
        count = np.bincount(node_r, minlength=n_nodes + 1)[:n_nodes].astype(np.int64)
    else:
        count = np.zeros(n_nodes, np.int64)
    lo, hi, nparent = lo[:n_nodes], hi[:n_nodes], nparent[:n_nodes]
    closed = np.flatnonzero(lo > 0)
    order = closed[np.argsort(-lo[closed], kind="stable")]
    bounds = np.flatnonzero(np.diff(lo[order])) + 1
    for ch in np.split(order, bounds):
        if ch.size:
            par = nparent[ch]
            np.minimum.at(agg[0], par, agg[0, ch])
            np.minimum.at(agg[1], par, agg[1, ch])
            np.maximum.at(agg[2], par, agg[2, ch])
            np.maximum.at(agg[3], par, agg[3, ch])
            if counts:
                np.minimum.at(agg[4], par, agg[4, ch])
                np.add.at(count, par, count[ch])
    agg = agg[:, :n_nodes].astype(np.int64)
    first = agg[4] if counts else np.zeros(n_nodes, np.int64)
    return Nodes(node_image, lo.copy(), hi.copy(), agg[0], agg[1], agg[2], agg[3], count, first)
