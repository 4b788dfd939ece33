"""The WSOL rule: the fast sweep == the per-threshold OpenCV loop (the oracle)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from camjax.boxes import BoxSet, wsol_boxes
from camjax.boxes.wsol import cutoffs, to_uint8

from .brute import pairs, random_maps, v2_by_components
from .oracle import wsol_boxes_per_threshold, wsol_boxes_reference

TAUS = np.arange(0, 1, 0.05)


def assert_same(a: BoxSet, b: BoxSet):
    for x, y, name in zip(a, b, BoxSet._fields):
        assert x.dtype == y.dtype == np.int64, name
        np.testing.assert_array_equal(x, y, err_msg=name)


def test_boxset_layout():
    maps = np.zeros((2, 8, 8))
    maps[1, 2:5, 3:6] = 1.0
    bs = wsol_boxes(maps, [0.0, 0.5], multi_contour=True)
    assert isinstance(bs, BoxSet)
    assert bs.boxes.shape[1] == 4
    # every pair present, sorted by (image, threshold)
    key = bs.image * 2 + bs.threshold
    assert np.all(np.diff(key) >= 0)
    assert set(zip(bs.image.tolist(), bs.threshold.tolist())) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    # empty map -> the single (0, 0, 0, 0) box; the square -> (3, 2, 6, 5) (x + w, y + h)
    assert bs.boxes[bs.image == 0].tolist() == [[0, 0, 0, 0], [0, 0, 0, 0]]
    assert bs.boxes[bs.image == 1].tolist() == [[3, 2, 6, 5], [3, 2, 6, 5]]


def test_clip_to_last_pixel():
    m = np.ones((1, 224, 224))
    bs = wsol_boxes(m, [0.0], multi_contour=False)
    assert bs.boxes.tolist() == [[0, 0, 223, 223]]       # x + w = 224 clipped to 223


def test_uint8_in_float64():
    # 0.1 * 255 = 25.500000000000004 in float64; float32 gives 25.5 as well, but
    # e.g. s = 0.6 (float32 0.60000002) * 255 -> 153.00000x: floor must be on float64 s
    s = np.array([[0.6, 0.2]], np.float32)
    assert to_uint8(s).tolist() == [[int(np.float64(np.float32(0.6)) * 255),
                                     int(np.float64(np.float32(0.2)) * 255)]]
    assert cutoffs(np.array(200), [0.5, 0.999]).tolist() == [100, 199]


@pytest.mark.parametrize("multi", [False, True])
def test_differential_against_opencv(multi):
    """2,000 maps of 16..40 px from many families: camjax == OpenCV, pair by pair."""
    rng = np.random.default_rng(1234 + multi)
    shapes = [(16, 16), (16, 40), (23, 31), (40, 17), (31, 31), (40, 40), (19, 24), (27, 36)]
    total = 0
    for H, W in shapes:
        maps = random_maps(rng, 250, H, W)
        taus = np.sort(rng.random(7))
        taus = np.concatenate([[0.0], taus, [0.999]])
        fast = pairs(wsol_boxes(maps, taus, multi), len(maps), len(taus))
        for i, m in enumerate(maps):
            for j, (t, want) in enumerate(zip(taus, wsol_boxes_per_threshold(m, taus, multi))):
                np.testing.assert_array_equal(fast[i, j], want, err_msg=f"{H}x{W} map {i} tau {t}")
        total += len(maps)
    assert total >= 2000


def test_v2_equals_components_and_holes():
    """The fact the sweep rests on: all-contour boxes == components + holes."""
    rng = np.random.default_rng(5)
    for _ in range(300):
        H, W = rng.integers(1, 14, 2)
        binary = rng.random((H, W)) < rng.random()
        want = v2_by_components(binary)
        s = binary.astype(np.float64)
        got = (wsol_boxes_per_threshold(s, [0.0], True)[0] if binary.any()
               else np.zeros((1, 4), np.int64))
        np.testing.assert_array_equal(got, want)


maps_strategy = hnp.arrays(
    np.float64, st.tuples(st.integers(1, 3), st.integers(1, 12), st.integers(1, 12)),
    elements=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 1.0]) | st.floats(0, 1))


@settings(max_examples=60, deadline=None)
@given(maps=maps_strategy, taus=st.lists(st.floats(0, 1), min_size=1, max_size=6),
       multi=st.booleans())
def test_sweep_equals_loop(maps, taus, multi):
    assert_same(wsol_boxes(maps, taus, multi), wsol_boxes_reference(maps, taus, multi))


def test_fine_thresholds_smooth_224():
    rng = np.random.default_rng(0)
    from .brute import smooth
    maps = smooth(rng, 3, 224, 224, 13)
    taus = np.arange(0, 1, 0.001)
    for multi in (True, False):
        assert_same(wsol_boxes(maps, taus, multi, workers=2),
                    wsol_boxes_reference(maps, taus, multi))


def test_workers_do_not_change_result():
    rng = np.random.default_rng(3)
    maps = random_maps(rng, 9, 20, 20)
    a = wsol_boxes(maps, TAUS, True, workers=1)
    b = wsol_boxes(maps, TAUS, True, workers=3)
    assert_same(a, b)


def test_single_map_2d():
    m = np.zeros((10, 10))
    m[2:4, 2:4] = 1
    bs = wsol_boxes(m, [0.5], True)
    assert bs.image.tolist() == [0] and bs.boxes.tolist() == [[2, 2, 4, 4]]
