"""Ctrl-C and SIGTERM in the long commands (docs/errors.md, "Exit statuses"): ``camjax
localize`` and ``camjax evaluate`` stop after the batch in flight, write the results of the
images done with an ``interrupted`` flag, print one line and exit 130 (SIGINT) or 143
(SIGTERM), without a traceback."""
from __future__ import annotations

import csv
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
from PIL import Image

from camjax import cli
from tests.conftest import ROOT
from tests.training.conftest import cli_env

NUM_IMAGES = 50


def _photos(folder):
    """50 large JPEGs: a few hundred ms each to decode, preprocess and draw."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, 1200, dtype=np.float32)
    noise = rng.normal(0, 8, (1200, 1200, 1)).astype(np.float32)
    for k in range(NUM_IMAGES):
        colour = rng.uniform(60, 255, 3).astype(np.float32)
        pixels = ramp[None, :, None] * colour + ramp[:, None, None] * 40 + noise
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
            folder / f"photo_{k:02d}.jpg", quality=85)


def _read_until_done(proc, at_least, timeout):
    """The child's stderr as it comes (select on the pipe, no polling), until its progress
    bar (``localize: ... N/50 ...``, a line per update ended by a carriage return) counts
    ``at_least`` images done; returns what was read. Fails, naming what was read, on a
    timeout or if the child ends first."""
    fd, read = proc.stderr.fileno(), b""        # bytes: a read may split a character
    deadline = time.monotonic() + timeout
    while True:
        counts = [int(n) for n in re.findall(rb"(\d+)/%d\b" % NUM_IMAGES, read)]
        if counts and max(counts) >= at_least:
            return read
        left = deadline - time.monotonic()
        assert left > 0, f"no {at_least} images done in {timeout} s; stderr: {read[-3000:]}"
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 65536)
            assert chunk, f"finished before the signal: {read[-3000:]}"
            read += chunk


def test_sigint_in_localize_writes_the_images_done_and_exits_130(trained_workdir, tmp_path):
    _photos(tmp_path / "photos")
    out = tmp_path / "out"
    proc = subprocess.Popen(   # stderr unbuffered bytes: read as it comes, before the signal
        [sys.executable, "-m", "camjax.cli", "localize", "--workdir", str(trained_workdir),
         str(tmp_path / "photos"), "--out", str(out), "--batch_size", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0, env=cli_env(), cwd=ROOT)
    before = _read_until_done(proc, 4, timeout=300)              # a few batches done
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    stderr = (before + rest).decode()
    assert proc.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines()                # the bar's lines aside
             if line.strip() and not line.startswith("localize:")]
    assert len(lines) == 1 and lines[0].startswith("camjax: SIGINT received: stopped after"), \
        stderr[-3000:]
    doc = json.loads((out / "predictions.json").read_text())
    done = doc["num_processed"]
    assert doc["interrupted"] is True and doc["signal"] == "SIGINT"
    assert doc["num_images"] == NUM_IMAGES and 4 <= done < NUM_IMAGES
    assert len(doc["images"]) == done and doc["failed"] == []
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert len({r["image"] for r in rows}) == done
    assert len(list((out / "overlays").glob("*.png"))) == done
    assert f"stopped after {done} of {NUM_IMAGES} images" in lines[0]


def test_sigterm_in_evaluate_writes_the_images_done_and_exits_143(trained_workdir, tmp_path,
                                                                 capsys, monkeypatch):
    from camjax.data import pipeline
    workdir = tmp_path / "w"
    shutil.copytree(trained_workdir, workdir)
    real = pipeline.eval_batches

    def signal_after_the_first(*args, **kwargs):   # a SIGTERM while batch 2 is read
        for index, batch in real(*args, **kwargs):
            yield index, batch
            os.kill(os.getpid(), signal.SIGTERM)
    monkeypatch.setattr(pipeline, "eval_batches", signal_after_the_first)
    status = cli.main(["evaluate", "--workdir", str(workdir), "--config.eval_batch_size=8"])
    err = capsys.readouterr().err
    assert status == 143, err[-3000:]
    lines = [line for line in err.splitlines() if line.strip().startswith("camjax")]
    assert lines == [lines[-1]] and "SIGTERM received: evaluation stopped after 8 images" \
        in lines[-1], err[-3000:]
    metrics = json.loads((workdir / "eval" / "metrics.json").read_text())
    assert metrics["interrupted"] == "SIGTERM" and metrics["cam"]["num_images"] == 8
    rows = list(csv.DictReader((workdir / "eval" / "per_image.csv").open()))
    assert [int(r["index"]) for r in rows] == list(range(8))
    assert not (workdir / "eval" / "report.md").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL   # the handler is gone again
