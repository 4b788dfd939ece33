"""A run on a user's class folders as the README trains one: two classes, ``train/`` and
``val/`` only, an unreadable image. The default top_k fits the two classes, the run is
evaluated on ``val`` and says so, the report shows the maps without ImageNet's words or a
trivial top-5, ``--config.skip_bad_images=True`` trains on (the skipped file counted in
metrics.jsonl and the report), and a resumed run says what it rewrites in config.json."""
from __future__ import annotations

import csv
import json

import pytest

from camjax import cli
from tests.conftest import DEMO
from tests.data.fixtures import make_folders

ARGS = ["--config.val_split=", "--config.image_size=32", "--config.batch_size=4",
        "--config.eval_batch_size=4", "--config.num_train_steps=4", "--config.log_every_steps=1",
        "--config.checkpoint_every_steps=2", "--config.warmup_steps=0",
        "--config.data_threads=1", "--config.lr_schedule=constant"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("folder_run")
    data = make_folders(root / "photos", classes=("cat", "dog"),
                        per_split=(("train", 4), ("val", 2)))
    bad = sorted((data / "train" / "dog").glob("*.png"))[0]
    bad.write_bytes(bad.read_bytes()[:50])           # truncated: does not decode
    workdir = root / "w"
    argv = ["train", "--config", str(DEMO), "--workdir", str(workdir),
            f"--config.dataset=folder:{data}", "--config.skip_bad_images=True", *ARGS]
    assert cli.main(argv) == 0
    return workdir, bad, argv


def test_two_classes_without_test_evaluate_on_val_with_top_2(run):
    workdir, _, _ = run
    metrics = json.loads((workdir / "eval" / "metrics.json").read_text())
    assert metrics["split"] == "val" and "no test/ folder: evaluated on val/" in \
        metrics["note"]
    assert metrics["classification"]["num_images"] == 4 and metrics["num_classes"] == 2
    assert json.loads((workdir / "config.json").read_text())["top_k"] == 2
    rows = list(csv.DictReader((workdir / "eval" / "per_image.csv").open()))
    assert len(rows) == 4 and all(len(r["predicted"].split()) == 2 for r in rows)
    assert {r["label_name"] for r in rows} == {"cat", "dog"}


def test_the_report_shows_the_maps_without_imagenet_words_or_a_top_5(run):
    workdir, _, _ = run
    report = (workdir / "eval" / "report.md").read_text()
    assert "![gallery](gallery.png)" in report and (workdir / "eval" / "gallery.png").is_file()
    assert "evaluated on val/" in report
    for word in ("imagenet", "ilsvrc", "top-5"):
        assert word not in report.lower(), word


def test_a_skipped_image_is_counted_in_metrics_jsonl_and_the_report(run):
    workdir, bad, _ = run
    logged = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [1, 2, 3, 4]
    skipped = sum(r["skipped_images"] for r in logged)
    assert skipped >= 1                               # 16 reads of 8 files: the bad one too
    metrics = json.loads((workdir / "eval" / "metrics.json").read_text())
    assert metrics["skipped_train_images"] == skipped
    assert f"{skipped} unreadable training image(s) were skipped" in \
        (workdir / "eval" / "report.md").read_text()


def test_a_resumed_run_says_what_it_rewrites_in_config_json(run, capsys):
    workdir, _, argv = run
    assert cli.main([*argv, "--config.log_every_steps=2", "--config.eval_at_end=False"]) == 0
    out = capsys.readouterr().out
    assert f"{workdir / 'config.json'}: updated (" in out
    assert "eval_at_end: True -> False" in out and "log_every_steps: 1 -> 2" in out
    assert json.loads((workdir / "config.json").read_text())["log_every_steps"] == 2
