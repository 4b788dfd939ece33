"""experiments/protocol: the val-chosen threshold of any map method is the WSOL protocol's
(the best MaxBoxAcc V1 at IoU 0.5 on val), as the training job chooses it for CAMs."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from tests.boxes.oracle import largest_component_boxes_reference, wsol_boxes_per_threshold

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.fixture
def protocol(tmp_path, monkeypatch):
    monkeypatch.setenv("CAMJAX_EXPERIMENTS_CACHE", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(EXPERIMENTS))
    for name in ("common", "protocol"):
        sys.modules.pop(name, None)
    yield importlib.import_module("protocol")
    for name in ("common", "protocol"):
        sys.modules.pop(name, None)


def iou(a, b) -> float:
    """IoU of two inclusive pixel boxes (x0, y0, x1, y1): the +1 convention."""
    w = min(a[2], b[2]) - max(a[0], b[0]) + 1
    h = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(w, 0) * max(h, 0)
    area_a, area_b = ((r[2] - r[0] + 1) * (r[3] - r[1] + 1) for r in (a, b))
    return inter / (area_a + area_b - inter)


def best_v1_threshold(maps, gt, thresholds):
    """Brute force: per threshold, the images whose largest-contour box (the oracle's
    wsolevaluation rule) has IoU >= 0.5 with a GT box; the first threshold of the most."""
    correct = np.zeros(len(thresholds), np.int64)
    for scoremap, boxes in zip(maps, gt):
        for t, box in enumerate(wsol_boxes_per_threshold(scoremap, thresholds, False)):
            correct[t] += max(iou(box[0], g) for g in boxes) >= 0.5
    return float(thresholds[int(np.argmax(correct))]), correct


def test_val_threshold_of_cam_and_saliency(protocol, tiny_config, tmp_path):
    from camjax import cam, methods, training
    from camjax.data import pipeline
    common = protocol.common
    config = tiny_config
    config.unlock()
    config.num_train_steps = 6
    assert config.val_split == "val"
    workdir = tmp_path / "run"
    metrics = training.train_and_evaluate(config, workdir)
    train_src, _, val_src = common.sources(config, workdir, with_val=True)
    n = pipeline.num_classes(train_src)
    # CAM: the helper's predict function is the one the final evaluation chose with
    chosen = protocol.operating_points(metrics)["val_threshold"]["threshold"]
    assert protocol.method_threshold(config, workdir, n, "cam", val_src) == chosen

    # saliency: the same choice, brute force over the val images' own maps
    model = common.load_model(config, workdir, n)
    maps, gt = [], []
    for _, b in pipeline.eval_batches(val_src, config):
        v = b["valid"]
        s = cam.normalize(methods.saliency(model, jnp.asarray(b["image"][v]),
                                           jnp.asarray(b["label"][v])[:, None]))
        maps.extend(np.asarray(s[:, 0], np.float64))
        gt.extend(g[g[:, 0] >= 0] for g in b["boxes"][v])
    assert len(maps) == len(val_src) == 16 and maps[0].shape == (32, 32)
    thresholds = np.arange(0, 1, config.cam_curve_interval)
    expected, correct = best_v1_threshold(maps, gt, thresholds)
    assert correct.max() > correct.min()       # the choice is not a tie everywhere
    assert protocol.method_threshold(config, workdir, n, "saliency", val_src) == \
        pytest.approx(expected)
    # rule_scores: the paper rule at that threshold, against the oracle's boxes
    right1 = np.arange(16) % 2 == 0
    got = protocol.rule_scores(np.stack([maps, maps], 1), gt, right1, expected)
    ref = largest_component_boxes_reference(np.stack(maps), threshold=expected)
    hit = np.array([max(iou(r, g) for g in boxes) >= 0.5 for r, boxes in zip(ref, gt)])
    assert got["gt_known"] == pytest.approx(100 * hit.mean())
    assert got["loc1"] == pytest.approx(100 * (hit & right1).mean())
