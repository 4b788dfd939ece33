"""Hand-worked checks of iou.py and metrics.py (the paper's metrics). Arithmetic in comments.

Boxes are inclusive (x0, y0, x1, y1): a box's area is (x1 - x0 + 1) * (y1 - y0 + 1).
"""
import numpy as np
import pytest

from camjax.evaluation import (box_hits, classification_error, gt_known_accuracy, iou,
                               localization_error, rescale_boxes)


# ------------------------------------------------------------------------------ iou
@pytest.mark.parametrize("a, b, expected", [
    # identical 10x10 boxes
    ((0, 0, 9, 9), (0, 0, 9, 9), 1.0),
    # areas 100 and 100, overlap x 5..9, y 5..9 = 5 * 5 = 25; union 100 + 100 - 25 = 175
    ((0, 0, 9, 9), (5, 5, 14, 14), 25 / 175),
    # sharing one column (x = 4): inter 1 * 5 = 5, union 25 + 25 - 5 = 45 (+1 convention)
    ((0, 0, 4, 4), (4, 0, 8, 4), 5 / 45),
    # adjacent but disjoint: x 0..4 and 5..9 do not overlap
    ((0, 0, 4, 4), (5, 0, 9, 4), 0.0),
    # single-pixel boxes: area 1 each; equal -> 1, different -> 0
    ((3, 3, 3, 3), (3, 3, 3, 3), 1.0),
    ((3, 3, 3, 3), (0, 0, 0, 0), 0.0),
    # the (0, 0, 0, 0) no-contour box is the pixel (0, 0): inter 1, union 1 + 100 - 1 = 100
    ((0, 0, 0, 0), (0, 0, 9, 9), 0.01),
    # containment: 2x2 inside 4x4: inter 4, union 16 -> 0.25
    ((1, 1, 2, 2), (0, 0, 3, 3), 0.25),
    # degenerate x1 < x0: intersection width min(3, 9) - max(5, 0) + 1 = -1 -> 0, so IoU 0
    ((5, 5, 3, 3), (0, 0, 9, 9), 0.0),
    # zero-width box against itself: area (4 - 5 + 1) * 5 = 0, union 0 -> IoU 0, not NaN
    ((5, 5, 4, 9), (5, 5, 4, 9), 0.0),
])
def test_iou_hand_worked(a, b, expected):
    assert iou(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected, abs=1e-12)
    # symmetric
    assert iou(np.array([b]), np.array([a]))[0, 0] == pytest.approx(expected, abs=1e-12)


def test_iou_matrix_shape_and_1d_input():
    a = np.array([[0, 0, 9, 9], [0, 0, 4, 4]])
    b = np.array([[0, 0, 9, 9], [5, 5, 14, 14], [100, 100, 101, 101]])
    m = iou(a, b)
    assert m.shape == (2, 3)
    # row 1: (0,0,4,4) area 25 inside (0,0,9,9) -> 25/100; vs (5,5,14,14): x 5..4 empty -> 0
    np.testing.assert_allclose(m, [[1.0, 25 / 175, 0.0], [0.25, 0.0, 0.0]])
    assert iou([0, 0, 9, 9], [0, 0, 9, 9]).shape == (1, 1)


def test_iou_refuses_wrong_shape():
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        iou(np.zeros((2, 3)), np.zeros((1, 4)))


def test_rescale_boxes_wsolevaluation_rule():
    # ILSVRC2012_val_00000001: 500 x 375 (W x H), box (111, 108, 441, 193) to 224 x 224:
    # x0 = int(111 * 224 / 500) = int(49.728) = 49; y0 = int(108 * 224 / 375) = int(64.512) = 64
    # x1 = int(441 * 224 / 500) = int(197.568) = 197; y1 = int(193 * 224 / 375) = int(115.285) = 115
    out = rescale_boxes([[111, 108, 441, 193]], old_size=(375, 500), new_size=(224, 224))
    np.testing.assert_array_equal(out, [[49, 64, 197, 115]])
    # exact products stay exact: 250 * 224 / 500 = 112
    np.testing.assert_array_equal(rescale_boxes([[250, 0, 250, 0]], (375, 500), (224, 224)),
                                  [[112, 0, 112, 0]])


# ------------------------------------------------------------------ classification
def test_classification_error_top1_top2_and_ties():
    scores = np.array([[0.1, 0.7, 0.2, 0.0],    # label 1: top-1 is 1 -> correct
                       [0.5, 0.5, 0.1, 0.0],    # label 1: tie 0/1, stable order puts 0 first
                       [0.4, 0.3, 0.2, 0.1]])   # label 3: last -> wrong at k = 1, 2
    labels = np.array([1, 1, 3])
    # k = 1: image 0 correct, image 1 wrong (tie goes to class 0), image 2 wrong -> 2/3
    assert classification_error(scores, labels, k=1) == pytest.approx(200 / 3)
    # k = 2: image 1 now correct (classes 0, 1), image 2 still wrong -> 1/3
    assert classification_error(scores, labels, k=2) == pytest.approx(100 / 3)
    # k = 4: every label is in the top 4 -> 0
    assert classification_error(scores, labels, k=4) == 0.0


# ------------------------------------------------------------------- localization
GT = [np.array([[0, 0, 9, 9], [20, 20, 29, 29]]),   # image 0: two ground-truth boxes
      np.array([[0, 0, 9, 9]])]                     # image 1: one


