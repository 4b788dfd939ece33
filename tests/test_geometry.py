"""TFDS normalised boxes <-> camjax inclusive pixel boxes, at the dataset boundary."""
import itertools

import numpy as np
import pytest

from camjax.geometry import pixel_to_tfds_boxes, tfds_to_pixel_boxes


@pytest.mark.parametrize("bbox, h, w, expected", [
    # a quarter-to-three-quarter box of a 112x112 image: rows 28..83, columns 56..111
    ((0.25, 0.5, 0.75, 1.0), 112, 112, (56, 28, 111, 83)),
    # the whole image
    ((0.0, 0.0, 1.0, 1.0), 4, 8, (0, 0, 7, 3)),
    # one pixel: row 1, column 2 of a 4x8 image
    ((0.25, 0.25, 0.5, 0.375), 4, 8, (2, 1, 2, 1)),
    # CUB-style (x, y, width, height) = (10, 20, 30, 40) in a 100x200 (H x W) image:
    # xmin = 10/200, xmax = (10+30)/200 -> columns 10..39, rows 20..59
    ((20 / 100, 10 / 200, 60 / 100, 40 / 200), 100, 200, (10, 20, 39, 59)),
])
def test_hand_worked_values(bbox, h, w, expected):
    out = tfds_to_pixel_boxes(np.array(bbox), h, w)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, expected)


def test_inverse_hand_worked():
    out = pixel_to_tfds_boxes(np.array([56, 28, 111, 83]), 112, 112)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [0.25, 0.5, 0.75, 1.0], atol=1e-7)
    np.testing.assert_allclose(pixel_to_tfds_boxes([0, 0, 0, 0], 4, 8, dtype=np.float64),
                               [0.0, 0.0, 0.25, 0.125])


@pytest.mark.parametrize("h, w", [(5, 7), (1, 1), (6, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_round_trip_for_every_box(h, w, dtype):
    xs = [(a, b) for a, b in itertools.combinations_with_replacement(range(w), 2)]
    ys = [(a, b) for a, b in itertools.combinations_with_replacement(range(h), 2)]
    boxes = np.array([(x0, y0, x1, y1) for (x0, x1) in xs for (y0, y1) in ys], np.int64)
    assert len(boxes) == (w * (w + 1) // 2) * (h * (h + 1) // 2)
    norm = pixel_to_tfds_boxes(boxes, h, w, dtype=dtype)
    assert norm.dtype == dtype and norm.shape == boxes.shape
    assert norm.min() >= 0 and norm.max() <= 1
    np.testing.assert_array_equal(tfds_to_pixel_boxes(norm, h, w), boxes)


def test_round_trip_from_the_normalised_side():
    # every edge value k / W maps back to itself
    w = h = 112
    k = np.arange(w + 1)
    lo, hi = np.meshgrid(k, k, indexing="ij")
    keep = hi > lo
    b = np.stack([lo[keep] / h, lo[keep] / w, hi[keep] / h, hi[keep] / w], -1).astype(np.float32)
    back = pixel_to_tfds_boxes(tfds_to_pixel_boxes(b, h, w), h, w)
    np.testing.assert_array_equal(back, b)


def test_batch_dimensions_are_kept():
    rng = np.random.default_rng(0)
    x0 = rng.integers(0, 10, (2, 3))
    y0 = rng.integers(0, 5, (2, 3))
    boxes = np.stack([x0, y0, x0 + rng.integers(0, 5, (2, 3)), y0 + 3], -1)
    norm = pixel_to_tfds_boxes(boxes, 10, 15)
    assert norm.shape == (2, 3, 4)
    np.testing.assert_array_equal(tfds_to_pixel_boxes(norm, 10, 15), boxes)
    assert tfds_to_pixel_boxes(np.zeros((0, 4)), 10, 15).shape == (0, 4)


def test_edges_and_rounding():
    # half-way edges round up: 2.5 -> 3 for x0, 5.5 -> 6 -> x1 = 5
    np.testing.assert_array_equal(tfds_to_pixel_boxes([0.0, 0.25, 1.0, 0.55], 4, 10), [3, 0, 5, 3])
    # a degenerate (zero-size) box keeps one pixel
    np.testing.assert_array_equal(tfds_to_pixel_boxes([0.5, 0.5, 0.5, 0.5], 4, 8), [4, 2, 4, 2])
    # a zero-size box on the far edge stays inside the image
    np.testing.assert_array_equal(tfds_to_pixel_boxes([1.0, 1.0, 1.0, 1.0], 4, 8), [7, 3, 7, 3])
    np.testing.assert_array_equal(tfds_to_pixel_boxes([0.0, 0.0, 0.0, 0.0], 4, 8), [0, 0, 0, 0])
    # values within half a pixel of an edge snap to it
    np.testing.assert_array_equal(
        tfds_to_pixel_boxes([0.01, 0.01, 0.99, 0.99], 10, 10), [0, 0, 9, 9])


@pytest.mark.parametrize("bad, match", [
    (np.zeros(3), r"\(\.\.\., 4\)"),
    (np.zeros((2, 5)), r"\(\.\.\., 4\)"),
    (np.array([-0.1, 0, 0.5, 0.5]), r"\[0, 1\]"),
    (np.array([0, 0, 1.1, 0.5]), r"\[0, 1\]"),
    (np.array([0, 0, np.nan, 0.5]), r"\[0, 1\]"),
    (np.array([0, 0, 50, 60]), r"pixel boxes\?"),
    (np.array([0.6, 0.1, 0.5, 0.2]), "ymax >= ymin"),
    (np.array([0.1, 0.6, 0.5, 0.2]), "xmax >= xmin"),
])
def test_tfds_to_pixel_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        tfds_to_pixel_boxes(bad, 10, 10)


@pytest.mark.parametrize("bad, match", [
    (np.array([0, 0, 1]), r"\(\.\.\., 4\)"),
    (np.array([3, 0, 2, 1]), "x1 >= x0"),
    (np.array([0, 3, 2, 1]), "y1 >= y0"),
    (np.array([0, 0, 10, 1]), "inside the 10x10 image"),
    (np.array([-1, 0, 2, 1]), "inside the 10x10 image"),
    (np.array([0.0, 0.0, 0.5, 0.5]), "integer"),
])
def test_pixel_to_tfds_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        pixel_to_tfds_boxes(bad, 10, 10)


def test_integral_floats_are_accepted_and_bad_sizes_rejected():
    np.testing.assert_allclose(pixel_to_tfds_boxes(np.array([0.0, 0.0, 4.0, 1.0]), 2, 5),
                               [0, 0, 1, 1])
    with pytest.raises(ValueError, match="positive integers"):
        tfds_to_pixel_boxes([0, 0, 1, 1], 0, 5)
    with pytest.raises(ValueError, match="positive integers"):
        pixel_to_tfds_boxes([0, 0, 1, 1], 5, 2.5)
