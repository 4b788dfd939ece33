"""wsol_max_iou (the IoUs MaxBoxAcc counts, read off the component trees) == the oracle:
the per-threshold OpenCV boxes of wsolevaluation's loop and its IoU, bit for bit."""
import numpy as np
import pytest

from camjax.boxes import wsol as wsol_module
from camjax.boxes import wsol_max_iou

from .brute import random_maps
from .oracle import multiple_iou, wsol_boxes_per_threshold


def oracle_max_iou(maps, gts, taus, multi):
    """(N, T): wsolevaluation's sliced max of calculate_multiple_iou per threshold."""
    return np.array([[multiple_iou(b, np.asarray(g, np.int64)).max()
                      for b in wsol_boxes_per_threshold(m, taus, multi)]
                     for m, g in zip(maps, gts)])


def random_gts(rng, n, H, W, most=3):
    out = []
    for _ in range(n):
        k = int(rng.integers(1, most + 1))
        xs = np.sort(rng.integers(0, W, (k, 2)), 1)
        ys = np.sort(rng.integers(0, H, (k, 2)), 1)
        out.append(np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], 1))
    return out


@pytest.mark.parametrize("multi", [False, True])
def test_random_maps_equal_oracle(multi):
    """1,000 maps of every family, 1-3 GT boxes, thresholds 0 .. 1: exactly equal."""
    rng = np.random.default_rng(20 + multi)
    for H, W in [(1, 1), (1, 9), (9, 1), (12, 12), (17, 29), (30, 21)]:
        maps = random_maps(rng, 170, H, W)
        gts = random_gts(rng, len(maps), H, W)
        taus = np.concatenate([[0.0], np.sort(rng.random(9)), [0.999, 1.0]])
        got = wsol_max_iou(maps, gts, taus, multi, workers=3)
        np.testing.assert_array_equal(got, oracle_max_iou(maps, gts, taus, multi),
                                      err_msg=f"{H}x{W}")


def test_holes_and_nested_components():
    """V2: a ring with a hole, a blob inside the hole with a hole of its own; GT boxes
    on the hole contours (the holes' boxes give IoU 1 exactly where they exist)."""
    m = np.zeros((1, 24, 24))
    m[0, 2:22, 2:22] = 0.9          # ring ...
    m[0, 5:19, 5:19] = 0.2          # ... its hole below tau * 0.9 for high tau
    m[0, 8:16, 8:16] = 0.6          # a blob inside the hole ...
    m[0, 10:14, 10:14] = 0.1        # ... with its own hole
    # hole boxes: the hole's pixels (5..18, 10..13) +- 1, then x + w (one past the
    # contour): (4, 4, 20, 20) and (9, 9, 15, 15)
    gts = [np.array([[4, 4, 20, 20], [9, 9, 15, 15]])]
    taus = np.linspace(0, 0.999, 40)
    for multi in (True, False):
        got = wsol_max_iou(m, gts, taus, multi)
        np.testing.assert_array_equal(got, oracle_max_iou(m, gts, taus, multi))
    v2 = wsol_max_iou(m, gts, taus, True)[0]
    assert (v2 == 1.0).any() and (v2 < 1.0).any()


def test_v1_ties_traced_only_where_the_iou_depends_on_them(monkeypatch):
    """Two squares of equal area (a tie OpenCV's contour order decides): traced with
    OpenCV when the GT overlaps one of them, not when both IoUs agree."""
    calls = []
    trace = wsol_module._v1_opencv
    monkeypatch.setattr(wsol_module, "_v1_opencv", lambda *a: calls.append(a) or trace(*a))
    m = np.zeros((2, 14, 22))
    m[:, 2:6, 2:6] = 1.0
    m[:, 8:12, 14:18] = 1.0
    taus = np.array([0.0, 0.5])
    near = [np.array([[2, 2, 6, 6]]), np.array([[14, 8, 18, 12]])]   # one square each
    got = wsol_max_iou(m, near, taus, False)
    np.testing.assert_array_equal(got, oracle_max_iou(m, near, taus, False))
    assert len(calls) == 4                      # two levels (1, 128) per map
    calls.clear()
    far = [np.array([[20, 0, 21, 1]])] * 2      # overlaps neither: IoU 0 either way
    got = wsol_max_iou(m, far, taus, False)
    np.testing.assert_array_equal(got, oracle_max_iou(m, far, taus, False))
    assert calls == []


def test_degenerate_maps_and_thresholds():
    """Empty, full, one pixel, a constant map; tau = 1 (no pixel above the peak):
    the (0, 0, 0, 0) box; float32 and float16 maps read as float64."""
    maps = np.zeros((4, 7, 9))
    maps[1] = 1.0
    maps[2, 3, 4] = 0.7
    maps[3] = 0.5
    gts = [np.array([[0, 0, 0, 0]]), np.array([[0, 0, 8, 6]]), np.array([[4, 3, 5, 4]]),
           np.array([[0, 0, 1, 1], [2, 2, 8, 6]])]
    taus = np.array([0.0, 0.3, 0.999, 1.0])
    for dtype in (np.float64, np.float32, np.float16):
        for multi in (False, True):
            got = wsol_max_iou(maps.astype(dtype), gts, taus, multi)
            np.testing.assert_array_equal(
                got, oracle_max_iou(maps.astype(dtype).astype(np.float64), gts, taus, multi))
    assert wsol_max_iou(maps[:1], gts[:1], taus)[0].tolist() == [1.0] * 4   # (0,0,0,0) both
    assert wsol_max_iou(np.zeros((0, 5, 5)), [], taus).shape == (0, 4)


def test_fine_thresholds_224():
    """The bench's case in small: 224x224 maps, arange(0, 1, 0.001), 2 workers."""
    from .brute import smooth
    rng = np.random.default_rng(6)
    maps = smooth(rng, 2, 224, 224, 9)
    gts = random_gts(rng, 2, 224, 224)
    taus = np.arange(0, 1, 0.001)
    for multi in (False, True):
        np.testing.assert_array_equal(wsol_max_iou(maps, gts, taus, multi, workers=2),
                                      oracle_max_iou(maps, gts, taus, multi))


def test_bad_input():
    m = np.zeros((2, 5, 5))
    gts = [np.array([[0, 0, 1, 1]])] * 2
    with pytest.raises(ValueError, match="entries"):
        wsol_max_iou(m, gts[:1], [0.5])
    with pytest.raises(ValueError, match="empty"):
        wsol_max_iou(m, [gts[0], np.zeros((0, 4), int)], [0.5])
    with pytest.raises(TypeError, match=r"gt_boxes\[1\] must hold integer"):
        wsol_max_iou(m, [gts[0], np.array([[0.5, 0, 1, 1]])], [0.5])
    for bad in (1.5, np.nan):
        x = m.copy()
        x[1, 2, 2] = bad
        with pytest.raises(ValueError, match=r"NaN|\[0, 1\]"):
            wsol_max_iou(x, gts, [0.5], workers=2)