def test_localization_error_multiple_gt_boxes_and_top_k():
    pred_classes = np.array([[3, 1], [2, 0]])
    gt_labels = np.array([1, 0])
    pred_boxes = np.array([
        [[0, 0, 9, 9], [20, 20, 29, 29]],   # image 0: guess 0 wrong class (perfect box),
                                            # guess 1 right class, box = 2nd GT box (IoU 1)
        [[0, 0, 9, 9], [0, 0, 4, 8]],       # image 1: guess 1 right class, box area 5*9 = 45
    ])                                      # inside the GT (100): IoU 45/100 = 0.45 < 0.5
    # k = 1: image 0 guess 0 has the wrong class; image 1 guess 0 too -> 2 of 2 wrong
    assert localization_error(pred_classes, pred_boxes, gt_labels, GT, k=1) == 100.0
    # k = 2: image 0 right via its 2nd GT box; image 1 IoU 0.45 -> 1 of 2 wrong
    assert localization_error(pred_classes, pred_boxes, gt_labels, GT, k=2) == 50.0


def test_localization_error_iou_tie_at_half_counts():
    # box (0,0,4,9): area 5*10 = 50 inside GT (0,0,9,9) of area 100 -> IoU exactly 0.5 >= 0.5
    pred_boxes = np.array([[[0, 0, 4, 9]]])
    assert localization_error([[7]], pred_boxes, [7], [GT[1]], k=1) == 0.0
    # one pixel less: (0,0,4,8) -> 45/100 < 0.5 -> wrong
    assert localization_error([[7]], np.array([[[0, 0, 4, 8]]]), [7], [GT[1]], k=1) == 100.0


def test_localization_error_heuristic_several_boxes_per_guess():
    # (N=1, k=2, m=2, 4): guess 0 has the right class; its 1st box misses, its 2nd hits
    pred = np.array([[[[50, 50, 59, 59], [0, 0, 9, 9]],
                      [[0, 0, 9, 9], [0, 0, 9, 9]]]])
    assert localization_error([[4, 5]], pred, [4], [GT[1]], k=1) == 0.0
    # both boxes of guess 0 miss; guess 1 hits but has class 5 != 4 -> wrong at k = 2
    pred[0, 0, 1] = [60, 60, 69, 69]
    assert localization_error([[4, 5]], pred, [4], [GT[1]], k=2) == 100.0
    hits = box_hits(pred, [GT[1]])
    np.testing.assert_array_equal(hits, [[False, True]])


def test_localization_error_empty_predictions_and_no_contour_box():
    # m = 0 boxes per guess: nothing can hit -> every image wrong, no crash
    assert localization_error([[0, 1]], np.zeros((1, 2, 0, 4), int), [0], [GT[1]], k=2) == 100.0
    # the no-contour box (0,0,0,0) against GT (0,0,9,9): IoU 1/100 -> wrong
    assert localization_error([[0]], np.zeros((1, 1, 4), int), [0], [GT[1]], k=1) == 100.0
    # ... but against a one-pixel GT at the origin it is a perfect hit (IoU 1)
    assert localization_error([[0]], np.zeros((1, 1, 4), int), [0],
                              [np.array([[0, 0, 0, 0]])], k=1) == 0.0


def test_localization_error_degenerate_predicted_box_misses():
    # x1 < x0: intersection 0 whatever the GT -> wrong
    assert localization_error([[0]], np.array([[[9, 9, 0, 0]]]), [0], [GT[1]], k=1) == 100.0


def test_localization_error_input_checks():
    with pytest.raises(ValueError, match="pred_classes"):
        localization_error([[0, 1]], np.zeros((1, 2, 4)), [0], [GT[1]], k=3)
    with pytest.raises(ValueError, match="pred_boxes"):      # 3 classes but 2 box guesses
        localization_error([[0, 1, 2]], np.zeros((1, 2, 4)), [0], [GT[1]], k=3)
    with pytest.raises(ValueError, match="labels"):
        localization_error([[0]], np.zeros((1, 1, 4)), [0, 1], [GT[1]], k=1)
    with pytest.raises(ValueError, match="empty"):
        localization_error([[0]], np.zeros((1, 1, 4)), [0], [np.zeros((0, 4))], k=1)
    with pytest.raises(ValueError, match="entries"):
        localization_error([[0]], np.zeros((1, 1, 4)), [0], GT, k=1)


def test_gt_known_accuracy():
    gts = [GT[1]] * 3
    # IoU 1 (hit), (0,0,4,9): 50/100 = 0.5 (hit, tie), (0,0,4,8): 45/100 (miss) -> 2/3
    boxes = np.array([[0, 0, 9, 9], [0, 0, 4, 9], [0, 0, 4, 8]])
    assert gt_known_accuracy(boxes, gts) == pytest.approx(200 / 3)
    # several boxes per image (N, m, 4): any hit counts
    boxes_m = np.array([[[50, 50, 60, 60], [0, 0, 9, 9]]])
    assert gt_known_accuracy(boxes_m, [GT[1]]) == 100.0
    # image 0 of GT has two boxes: a box on the 2nd one is a hit
    assert gt_known_accuracy(np.array([[20, 20, 29, 29]]), [GT[0]]) == 100.0
    # a looser threshold: 0.45 >= 0.4
    assert gt_known_accuracy(boxes, gts, iou_threshold=0.4) == 100.0
