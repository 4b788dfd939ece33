"""A two-step training run end to end, and the CLI's errors."""
import json

import numpy as np
import pytest

from camjax import cli, training
from tests.conftest import DEMO, run_cli


def test_two_steps_write_a_checkpoint_metrics_and_a_report(tiny_config, tmp_path):
    metrics = training.train_and_evaluate(tiny_config, tmp_path)
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [1, 2]
    for x in lines:
        assert np.isfinite(x["loss"]) and x["learning_rate"] > 0
    steps = sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
    assert steps == ["1", "2"]
    assert metrics["cam"]["num_images"] == 32 and metrics["step"] == 2
    assert 0 <= metrics["cam"]["gt_known_acc"] <= 100
    report = (tmp_path / "eval" / "report.md").read_text()
    assert report.count("| GT-known accuracy, paper rule (20% of the max) |") == 1
    assert (tmp_path / "eval" / "gallery.png").stat().st_size > 1000
    for png in ("threshold_curves.png", "best_worst.png"):
        assert (tmp_path / "eval" / png).stat().st_size > 1000
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["wsol_v2"]["num_images"] == 32 and 0 <= saved["pxap"] <= 100
    assert len(saved["wsol_v2"]["curves"]["50"]) == 100
    assert sum(r["images"] for r in saved["per_class"]) == 32
    # the WSOL protocol: the threshold of val's best MaxBoxAcc (V1), applied to test
    assert saved["val"]["split"] == "val" and saved["val"]["num_images"] == 16
    points = saved["operating_points"]
    assert points["paper_rule"]["threshold"] == 0.2
    assert points["val_threshold"]["threshold"] == saved["val"]["best_threshold"]
    assert points["paper_rule"]["cam"]["gt_known_acc"] == saved["cam"]["gt_known_acc"]
    assert set(points["val_threshold"]["cam"]) == {"gt_known_acc", "loc_top1_err", "loc_top5_err"}
    assert set(saved["centre_gaussian"]) == {"wsol_v2", "wsol_v1", "pxap"}
    # evaluate restores the same weights: same numbers
    again = training.evaluate_workdir(tiny_config, tmp_path)
    assert again["cam"] == metrics["cam"]
    # without --config: the run's saved config, overridden; the report names the split
    assert cli.main(["evaluate", "--workdir", str(tmp_path), "--config.eval_split=train"]) == 0
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert (saved["dataset"], saved["split"]) == ("camjax_shapes/tiny", "train")
    assert saved["cam"]["num_images"] == 64
    assert "camjax_shapes/tiny / train" in (tmp_path / "eval" / "report.md").read_text()


def intensity_fn(graphdef, state, images, classes):
    """A control map that ignores the network: the image's mean over channels."""
    import jax.numpy as jnp
    return jnp.broadcast_to(images.mean(axis=-1)[:, None], (images.shape[0], classes.shape[1],
                                                             *images.shape[1:3]))


