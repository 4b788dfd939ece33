"""The compiled component trees (camjax.boxes._unionfind, _levels, _borders) and the facts
the V1 path uses."""
import cv2
import numpy as np
import pytest

from camjax.boxes import _unionfind as uf
from camjax.boxes import wsol_boxes
from camjax.boxes._borders import outer_area2
from camjax.boxes._levels import pad
from camjax.boxes._wsol_sweep import v1_batch
from camjax.boxes._wsol_tree import wsol_space

from .brute import flood_components
from .oracle import wsol_boxes_reference
from .test_wsol import assert_same
from .tree import component_tree


def _rows(rows):
    return sorted(map(tuple, np.stack(rows, 1).tolist()))


def _outer_area2(img: np.ndarray, thr: int, first: int) -> int:
    """outer_area2 on ``img`` (H, W) in its frame of zeros."""
    H, W = img.shape
    flat = pad(np.asarray(img, np.int64), 0, False, np.empty((H + 2) * (W + 2), np.int64))
    return outer_area2(flat, H, W, thr, first)


def _contour_area2(mask: np.ndarray) -> int:
    """Twice cv2.contourArea of the outer border of a one-component mask."""
    cs = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[-2]
    assert len(cs) == 1
    return int(round(2 * cv2.contourArea(cs[0])))


def test_component_nodes_against_bfs():
    """Every node, level by level == BFS components (box, count, first pixel); with
    windows, E4 = 4 (1 - holes) and Q2 = twice the outer border's area without holes."""
    rng = np.random.default_rng(2)
    for _ in range(60):
        H, W = rng.integers(1, 11, 2)
        K = int(rng.integers(1, 5))
        lev = rng.integers(0, K + 1, (H, W))
        for conn in (4, 8):
            for invert in (False, True):
                img = K - lev if invert else lev
                nd = uf.component_nodes(lev, K, conn, invert, conn == 8)
                got = []
                for i in range(nd.shape[1]):
                    for v in range(nd[uf.LO, i] + 1, nd[uf.HI, i] + 1):
                        got.append((v, *nd[uf.X0:uf.FIRST + 1, i].tolist()))
                want = []
                for v in range(1, K + 1):
                    for comp in flood_components(img >= v, conn):
                        ys, xs = zip(*comp)
                        want.append((v, min(xs), min(ys), max(xs), max(ys), len(comp),
                                     min(y * W + x for y, x in comp)))
                assert sorted(got) == sorted(want)
                if conn == 8:
                    for i in range(nd.shape[1]):
                        v = nd[uf.HI, i]
                        first = nd[uf.FIRST, i]
                        comp = [c for c in flood_components(img >= v, 8)
                                if min(y * W + x for y, x in c) == first][0]
                        mask = np.zeros((H, W), bool)
                        mask[tuple(zip(*comp))] = True
                        holes = sum(1 for h in flood_components(~mask, 4)
                                    if all(0 < y < H - 1 and 0 < x < W - 1 for y, x in h))
                        assert nd[uf.E4, i] == 4 * (1 - holes)
                        area2 = _contour_area2(mask)
                        assert _outer_area2(img, v, first) == area2
                        if holes == 0:
                            assert nd[uf.Q2, i] == area2
                        else:
                            assert nd[uf.Q2, i] <= area2


def test_component_nodes_equal_numpy_tree():
    rng = np.random.default_rng(4)
    lev = rng.integers(0, 7, (3, 17, 13))
    for conn in (4, 8):
        want = component_tree(lev, 6, conn)
        for b in range(3):
            nd = uf.component_nodes(lev[b], 6, conn)
            sel = want.image == b
            assert _rows([nd[r] for r in range(8)]) == _rows(
                [want.lo[sel], want.hi[sel], want.x0[sel], want.y0[sel], want.x1[sel],
                 want.y1[sel], want.count[sel], want.first[sel]])


def test_outer_area_of_random_components():
    rng = np.random.default_rng(0)
    n = 0
    for _ in range(400):
        H, W = rng.integers(1, 20, 2)
        b = (rng.random((H, W)) < rng.random()).astype(np.uint8)
        count, labels = cv2.connectedComponents(b, connectivity=8)
        for c in range(1, count):
            mask = labels == c
            first = int(np.flatnonzero(mask.ravel())[0])
            assert _outer_area2(b, 1, first) == _contour_area2(mask)
            n += 1
    assert n > 1000


