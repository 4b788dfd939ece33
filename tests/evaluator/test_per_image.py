"""per_image.csv: one row per image in split order, the ground-truth class's box at each
operating point with its IoU and hit, hand-worked on the maps of test_protocol.py (a fake
predict function, no network)."""
import csv
import io

import numpy as np
import pytest

from camjax import evaluator
from tests.evaluator.test_protocol import _batches, _map


def test_rows_hand_worked_at_both_operating_points():
    top = np.array([[1, 0], [0, 1]])                 # image 1's top-1 is wrong
    batches, predict = _batches(2, _map(), [1, 1], top)
    batches[0][1].update(file_name=np.array(["a/x.png", "b/y.png"]), index=np.array([0, 1]))
    rows = evaluator.PerImage(["paper_rule", "val_threshold"], ["c0", "c1", "c2"])
    metrics, _ = evaluator.localization(
        predict, batches, num_classes=3, map_size=16,
        points={"paper_rule": 0.2, "val_threshold": 0.50}, gallery_size=0, per_image=rows)
    table = list(csv.DictReader(io.StringIO(rows.csv_text())))
    assert [r["image"] for r in table] == ["a/x.png", "b/y.png"]
    assert [(r["label"], r["label_name"], r["predicted"], r["top1_correct"]) for r in table] \
        == [("1", "c1", "1 0", "1"), ("1", "c1", "0 1", "0")]
    for r in table:
        # 0.2 of the max keeps the ring: the 12 x 12 box [2, 13], IoU 64 / 144 with [4, 11]
        assert [int(r[f"paper_rule_{c}"]) for c in ("x0", "y0", "x1", "y1")] == [2, 2, 13, 13]
        assert float(r["paper_rule_iou"]) == pytest.approx(64 / 144, abs=1e-6)
        assert r["paper_rule_hit"] == "0" and r["paper_rule_loc_top1"] == "0"
        assert [int(r[f"val_threshold_{c}"]) for c in ("x0", "y0", "x1", "y1")] == [4, 4, 11, 11]
        assert float(r["val_threshold_iou"]) == 1.0 and r["val_threshold_hit"] == "1"
    assert [r["val_threshold_loc_top1"] for r in table] == ["1", "0"]   # right class + hit
    # the rows add up to the metrics
    chosen = metrics["operating_points"]["val_threshold"]["cam"]
    assert 100 * np.mean([int(r["val_threshold_hit"]) for r in table]) == chosen["gt_known_acc"]
    assert 100 * (1 - np.mean([int(r["val_threshold_loc_top1"]) for r in table])) == \
        chosen["loc_top1_err"]


def test_rows_come_back_in_split_order_from_any_batches():
    rows = evaluator.PerImage()
    top = np.array([[0], [1]])
    rows.add(["z.png", "a.png"], [5, 2], [0, 0], top)
    rows.add(["m.png"], [3], [1], np.array([[1]]))
    table = list(csv.DictReader(io.StringIO(rows.csv_text())))
    assert [(r["index"], r["image"], r["top1_correct"]) for r in table] == [
        ("2", "a.png", "0"), ("3", "m.png", "1"), ("5", "z.png", "1")]
    assert list(table[0]) == ["image", "index", "label", "label_name", "predicted",
                              "top1_correct"]
