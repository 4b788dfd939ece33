"""The paper rule: OpenCV path, one-pass sweep, the skimage oracle, BFS brute force."""
import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from camjax.boxes import largest_component_boxes

from .brute import flood_components, paper_rule, random_maps
from .oracle import largest_component_boxes_reference
from .tree import component_tree

maps_strategy = hnp.arrays(
    np.float32, st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 11),
                          st.integers(1, 11)),
    elements=st.sampled_from([0.0, 0.2, 0.5, 1.0]) | st.floats(0, 1, width=32))


@settings(max_examples=80, deadline=None)
@given(maps=maps_strategy, t=st.floats(0, 1))
def test_reference_equals_bfs(maps, t):
    got = largest_component_boxes_reference(maps, t)
    fast = largest_component_boxes(maps, t)                   # OpenCV labelling
    for idx in np.ndindex(maps.shape[:2]):
        assert tuple(got[idx]) == tuple(fast[idx]) == paper_rule(maps[idx], t)


@settings(max_examples=60, deadline=None)
@given(maps=maps_strategy, ts=st.lists(st.floats(0, 1), min_size=1, max_size=8))
def test_sweep_equals_reference(maps, ts):
    want = largest_component_boxes_reference(maps, ts)
    np.testing.assert_array_equal(largest_component_boxes(maps, ts, workers=1), want)
    np.testing.assert_array_equal(largest_component_boxes(maps, ts), want)


def test_sweep_many_maps_many_thresholds():
    rng = np.random.default_rng(11)
    maps = random_maps(rng, 60, 24, 30)
    ts = np.concatenate([np.linspace(0, 1, 41), [0.2, 0.2]])
    np.testing.assert_array_equal(largest_component_boxes(maps, ts, workers=3),
                                  largest_component_boxes_reference(maps, ts))


def test_single_threshold_paths_on_many_families():
    rng = np.random.default_rng(8)
    maps = random_maps(rng, 200, 21, 18)
    for t in (0.0, 0.2, 0.55):
        want = largest_component_boxes_reference(maps, t)
        np.testing.assert_array_equal(largest_component_boxes(maps, t), want)
        np.testing.assert_array_equal(largest_component_boxes(maps, t, workers=3), want)


def test_shapes_and_scalar():
    m = np.zeros((2, 3, 9, 9), np.float32)
    m[..., 1:3, 4:8] = 1
    assert largest_component_boxes(m).shape == (2, 3, 4)
    assert largest_component_boxes(m, [0.1, 0.5]).shape == (2, 3, 2, 4)
    assert largest_component_boxes(m)[0, 0].tolist() == [4, 1, 7, 2]
    assert largest_component_boxes(np.zeros((4, 4)), 0.2).tolist() == [0, 0, 0, 0]


def test_tie_goes_to_first_in_raster_order():
    m = np.zeros((6, 9))
    m[4, 0:3] = 1        # size 3, starts later in raster order
    m[1, 6:9] = 1        # size 3, first pixel first
    assert largest_component_boxes(m, 0.5).tolist() == [6, 1, 8, 1]
    assert largest_component_boxes(m, [0.5]).tolist() == [[6, 1, 8, 1]]


def test_threshold_in_float64():
    # m > t * max with t a float64: float32(0.1) = 0.10000000149 is above 0.1 (float64)
    # but not above float32(0.1) * 1.0; the rule compares in float64
    m = np.zeros((3, 3), np.float32)
    m[0, 0], m[0, 1] = 1.0, np.float32(0.1)
    assert largest_component_boxes(m, 0.1).tolist() == [0, 0, 1, 0]
    assert largest_component_boxes(m, [0.1]).tolist() == [[0, 0, 1, 0]]


def test_component_tree_against_bfs():
    rng = np.random.default_rng(2)
    for _ in range(40):
        B, H, W = rng.integers(1, 3), rng.integers(1, 10), rng.integers(1, 10)
        K = int(rng.integers(1, 5))
        lev = rng.integers(0, K + 1, (B, H, W))
        for conn in (4, 8):
            nodes = component_tree(lev, K, conn)
            got = []
            for i in range(nodes.image.size):
                for v in range(nodes.lo[i] + 1, nodes.hi[i] + 1):
                    got.append((nodes.image[i], v, nodes.x0[i], nodes.y0[i], nodes.x1[i],
                                nodes.y1[i], nodes.count[i], nodes.first[i]))
            want = []
            for b in range(B):
                for v in range(1, K + 1):
                    for comp in flood_components(lev[b] >= v, conn):
                        ys, xs = zip(*comp)
                        want.append((b, v, min(xs), min(ys), max(xs), max(ys), len(comp),
                                     min(y * W + x for y, x in comp)))
            assert sorted(got) == sorted(want)