def test_hole_borders_never_beat_their_outer_border():
    """V1 looks at outer borders only: a hole border's area is at most its parent's,
    and OpenCV lists the parent first (so max() keeps the parent on equal areas)."""
    rng = np.random.default_rng(7)
    equal = 0
    for _ in range(3000):
        H, W = rng.integers(3, 14, 2)
        b = (rng.random((H, W)) < rng.random()).astype(np.uint8)
        contours, hier = cv2.findContours(b, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2:]
        if not contours:
            continue
        hier = hier[0]
        for k in range(len(contours)):
            depth, p = 0, hier[k][3]
            while p >= 0:
                depth, p = depth + 1, hier[p][3]
            if depth % 2:
                parent = hier[k][3]
                a, pa = cv2.contourArea(contours[k]), cv2.contourArea(contours[parent])
                assert a <= pa and parent < k
                equal += a == pa
    assert equal > 0           # the equal case does occur (a spur on a 4-pixel ring)


def test_v1_ties_go_to_opencv():
    """Two blobs of equal area, different boxes: flagged, and OpenCV's first is kept."""
    m = np.zeros((1, 12, 20))
    m[0, 2:5, 2:5] = 1.0
    m[0, 7:10, 12:15] = 1.0
    m[0, 3, 3] = 0.5                     # a hole at some levels
    taus = np.array([0.0, 0.3, 0.6])
    _, unsure, levels, ok = v1_batch(np.ascontiguousarray(m), taus, wsol_space(12, 20))
    assert ok and unsure.all()
    assert_same(wsol_boxes(m, taus, False), wsol_boxes_reference(m, taus, False))


def test_v1_holes_and_bounds():
    """A ring (area known only by tracing) against a solid blob of nearly its area."""
    rng = np.random.default_rng(5)
    for _ in range(30):
        m = np.zeros((2, 30, 30))
        m[:, 3:14, 3:14] = 1.0
        m[:, 5:12, 5:12] = rng.random()            # the hole's level
        s = int(rng.integers(7, 12))
        m[:, 16:16 + s, 16:16 + s] = rng.random()  # a solid square
        m[1] = m[1].T
        taus = np.linspace(0, 0.99, 23)
        assert_same(wsol_boxes(m, taus, False), wsol_boxes_reference(m, taus, False))


@pytest.mark.parametrize("multi", [False, True])
def test_inputs_and_errors_like_reference(multi):
    m = np.random.default_rng(0).random((3, 9, 11))
    taus = [0.0, 0.5]
    assert_same(wsol_boxes(m.astype(np.float16), taus, multi),
                wsol_boxes_reference(m.astype(np.float16), taus, multi))
    assert_same(wsol_boxes(m.astype(np.float32), taus, multi),
                wsol_boxes_reference(m.astype(np.float32), taus, multi))
    assert_same(wsol_boxes(m[1:1], taus, multi), wsol_boxes_reference(m[1:1], taus, multi))
    for bad in (1.5, -0.1, np.nan):
        x = m.copy()
        x[2, 4, 4] = bad
        with pytest.raises(ValueError) as want:
            wsol_boxes_reference(x, taus, multi)
        with pytest.raises(ValueError) as got:
            wsol_boxes(x, taus, multi, workers=2)
        assert str(got.value) == str(want.value)
    with pytest.raises(TypeError):
        wsol_boxes(np.zeros((2, 4, 4), np.uint8), taus, multi)


def test_workers_do_not_change_v1():
    rng = np.random.default_rng(9)
    from .brute import random_maps
    maps = random_maps(rng, 11, 19, 23)
    taus = np.arange(0, 1, 0.01)
    assert_same(wsol_boxes(maps, taus, False, workers=1), wsol_boxes(maps, taus, False, workers=4))


def test_background_tree_gives_the_holes():
    """bg_tree (the outside in from the start, swept up to a level): its nodes alive
    at each level are exactly the 4-connected background components of u8 < v that
    do not touch the edge (BFS), box for box."""
    from camjax.boxes._wsol_tree import bg_tree, fg_tree, prepare
    rng = np.random.default_rng(11)
    from .brute import random_maps
    for H, W in [(1, 6), (7, 7), (9, 13)]:
        space = wsol_space(H, W)
        for m in random_maps(rng, 25, H, W):
            peak, hist, start = prepare(m, np.array([0.0]), space, np.zeros(1, np.int64), True)
            fg_tree(W, space, hist, start, True)
            top = int(rng.integers(1, 257))
            n = bg_tree(W, space, hist, start, top)
            g = space[1][uf.NODES][:, :n]
            u8 = (m * 255).astype(np.uint8)
            for v in range(1, min(top, 255) + 1):
                got = sorted(tuple(g[uf.X0:uf.Y1 + 1, i]) for i in range(n)
                             if 255 - g[uf.HI, i] < v <= min(255 - g[uf.LO, i], top))
                want = sorted((min(xs), min(ys), max(xs), max(ys))
                              for comp in flood_components(u8 < v, 4)
                              for ys, xs in [tuple(zip(*comp))]
                              if min(ys) > 0 and min(xs) > 0 and max(ys) < H - 1
                              and max(xs) < W - 1)
                assert got == want, (H, W, v)
