"""``camjax localize`` data-parallel: 7 photos (not a multiple of 4) on 4 forced CPU
devices in one process, and on 2 processes x 2 devices (``jax.distributed``, one merged
set of tables), give the tables and maps of the 1-device run in this process."""
import json
import subprocess
import sys

import jax
import numpy as np
import pytest
from PIL import Image

from camjax.localize import shares
from tests.conftest import ROOT
from tests.localize_parallel_run import run
from tests.training.conftest import cli_env, free_port

NUM_PHOTOS = 7     # 4 devices: a full batch of 4, then 3 padded to 4


def _photos(folder):
    rng = np.random.default_rng(3)
    for i in range(NUM_PHOTOS):
        h, w = 24 + 8 * i, 40 - 2 * i
        pixels = rng.integers(0, 256, (h, w, 3), np.uint8)
        pixels[h // 4:h // 2, w // 3:w // 2] = 255           # some structure for the maps
        Image.fromarray(pixels).save(folder / f"p{i}.png")


def _start(photos, out, devices, **env):
    return subprocess.Popen([sys.executable, "-m", "tests.localize_parallel_run",
                             str(photos), str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=cli_env(devices, **env))


def test_shares_are_contiguous_and_cover_the_list_once():
    items = list(range(7))
    assert [shares.share(items, i, 3) for i in range(3)] == [[0, 1, 2], [3, 4], [5, 6]]
    assert [shares.share(items[:1], i, 2) for i in range(2)] == [[0], []]


@pytest.mark.xdist_group("parallel")
def test_4_devices_and_2_processes_give_the_1_device_tables_and_maps(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    _photos(photos)
    port = free_port()
    procs = {"devices4": [_start(photos, tmp_path / "devices4", 4)]}
    procs["processes2x2"] = [
        _start(photos, tmp_path / "processes2x2", 2, CAMJAX_COORDINATOR=f"localhost:{port}",
               CAMJAX_NUM_PROCESSES=2, CAMJAX_PROCESS_ID=i) for i in (0, 1)]
    assert jax.device_count() == 1                  # this process: the 1-device reference
    reference = run(photos, tmp_path / "devices1")
    assert reference.ok and len(reference.images) == NUM_PHOTOS
    ref = json.loads((tmp_path / "devices1" / "predictions.json").read_text())
    ref_maps = np.load(tmp_path / "devices1" / "maps.npz")
    for name, group in procs.items():
        try:
            logs = [p.communicate(timeout=120)[0] for p in group]
        finally:
            for p in group:
                p.kill()
        assert [p.returncode for p in group] == [0] * len(group), logs
        out = tmp_path / name
        doc = json.loads((out / "predictions.json").read_text())
        assert doc["num_images"] == doc["num_processed"] == NUM_PHOTOS
        assert [i["name"] for i in doc["images"]] == [f"p{i}.png" for i in range(NUM_PHOTOS)]
        for got, want in zip(doc["images"], ref["images"]):
            assert [p["box"] for p in got["predictions"]] == \
                [p["box"] for p in want["predictions"]], (name, got["name"])
            assert [p["class_index"] for p in got["predictions"]] == \
                [p["class_index"] for p in want["predictions"]], (name, got["name"])
            np.testing.assert_allclose([p["probability"] for p in got["predictions"]],
                                       [p["probability"] for p in want["predictions"]],
                                       rtol=1e-5)
        maps = np.load(out / "maps.npz")
        assert sorted(maps.files) == sorted(ref_maps.files)
        for key in ref_maps.files:
            np.testing.assert_allclose(maps[key], ref_maps[key], atol=1e-5, err_msg=key)
        rows = (out / "predictions.csv").read_text().splitlines()
        assert len(rows) == 1 + 2 * NUM_PHOTOS and rows[1].startswith(str(photos / "p0.png"))
        assert len(list((out / "overlays").glob("*.png"))) == NUM_PHOTOS
        assert not list(out.glob(".localize-part-*")), "the parts are merged and removed"
