"""experiments/wsol_methods: the verdict on Choe et al.'s finding, from hand-made per-seed
scores (a method above CAM by more than the seeds' spread, a method at chance)."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.fixture
def wsol_methods(tmp_path, monkeypatch):
    monkeypatch.setenv("CAMJAX_EXPERIMENTS_CACHE", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(EXPERIMENTS))
    for name in ("common", "protocol", "wsol_methods"):
        sys.modules.pop(name, None)
    yield importlib.import_module("wsol_methods")
    for name in ("common", "protocol", "wsol_methods"):
        sys.modules.pop(name, None)


def seed(v2, pxap, err=20.0):
    return {"MaxBoxAccV2": v2, "PxAP": pxap, "cls top-1 err": err}


def test_finding_holds_when_nothing_beats_cam_by_more_than_the_spread(wsol_methods):
    # CAM 51 +- 1; HaS 50.5 +- 0.5 (within); few-shot 70.5 +- 0.5 (above all)
    text = wsol_methods.verdict({"cam": [seed(50, 50), seed(52, 51)],
                                 "has": [seed(51, 50), seed(50, 50)],
                                 "fewshot": [seed(70, 70), seed(71, 70)]}, num_classes=12)
    assert "**holds here**" in text and "Did not train" not in text
    assert "MaxBoxAccV2: CAM 51.0; above CAM by more than the seeds' spread: none" in text


def test_a_method_above_cam_and_one_at_chance_are_named(wsol_methods):
    # HaS 56 +- 1 against CAM 51 +- 1 (5 > 1: above); ACoL's error 91.7 / 90 is within 5
    # points of chance for 12 classes (91.67%)
    text = wsol_methods.verdict({"cam": [seed(50, 50), seed(52, 51)],
                                 "has": [seed(55, 50), seed(57, 50)],
                                 "acol": [seed(1, 7, 91.7), seed(2, 8, 90.0)],
                                 "fewshot": [seed(70, 70), seed(71, 70)]}, num_classes=12)
    assert "**Did not train:** ACoL" in text and "(91.7%)" in text
    assert "Seeds that did not train" not in text
    assert "**is not shown here in full**" in text
    assert ("MaxBoxAccV2: CAM 51.0; above CAM by more than the seeds' spread: HaS (+5.0); "
            "below it: ACoL (-49.5)") in text


def test_a_diverged_training_is_not_chosen_and_a_seed_with_none_left_has_no_model(
        wsol_methods, monkeypatch):
    from camjax.training import NonFiniteLossError

    def trained(args, name_parts, **overrides):   # stands in for a training; no compile
        if overrides["spg_thresholds"] == "b":
            raise NonFiniteLossError("loss nan at step 32")
        return "config", {"val": {"max_box_acc_v2": 40.0}}, "workdir"

    monkeypatch.setattr(wsol_methods.common, "trained", trained)
    monkeypatch.setattr(wsol_methods.common, "train_seconds", lambda workdir: 90.0)
    monkeypatch.setitem(wsol_methods.GRIDS, "spg", ("spg_thresholds", ("a", "b")))
    value, metrics, *_, minutes, tried = wsol_methods.choose(None, "spg", 0)
    assert value == "a" and metrics["val"]["max_box_acc_v2"] == 40.0
    assert tried == [("a", 40.0), ("b", "diverged")] and minutes == 1.5
    value, metrics, *_, minutes, tried = wsol_methods.choose(None, "spg", 1, ("b",))
    assert value is None and metrics is None and tried == [("b", "diverged")] and minutes == 0


def test_a_method_with_one_seed_at_chance_is_named_with_the_count(wsol_methods):
    text = wsol_methods.verdict({"cam": [seed(50, 50), seed(52, 51)],
                                 "spg": [seed(50, 50, 20.0), seed(1, 8, 92.7)]}, num_classes=12)
    assert "**Seeds that did not train:** SPG (1 of 2)" in text and "Did not train:" not in text
