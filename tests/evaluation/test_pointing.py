"""Pointing game and energy pointing game: hand-worked cases and TorchRay's acceptance disc
transcribed."""
import numpy as np
import pytest

from camjax.evaluation import PointingAccumulator, energy_proportions, pointing_hits
from camjax.evaluation.pointing import box_regions, max_points


def peak_map(y, x, shape=(10, 10)):
    m = np.zeros(shape, np.float32)
    m[y, x] = 1.0
    return m


def test_pointing_hits_by_hand_with_the_strict_tolerance():
    box = [np.array([[5, 2, 7, 4]])]                 # x0, y0, x1, y1: columns 5..7, rows 2..4
    m = peak_map(2, 3)[None]                         # nearest object pixel (2, 5): distance 2
    assert pointing_hits(m, box, tolerance=3)[0]     # 4 < 9
    assert not pointing_hits(m, box, tolerance=2)[0]   # 4 < 4 is false (TorchRay's strict <)
    assert pointing_hits(peak_map(3, 6)[None], box, tolerance=0.5)[0]    # inside
    # the first maximum in row-major order: (0, 9) before (4, 6)
    m = peak_map(4, 6)
    m[0, 9] = 1.0
    np.testing.assert_array_equal(max_points(m[None]), [[0, 9]])
    assert not pointing_hits(m[None], box, tolerance=2)[0]


def test_masks_with_ignored_pixels():
    mask = np.zeros((1, 10, 10), np.uint8)
    mask[0, 6:9, 6:9] = 1
    mask[0, 2, 2:5] = 255                            # ignore next to the peak
    m = peak_map(2, 3)[None]
    assert not pointing_hits(m, mask, tolerance=3)[0]
    assert pointing_hits(m, mask, tolerance=6)[0]    # (6, 6): 16 + 9 = 25 < 36


def torchray_hit(mask, point, tolerance):
    """TorchRay's PointingGame.evaluate (mask bool (H, W), point (u, v) = (x, y))."""
    v = (np.arange(mask.shape[0], dtype=np.float32) - point[1]) ** 2
    u = (np.arange(mask.shape[1], dtype=np.float32) - point[0]) ** 2
    accept = (v[:, None] + u[None, :]) < tolerance ** 2
    return bool((mask & accept).any())


def test_random_cases_agree_with_torchrays_rule():
    rng = np.random.default_rng(0)
    maps = rng.random((40, 24, 20)).astype(np.float32)
    boxes = []
    for _ in range(40):
        x0, y0 = rng.integers(0, 15), rng.integers(0, 18)
        boxes.append(np.array([[x0, y0, x0 + rng.integers(0, 5), y0 + rng.integers(0, 6)]]))
    ours = pointing_hits(maps, boxes, tolerance=5)
    regions = box_regions(boxes, (24, 20)).astype(bool)
    flat = maps.reshape(40, -1).argmax(axis=1)
    want = [torchray_hit(r, (f % 20, f // 20), 5) for r, f in zip(regions, flat)]
    np.testing.assert_array_equal(ours, want)
    assert 0 < ours.sum() < 40


def test_energy_proportions_by_hand():
    m = np.zeros((2, 4, 4), np.float32)
    m[0, 0:2, 0:2] = 1.0                           # 4 units in the box
    m[0, 3, 0:3] = 1.0                             # 3 outside
    box = [np.array([[0, 0, 1, 1]]), np.array([[0, 0, 3, 3]])]
    np.testing.assert_allclose(energy_proportions(m, box), [4 / 7, 0.0])   # no energy: 0
    mask = np.zeros((1, 4, 4), np.uint8)
    mask[0, 0:2, 0:2] = 1
    mask[0, 3, 0] = 255                            # one outside unit ignored: 4 / 6
    np.testing.assert_allclose(energy_proportions(m[:1], mask), [4 / 6])
    with pytest.raises(ValueError, match="non-negative"):
        energy_proportions(m - 1, box)


def test_accumulator_averages_over_classes_and_merges():
    box = np.array([[0, 0, 2, 2]])
    maps = np.stack([peak_map(1, 1), peak_map(9, 9), peak_map(0, 0)])
    classes = np.array([0, 0, 1])
    a, b = PointingAccumulator(3, tolerance=1), PointingAccumulator(3, tolerance=1)
    a.update(maps[:2], [box, box], classes[:2])
    b.update(maps[2:], [box], classes[2:])
    r = a.merge(b).result()
    # class 0: 1 hit of 2; class 1: 1 of 1 -> mean 75%; all images 2 / 3
    assert r["pointing_game"] == pytest.approx(75.0)
    assert r["pointing_hit_rate"] == pytest.approx(200 / 3)
    assert r["energy_pointing_game"] == pytest.approx(200 / 3)      # 1, 0, 1
    moved = PointingAccumulator(3, tolerance=1)
    moved.set_state(a.get_state())
    assert moved.result() == r
    with pytest.raises(ValueError, match="tolerances"):
        PointingAccumulator(3, tolerance=2).merge(a)