def test_evaluate_several_methods_and_metrics_in_one_run(tiny_config, tmp_path, monkeypatch):
    """--config.cam_method=a,b,c scores every method on the same images in one run, with
    the metrics of --config.metrics: the first method's numbers at the top (its PxAP equals
    one computed here from camjax.methods.grad_cam's maps), CAM's equal to the default
    evaluation's, a methods-by-metrics table in the report, and the sanity checks: CAM's
    rank correlation falls as the layers are randomised, the intensity control's stays at
    1 and it fails visibly."""
    import jax
    from flax import nnx

    from camjax import cam, methods
    from camjax.data import pipeline
    from camjax.evaluation import pxap
    monkeypatch.setitem(methods.registry.REGISTRY, "intensity",
                        methods.registry.Method("intensity", intensity_fn, "image"))
    monkeypatch.setitem(methods.METHODS, "intensity", intensity_fn)
    monkeypatch.setitem(methods.PURE_METHODS, "intensity", intensity_fn)
    tiny_config.num_train_steps = 30                   # a few dozen steps: CAMs with a shape
    tiny_config.checkpoint_every_steps = tiny_config.log_every_steps = 30
    default = training.train_and_evaluate(tiny_config, tmp_path)
    assert cli.main(["evaluate", "--workdir", str(tmp_path),
                     "--config.cam_method=grad_cam,cam,intensity",
                     "--config.metrics=wsol,road,pointing,complexity,sanity",
                     "--config.faithfulness=True", "--config.faithfulness_steps=4",
                     "--config.road_percentiles=(20, 50, 80)", "--config.sanity_images=4"]) == 0
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["cam_method"] == "grad_cam,cam,intensity"
    assert list(saved["methods"]) == ["grad_cam", "cam", "intensity"]
    f = saved["faithfulness"]
    assert f["num_images"] == 32 and 0 <= f["deletion_auc"] <= 1 and 0 <= f["insertion_auc"] <= 1
    assert len(f["deletion_curve"]) == 5 and 0 <= f["average_drop"] <= 100
    assert (tmp_path / "eval" / "faithfulness.png").stat().st_size > 1000
    # CAM's lane gives the default evaluation's numbers exactly
    by_cam = saved["methods"]["cam"]
    for key in ("cam", "wsol_v2", "wsol_v1", "pxap", "operating_points", "val"):
        assert by_cam[key] == json.loads(json.dumps(default[key])), key
    for m in saved["methods"].values():
        assert m["road"]["num_images"] == m["pointing"]["num_images"] == 32
        assert 0 <= m["pointing"]["energy_pointing_game"] <= 100
        assert len(m["road"]["morf_curve"]) == 3 and m["complexity"]["num_images"] == 32
    layers = saved["methods"]["cam"]["sanity"]["layers"]
    assert layers[0] == "head.classifier" and layers[-1] == "backbone.0.conv"
    cam_sanity, control = (saved["methods"][m]["sanity"] for m in ("cam", "intensity"))
    assert cam_sanity["num_images"] == 4 and cam_sanity["passed"]
    assert cam_sanity["cascading"]["spearman"][-1] < 0.5
    assert max(cam_sanity["independent"]["spearman"]) < 1.0
    assert control["cascading"]["spearman"] == [1.0] * len(layers) and not control["passed"]
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "maps by grad_cam, cam, intensity" in report
    assert "| metric (better) | grad_cam | cam | intensity |" in report
    assert "**intensity: FAILS the sanity check**" in report and " 1.00 **FAIL** |" in report
    assert (tmp_path / "eval" / "sanity.png").stat().st_size > 1000

    graphdef, state, _ = training.restore_for_inference(tiny_config, tmp_path, 12)
    model = nnx.merge(graphdef, jax.device_get(state.params), jax.device_get(state.rest))
    src = pipeline.source(tiny_config.dataset, "test", tiny_config.data_dir)
    maps, masks = [], []
    for _, b in pipeline.eval_batches(src, tiny_config):
        v = b["valid"]
        m = methods.grad_cam(model, b["image"], b["label"][:, None])
        maps.append(np.asarray(cam.normalize(cam.upsample(m, (32, 32))))[v, 0])
        masks.append(b["mask"][v])
    # the job's maps of [label, top-1..5] and these of [label] agree to float rounding; a
    # pixel at a histogram edge may move one bin, hence not 1e-6
    assert saved["pxap"] == pytest.approx(pxap(np.concatenate(maps), np.concatenate(masks)),
                                          abs=0.01)


def test_cli_missing_config_file_is_one_line_exit_2(tmp_path):
    out = run_cli("train", "--config", str(tmp_path / "nope.py"), "--workdir", str(tmp_path))
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "config file not found" in out.stderr


def test_cli_unknown_config_key_is_one_line_exit_2(tmp_path):
    out = run_cli("train", "--config", str(DEMO), "--workdir", str(tmp_path),
                  "--config.batch_sise=4")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "unknown config key 'batch_sise'" in out.stderr


def test_cli_wrong_type_for_a_key_is_exit_2(tmp_path):
    out = run_cli("train", "--config", str(DEMO), "--workdir", str(tmp_path),
                  "--config.batch_size=big")
    assert out.returncode == 2 and "expects int" in out.stderr
