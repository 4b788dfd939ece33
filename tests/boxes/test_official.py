"""The official dt_box generator and the heuristic's 5 boxes."""
from pathlib import Path

import numpy as np
import pytest

from camjax.boxes import dt_box, heuristic_boxes, read_heatmap
from camjax.boxes._stdsort import std_sort
from camjax.boxes.official import eroded_mask, merge_rects

from .brute import edt_brute

REF = Path(__file__).parent / "fixtures"        # the official release's test vector


def test_released_vector():
    # The C++ program reads the JPEG with cvLoadImage(path, 0): libjpeg's grayscale
    # output. read_heatmap decodes it with Pillow's JPEG decoder in draft "L" mode
    # (the same luma plane); this heatmap is gray, so OpenCV's imread, Pillow's
    # convert("L") and any single RGB channel give the same array (checked below).
    heat = read_heatmap(REF / "heatmap_6.jpg")
    want = [int(v) for v in (REF / "heatmap_6.txt").read_text().split()]
    got = dt_box(heat, thresholds=(20, 100, 110))
    assert [v for r in got for v in r] == want == [41, 145, 362, 202, 102, 188, 242, 126]
    import cv2
    from PIL import Image
    np.testing.assert_array_equal(cv2.imread(str(REF / "heatmap_6.jpg"), cv2.IMREAD_GRAYSCALE),
                                  heat)
    rgb = np.asarray(Image.open(REF / "heatmap_6.jpg").convert("RGB"))
    for c in range(3):
        assert dt_box(np.ascontiguousarray(rgb[..., c]), (20, 100, 110)) == got


def test_eroded_mask_against_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(30):
        heat = (rng.random((9, 11)) * 255).astype(np.uint8)
        t = int(rng.integers(0, 200))
        binary = heat > t
        got = eroded_mask(heat, t) > 0
        if binary.all() or not binary.any():
            assert np.array_equal(got, binary)
            continue
        d = edt_brute(binary)
        scaled = np.floor(d * (255.0 / d.max()) + 0.5)
        assert np.array_equal(got, scaled > 10)


def test_merge_skips_the_element_after_an_erase():
    # sorted by area: A (100x100), B (90x90, overlaps A), C (80x80, overlaps A), D far
    A, B, C, D = (0, 0, 100, 100), (0, 0, 90, 90), (0, 0, 80, 80), (300, 300, 10, 10)
    # i = A: j = 1 is B -> erased, C moves into j = 1 and is skipped (++j), D kept.
    # i = C: nothing after overlaps. C survives only because of the skip.
    assert merge_rects([D, C, B, A]) == [A, C, D]


def test_overlap_threshold_is_truncated_half_of_larger_area():
    big, small = (0, 0, 3, 3), (0, 0, 2, 2)       # areas 9 and 4, overlap 4, t = int(4.5) = 4
    assert merge_rects([big, small]) == [big, small]      # 4 > 4 is false
    big, small = (0, 0, 3, 3), (0, 0, 3, 2)       # overlap 6 > 4
    assert merge_rects([big, small]) == [big]


# std::sort outputs of GCC 12 (libstdc++) for keys sorted with `a > b`, item = index
GCC_CASES = [
    ([3, 2, 2, 3, 2, 3, 3, 0, 0, 1, 1, 3, 3, 0, 1, 3, 0, 3, 0, 1, 3, 1, 1, 1, 2, 1, 3, 1, 1, 2,
      2, 2, 2, 3, 3, 3, 2, 2, 1, 3],
     [20, 39, 35, 34, 33, 26, 0, 17, 15, 12, 11, 3, 6, 5, 1, 37, 36, 2, 4, 32, 31, 30, 29, 24, 25,
      38, 28, 27, 10, 23, 22, 21, 19, 14, 9, 18, 7, 16, 8, 13]),
    ([1, 0, 2, 0, 2, 1, 0, 0, 1, 0, 0, 1, 2, 1, 2, 2, 2],
     [16, 2, 15, 4, 14, 12, 8, 13, 11, 0, 5, 9, 10, 7, 6, 3, 1]),
    ([1, 1, 1, 0, 1, 1, 0, 2, 0, 0, 0, 2, 2, 2, 0, 2, 1, 1, 0, 1, 2, 1, 0, 1, 0, 2, 2, 0, 1, 2,
      2, 2, 1, 0, 2, 1, 0, 0, 1, 2, 1, 1, 2, 2, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 2, 1, 1, 1,
      2, 1, 1, 1],
     [11, 43, 20, 42, 25, 26, 15, 13, 12, 39, 56, 29, 7, 30, 31, 60, 34, 49, 40, 41, 38, 35, 44,
      45, 46, 32, 50, 51, 55, 57, 58, 59, 61, 62, 63, 17, 1, 2, 4, 5, 16, 19, 21, 23, 0, 28, 36,
      22, 37, 3, 6, 8, 9, 10, 54, 53, 52, 14, 27, 33, 48, 47, 18, 24]),
    ([0] * 11 + [1] * 7 + [2] * 12 + [3] * 7 + [4] * 13,
     [49, 37, 38, 39, 40, 41, 42, 44, 45, 46, 47, 48, 43, 34, 30, 31, 32, 33, 35, 36, 25, 29, 28,
      27, 26, 24, 23, 22, 21, 20, 19, 18, 13, 11, 12, 14, 15, 16, 17, 0, 10, 9, 8, 7, 6, 5, 4, 3,
      2, 1]),
]


@pytest.mark.parametrize("keys,want", GCC_CASES)
def test_std_sort_matches_gcc(keys, want):
    items = [(k, i) for i, k in enumerate(keys)]
    std_sort(items, lambda a, b: a[0] > b[0])
    assert [i for _, i in items] == want


def test_std_sort_sorts():
    rng = np.random.default_rng(1)
    for n in (0, 1, 2, 16, 17, 100, 1000):
        items = list(rng.integers(0, 5, n))
        std_sort(items, lambda a, b: a < b)
        assert items == sorted(items)


def test_heuristic_five_boxes():
    heat = np.zeros((3, 60, 80), np.uint8)
    heat[0, 10:40, 10:50] = 255
    heat[1, 20:30, 40:70] = 200
    classes, boxes = heuristic_boxes(heat)
    assert classes == [0, 0, 1, 1, 2] and len(boxes) == 5
    # one rectangle from map 0 and map 1: repeated as the tight box; map 2 empty: fallback
    assert boxes[0] == boxes[1] and boxes[2] == boxes[3]
    assert boxes[4] == (0, 0, 75, 55)


def test_all_foreground_skips_scaling():
    heat = np.full((20, 30), 200, np.uint8)
    assert eroded_mask(heat, 100).all()
    assert dt_box(heat, (100,), border="pad") == [(0, 0, 25, 15)]   # clamped 5 px inside
    assert dt_box(heat, (100,), border="zero") == [(1, 1, 24, 14)]  # OpenCV 2.x zeroed edge


def test_bad_inputs():
    with pytest.raises(TypeError, match="uint8"):
        dt_box(np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        dt_box(np.zeros((2, 10, 10), np.uint8))
    with pytest.raises(ValueError, match="0..255"):
        dt_box(np.zeros((10, 10), np.uint8), thresholds=(300,))
    with pytest.raises(ValueError, match="border"):
        dt_box(np.zeros((10, 10), np.uint8), border="x")
