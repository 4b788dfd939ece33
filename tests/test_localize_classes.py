"""``camjax localize --class`` and ``--save_maps`` on the shared tiny run (tiny_gap, 32 px):
the chosen classes' maps against a hand CAM (features times the classifier's class column,
upsampled and min-max normalised as the paper's code does, then onto each photo's pixels),
their probabilities against a hand softmax, the saved arrays against those maps, and an
interrupted run's maps. Bad ``--class`` values are rows of tests/cli_cases.py."""
from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import signal

import cv2
import numpy as np
import pytest

from camjax import cli
from camjax.errors import UserError
from camjax.localize.classes import resolve
from tests.test_localize import PHOTOS, save_photos

SHAPES = ["disk", "square", "triangle", "star", "cross", "ring", "hexagon", "crescent",
          "heart", "arrow", "diamond", "l_shape"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("localize_classes")
    save_photos(root / "photos", np.random.default_rng(3))
    return root / "photos"


@pytest.fixture(scope="module")
def hand(trained_workdir, photos):
    """Per image name: (softmax probabilities (C,), raw CAMs (C, h, w)) computed by hand
    from the checkpoint's network: its features and its classifier kernel."""
    from flax import nnx

    from camjax import config as config_lib, models
    from camjax.data.images import decode_image
    from camjax.data.transforms import resize_eval
    from camjax.training import restore_for_inference
    config = config_lib.from_json(trained_workdir / "config.json")
    graphdef, state, _ = restore_for_inference(config, trained_workdir, len(SHAPES))
    model = nnx.merge(graphdef, state.params, state.rest)
    model.eval()
    kernel = np.asarray(models.class_weights(model), np.float64)           # (K, C)
    xs = np.stack([resize_eval(decode_image(photos / n), config.image_size) for n in PHOTOS])
    logits, features = (np.asarray(a, np.float64) for a in model(xs))
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    cams = np.einsum("bhwk,kc->bchw", features, kernel)
    return {name: (probs[j], cams[j]) for j, name in enumerate(PHOTOS)}


def on_photo(cam: np.ndarray, h: int, w: int, size: int = 32) -> np.ndarray:
    """The paper code's CAM rendering: bilinear to the input, min-max, bilinear onto the
    photo (a workdir run resizes the whole photo, so the map covers all of it)."""
    up = cv2.resize(cam.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    up = (up - up.min()) / (up.max() - up.min())
    return cv2.resize(up, (w, h), interpolation=cv2.INTER_LINEAR)


@pytest.fixture(scope="module")
def class_run(trained_workdir, photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("class_run") / "out"
    err = io.StringIO()              # module scope: no capsys; the CLI prints to sys.stderr
    with contextlib.redirect_stderr(err):
        status = cli.main(["localize", "--workdir", str(trained_workdir), str(photos),
                           "--out", str(out), "--class", "disk,3", "--class", "DISK",
                           "--top_k", "4", "--save_maps", "--batch_size", "2",
                           "--no_progress"])
    return status, out, err.getvalue()


def test_class_replaces_the_top_k_with_a_warning(class_run):
    status, out, err = class_run
    assert status == 0, err
    assert "camjax: warning: --top_k 4 is ignored: --class chooses the classes to map" in \
        err.splitlines()
    doc = json.loads((out / "predictions.json").read_text())
    assert doc["classes"] == [0, 3] and doc["top_k"] is None
    assert sorted(i["name"] for i in doc["images"]) == sorted(PHOTOS)


def test_chosen_class_maps_and_probabilities_match_a_hand_cam(class_run, hand):
    _, out, _ = class_run
    doc = json.loads((out / "predictions.json").read_text())
    for image in doc["images"]:
        probs, cams = hand[image["name"]]
        h, w = PHOTOS[image["name"]][2]                 # as shown (EXIF applied)
        assert [p["class_index"] for p in image["predictions"]] == [0, 3]
        assert [p["class_name"] for p in image["predictions"]] == ["disk", "star"]
        np.testing.assert_allclose([p["probability"] for p in image["predictions"]],
                                   probs[[0, 3]], rtol=1e-4, atol=1e-6)
        saved = np.load(out / image["map"])
        assert image["map"] == f"maps/{image['name']}.npy"
        assert saved.dtype == np.float32 and saved.shape == (2, h, w)
        for rank, c in enumerate([0, 3]):
            np.testing.assert_allclose(saved[rank], on_photo(cams[c], h, w), atol=2e-4,
                                       err_msg=f"{image['name']} class {c}")
        for x0, y0, x1, y1 in (p["box"] for p in image["predictions"]):
            assert 0 <= x0 <= x1 < w and 0 <= y0 <= y1 < h
    assert any(not np.allclose(np.load(out / i["map"])[0], np.load(out / i["map"])[1])
               for i in doc["images"])          # two classes, two different maps


def test_the_npz_holds_every_image_as_its_npy(class_run):
    _, out, _ = class_run
    files = sorted(p.relative_to(out / "maps").as_posix() for p in (out / "maps").rglob("*")
                   if p.is_file())
    assert files == sorted(f"{n}.npy" for n in PHOTOS)          # no temporary files left
    with np.load(out / "maps.npz") as npz:
        assert sorted(npz.files) == sorted(PHOTOS)
        for name in PHOTOS:
            np.testing.assert_array_equal(npz[name], np.load(out / "maps" / f"{name}.npy"))


def test_an_interrupted_run_writes_the_maps_of_the_images_done(trained_workdir, photos,
                                                              tmp_path, monkeypatch, capsys):
    job = importlib.import_module("camjax.localize.job")
    real = job._run_batch

    def stop_after_the_first(*args, **kwargs):      # Ctrl-C while batch 1 is drawn
        done = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return done
    monkeypatch.setattr(job, "_run_batch", stop_after_the_first)
    out = tmp_path / "out"
    status = cli.main(["localize", "--workdir", str(trained_workdir), str(photos), "--out",
                       str(out), "--top_k", "1", "--save_maps", "--batch_size", "2",
                       "--no_progress"])
    err = capsys.readouterr().err
    assert status == 130, err
    assert "stopped after 2 of 5 images" in err and str(out / "maps.npz") in err
    doc = json.loads((out / "predictions.json").read_text())
    done = [i["name"] for i in doc["images"]]
    assert doc["interrupted"] is True and len(done) == 2
    assert sorted(p.relative_to(out / "maps").as_posix()
                  for p in (out / "maps").rglob("*.npy")) == sorted(f"{n}.npy" for n in done)
    with np.load(out / "maps.npz") as npz:
        assert sorted(npz.files) == sorted(done)
        for image in doc["images"]:              # one class: (H, W), as wsolevaluation's
            assert npz[image["name"]].shape == (image["height"], image["width"])


def test_class_values_resolve_names_before_indices():
    names = ["0", "1", "10", "2", "Cat", "a,b"]        # a folder dataset's text order
    assert resolve("10", names) == [2]                 # the class named 10, not index 10
    assert resolve("4", names) == [4] and resolve(5, names) == [5]
    assert resolve(["cat", "2,0", "0"], names) == [4, 3, 0]   # case, commas, repeats
    assert resolve("a,b", names) == [5]                # a name with a comma stays whole
    with pytest.raises(UserError, match=r"--class 6: no such class index; the model has 6 "
                                        r"classes, 0 to 5 \(the model\)"):
        resolve("6", names)
    with pytest.raises(UserError, match="--class 'dog'.*6 classes of runs/x"):
        resolve("dog", names, "runs/x")
    with pytest.raises(UserError, match="names the classes 0, 2"):
        resolve("x", ["x", "y", "x"])
    with pytest.raises(UserError, match="no class given"):
        resolve([], names)
