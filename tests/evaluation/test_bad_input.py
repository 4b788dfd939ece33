"""Metric inputs that used to be scored silently (truncated float boxes, flipped boxes,
boxes outside the map, IoU thresholds outside (0, 1], labels out of range, NaN scores,
no images at all) raise an error naming the input; valid ones give hand-worked scores."""
import numpy as np
import pytest

from camjax.errors import UserError
from camjax.evaluation import (BoxAccumulator, classification_error, gt_known_accuracy,
                               localization_error)


def _one_blob_map():
    """A 10 x 10 map that is 1 on the box x 2..5, y 3..6 and 0 elsewhere."""
    m = np.zeros((1, 10, 10))
    m[0, 3:7, 2:6] = 1.0
    return m


@pytest.mark.parametrize("box, match", [
    ([[2.0, 3.0, 5.0, 6.0]], "integer pixel boxes"),          # floats would be truncated
    ([[2.5, 3, 5, 6]], "integer pixel boxes"),
    ([[5, 3, 2, 6]], r"\[5, 3, 2, 6\] with x1 < x0"),
    ([[2, 6, 5, 3]], "y1 < y0"),
    ([[2, 3, 10, 6]], r"\[2, 3, 10, 6\] outside the 10x10 score map"),   # x1 = W
    ([[-1, 3, 5, 6]], "outside"),
])
def test_box_accumulator_rejects_boxes_it_cannot_score(box, match):
    acc = BoxAccumulator(cam_thresholds=[0.5], iou_thresholds=(0.5,))
    with pytest.raises(UserError, match=match):
        acc.update(_one_blob_map(), [np.array(box)])
    assert acc.num_images == 0


def test_box_accumulator_scores_a_box_on_the_map_edge():
    """A box reaching the last pixel (x1 = W - 1) is inside the map. wsolevaluation's box of
    a contour is (x, y, x + w, y + h) clipped to W - 1: here (6, 5, 9, 9), the box itself."""
    acc = BoxAccumulator(cam_thresholds=[0.5], iou_thresholds=(1.0,))
    m = np.zeros((1, 10, 10))
    m[0, 5:, 6:] = 1.0                                               # x 6..9, y 5..9
    acc.update(m, [np.array([[6, 5, 9, 9]], np.int32)])
    assert acc.result()["max_box_acc"] == {100: 100.0}


@pytest.mark.parametrize("thresholds", [(0.0, 0.5), (0.5, 1.5), (-0.3,), (np.nan,)])
def test_iou_thresholds_outside_0_1_are_an_error(thresholds):
    with pytest.raises(UserError, match=r"iou_thresholds must lie in \(0, 1\]"):
        BoxAccumulator(iou_thresholds=thresholds)


def test_update_boxes_rejects_flipped_and_float_ground_truth():
    acc = BoxAccumulator(cam_thresholds=[0.5], iou_thresholds=(0.5,))
    box_set = (np.array([[0, 0, 3, 3]]), np.array([0]), np.array([0]))
    with pytest.raises(UserError, match="x1 < x0"):
        acc.update_boxes(box_set, [np.array([[3, 0, 0, 3]])])
    with pytest.raises(UserError, match="integer"):
        acc.update_boxes(box_set, [np.array([[0.0, 0.0, 3.0, 3.0]])])
    acc.update_boxes(box_set, [np.array([[0, 0, 3, 3]])])
    assert acc.result()["max_box_acc"][50] == 100.0


SCORES = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])


@pytest.mark.parametrize("labels, match", [([0, 3, 1], r"\[0, 3\).*got 3"),
                                           ([0, -1, 1], "got -1"),
                                           ([0.0, 1.0, 2.0], "integer class indices")])
def test_classification_error_rejects_labels_outside_the_classes(labels, match):
    with pytest.raises(UserError, match=match):
        classification_error(SCORES, np.array(labels))


def test_classification_error_rejects_nan_scores_and_bad_k():
    scores = SCORES.copy()
    scores[2, 1] = np.nan
    with pytest.raises(UserError, match=r"scores\[2\] holds NaN"):
        classification_error(scores, np.array([1, 0, 2]))
    with pytest.raises(UserError, match=r"k must lie in \[1, 3\]"):
        classification_error(SCORES, np.array([1, 0, 2]), k=4)


def test_classification_error_of_valid_input():
    # top-1: rows predict 1, 0, 2; labels 1, 1, 2 -> one wrong of three
    assert classification_error(SCORES, np.array([1, 1, 2])) == pytest.approx(100 / 3)
    # top-2 of row 1 is {0, 1}: all right
    assert classification_error(SCORES, np.array([1, 1, 2]), k=2) == 0.0


def test_metrics_of_no_images_are_an_error_not_nan():
    with pytest.raises(UserError, match="gt_known_accuracy of no images"):
        gt_known_accuracy(np.zeros((0, 4), np.int64), [])
    with pytest.raises(UserError, match="localization_error of no images"):
        localization_error(np.zeros((0, 5), np.int64), np.zeros((0, 5, 4), np.int64),
                           np.zeros(0, np.int64), [])
    with pytest.raises(UserError, match="classification_error of no images"):
        classification_error(np.zeros((0, 3)), np.zeros(0, np.int64))
