"""The evaluator's bookkeeping: outcomes per image, the centred baseline, per-class counts."""
import numpy as np

from camjax.evaluator.tally import Tally, image_outcomes
from camjax.geometry import centred_box


def test_centred_box_by_hand():
    # 40 x 20 box in a 112 image: x0 = (112 - 40) // 2 = 36, x1 = 36 + 40 - 1 = 75; y0 = 46, y1 = 65
    np.testing.assert_array_equal(centred_box(40, 20, 112), [36, 46, 75, 65])
    # widths round to the nearest pixel: 10.6 -> 11, (11 - 11) // 2 = 0
    np.testing.assert_array_equal(centred_box(10.6, 11, 11), [0, 0, 10, 10])


def test_image_outcomes_by_hand():
    gt = [np.array([[0, 0, 9, 9]]), np.array([[0, 0, 9, 9]])]
    good, bad = [0, 0, 9, 9], [50, 50, 60, 60]
    top = np.array([[3, 1, 2, 4, 5], [7, 3, 1, 2, 4]])
    labels = np.array([3, 3])
    # image 0: label box good, top-1 (class 3, right) box good -> all correct
    # image 1: label box bad; top-1 class 7 wrong; top-2 class 3 right with a good box
    boxes = np.array([[good, good, bad, bad, bad, bad], [bad, bad, good, bad, bad, bad]])
    out = image_outcomes(top, labels, boxes, gt)
    np.testing.assert_array_equal(out["cls_top1_wrong"], [False, True])
    np.testing.assert_array_equal(out["cls_top5_wrong"], [False, False])
    np.testing.assert_array_equal(out["loc_top1_wrong"], [False, True])
    np.testing.assert_array_equal(out["loc_top5_wrong"], [False, False])
    np.testing.assert_array_equal(out["gt_known_correct"], [True, False])


def test_tally_per_class_and_percentages():
    tally = Tally(num_classes=4, wsol=False, extremes=2)
    gt = [np.array([[0, 0, 9, 9]])] * 3
    top = np.array([[1, 0], [2, 0], [2, 1]])
    labels = np.array([1, 2, 2])
    hit, miss = [0, 0, 9, 9], [40, 40, 49, 49]
    boxes = np.array([[hit, hit, miss], [miss, hit, miss], [hit, miss, miss]])
    maps = np.zeros((3, 16, 16))
    tally.update(top, labels, boxes, gt, maps, images=np.zeros((3, 16, 16, 3), np.float32))
    out = tally.result(map_size=16)
    # gt-known: images 0 and 2 -> 2/3; loc top-1: image 0 (class right, box hit), image 1
    # (class 2 right, top-1 box hit) -> 2/3 correct -> 33.3% error
    assert abs(out["cam"]["gt_known_acc"] - 200 / 3) < 1e-9
    assert abs(out["cam"]["loc_top1_err"] - 100 / 3) < 1e-9
    by_class = {r["class"]: r for r in out["per_class"]}
    assert by_class[1] == {"class": 1, "images": 1, "gt_known_acc": 100.0, "loc_top1_acc": 100.0}
    assert by_class[2]["images"] == 2 and by_class[2]["gt_known_acc"] == 50.0
    best, worst = tally.extreme_images()
    assert [b["iou"] for b in best] == [1.0, 1.0] and worst[0]["iou"] == 0.0
