"""The job's scorers and lanes with fake predict functions (no network): every lane sees
the same images, each scorer the map it should score, and the report's table of methods
against metrics shows a method that fails the sanity check."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from camjax import evaluator
from camjax.evaluation import ComplexityAccumulator, PointingAccumulator, ROADAccumulator
from camjax.evaluator.job import Lane
from camjax.evaluator.sanity import Sanity
from camjax.evaluator.scorers import ROAD, Complexity, Pointing

SIZE = 12
GT = np.array([3, 3, 8, 8])


@jax.jit
def score_fn(x):
    s = x.mean(axis=(1, 2, 3))
    return jnp.stack([jax.nn.sigmoid(s), 1 - jax.nn.sigmoid(s), 0 * s], axis=1)


def batches():
    """Two local batches of 3 rows; the last row of the second is padding."""
    rng = np.random.default_rng(0)
    out = []
    for step, valid in enumerate(([True] * 3, [True, True, False])):
        boxes = np.full((3, 2, 4), -1, np.int64)
        boxes[:, 0] = GT
        out.append((step, {"image": rng.normal(size=(3, SIZE, SIZE, 3)).astype(np.float32),
                           "label": np.array([0, 1, 2]), "valid": np.array(valid),
                           "boxes": boxes}))
    return out


def fake_predict(seed):
    """Maps of [label, top-1, top-2] that depend on the images (and on ``seed``)."""
    def predict(images, labels, states=None):
        rng = np.random.default_rng(seed + int(1000 * abs(images[0, 0, 0, 0])))
        maps = rng.random((len(images), 3, SIZE, SIZE)).astype(np.float32)
        maps[:, :, 4:7, 4:7] += 2 + seed                  # a peak inside the box
        maps /= maps.max(axis=(2, 3), keepdims=True)
        top = np.tile([[1, 0]], (len(images), 1))
        return np.zeros((len(images), 3)), top, maps
    return predict


def sanity(predict, changes: bool):
    def maps_fn(images, labels, variant):
        maps = predict(images, labels)[2][:, 0]
        if variant is None or not changes:
            return maps
        return np.random.default_rng(variant[1]).random(maps.shape)
    return Sanity(maps_fn, ["fc", "conv"], num_images=4)


def test_lanes_see_the_same_images_and_scorers_their_maps(tmp_path):
    lanes = {}
    for name, seed, changes in (("method", 1, True), ("control", 2, False)):
        predict = fake_predict(seed)
        lanes[name] = Lane(predict, scorers=[
            Pointing(3, tolerance=1), Complexity(), sanity(predict, changes),
            ROAD(score_fn, percentiles=(30, 70), noise=0.0)])
    out = evaluator.compare(lanes, batches(), num_classes=3, map_size=SIZE, gallery_size=0)
    # the same scores, recomputed here from the predict functions over the valid rows
    for name, seed in (("method", 1), ("control", 2)):
        metrics = out[name][0]
        pointing, cx = PointingAccumulator(3, tolerance=1), ComplexityAccumulator()
        road = ROADAccumulator(score_fn, percentiles=(30, 70), noise=0.0)
        for _, b in batches():
            v = b["valid"]
            _, top, maps = fake_predict(seed)(b["image"], b["label"])
            pointing.update(maps[v, 0], [GT[None]] * int(v.sum()), b["label"][v])
            cx.update(maps[v, 1])
            road.update(b["image"][v], maps[v, 1], top[v, 0])
        assert metrics["pointing"] == pointing.result()
        assert metrics["complexity"] == pytest.approx(cx.result())
        assert metrics["road"]["road_combined"] == pytest.approx(road.result()["road_combined"])
        assert metrics["cam"]["num_images"] == metrics["road"]["num_images"] == 5
        assert metrics["sanity"]["num_images"] == 4      # 3 + the first of the second batch
        single, _ = evaluator.localization(fake_predict(seed), batches(), num_classes=3,
                                           map_size=SIZE, gallery_size=0)
        assert single["wsol_v2"] == metrics["wsol_v2"] and single["cam"] == metrics["cam"]
    assert out["method"][0]["sanity"]["passed"]
    control = out["control"][0]["sanity"]
    assert control["cascading"]["spearman"] == [1.0, 1.0] and not control["passed"]

    metrics = {**out["method"][0], "cam_method": "method,control", "step": 0,
               "methods": {k: v[0] for k, v in out.items()}}
    evaluator.write(tmp_path, metrics, out["method"][1], title="t", class_names="abc")
    report = (tmp_path / "report.md").read_text()
    assert "| metric (better) | method | control |" in report
    row = next(x for x in report.splitlines() if x.startswith("| sanity: rank correlation"))
    assert row.endswith("pass | 1.00 **FAIL** |")
    assert "**control: FAILS the sanity check**" in report
    assert "| pointing game (%) (higher) |" in report
    assert (tmp_path / "sanity.png").stat().st_size > 1000
