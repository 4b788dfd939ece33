"""``camjax localize`` reads what the training sources read (one extension list, GIF
included), names a too-large image with its own option, and lets no library warning
through; nothing is written before the checks pass (tests/cli_cases.py)."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from camjax import cli
from camjax.data import folders, images
from camjax.localize.inputs import collect
from tests.data.test_images import _png_header


def test_folders_and_localize_keep_the_same_files(tmp_path):
    names = ["a.jpg", "b.JPEG", "c.png", "d.gif", "e.webp", "f.tif", "g.bmp", "notes.txt",
             "h.svg"]
    for name in names:
        (tmp_path / "cat" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "cat" / name).write_bytes(b"")
    kept = sorted(p.name for p in folders.list_images(tmp_path / "cat"))
    assert kept == ["a.jpg", "b.JPEG", "c.png", "d.gif", "e.webp", "f.tif", "g.bmp"]
    assert sorted(i.name for i in collect([tmp_path / "cat"]).images) == kept
    assert folders.EXTENSIONS == images.IMAGE_EXTENSIONS


def test_a_gif_and_a_too_large_image_in_localize(trained_workdir, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    frames = [Image.fromarray(np.full((40, 50, 3), v, np.uint8)) for v in (30, 200)]
    frames[0].save(photos / "anim.gif", save_all=True, append_images=frames[1:])
    (photos / "huge.png").write_bytes(_png_header(10_000, 9_500))  # Pillow warns at open
    status = cli.main(["localize", "--workdir", str(trained_workdir), str(photos), "--out",
                       str(tmp_path / "out"), "--no_progress", "--max_image_pixels", "5000000"])
    err = capsys.readouterr().err
    assert status == 1, err
    assert "Warning" not in err and "Traceback" not in err, err
    failed = [line for line in err.splitlines() if line.startswith("camjax: failed:")]
    assert len(failed) == 1 and "huge.png: 10000x9500 = 95,000,000 pixels" in failed[0]
    assert "raise the limit (--max_image_pixels)" in failed[0]
    doc = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert [i["name"] for i in doc["images"]] == ["anim.gif"]
    assert (doc["images"][0]["width"], doc["images"][0]["height"]) == (50, 40)
