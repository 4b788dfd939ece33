"""``camjax localize``: inputs and their unique names, the way back to original pixels, a
random-weight ResNet-18 file on a folder of generated images (probabilities and boxes
against an independent computation), bad files through the CLI, a training workdir."""
from __future__ import annotations

import csv
import json
import shutil
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from camjax import cli, config as config_lib, training
from camjax.errors import UserError
from camjax.localize import localize
from camjax.engine.frames import Frame, Preprocessing
from camjax.localize.inputs import collect, unique_names
from tests.boxes.oracle import largest_component_boxes_reference
from tests.conftest import run_cli
from tests.models.test_classifiers import resnet_shapes

# name in the folder -> (stored (h, w), mode, shown (h, w)); z.jpg is stored landscape with
# EXIF orientation 6 (rotate 90 degrees), so a photo viewer shows it portrait
PHOTOS = {"x.jpg": ((120, 200), "RGB", (120, 200)), "x.png": ((90, 160), "RGBA", (90, 160)),
          "a/y.png": ((64, 64), "L", (64, 64)), "b/y.png": ((300, 90), "RGB", (300, 90)),
          "b/deep/z.jpg": ((60, 100), "RGB", (100, 60))}


def resnet18_weights(num_classes=1000, seed=0) -> dict:
    """A torchvision-format ResNet-18 state dict whose activations stay finite and varied:
    He-scaled convs, BatchNorm scales in [0.5, 1], positive running variances."""
    rng, state = np.random.default_rng(seed), {}
    for key, shape in resnet_shapes(18, num_classes).items():
        if key.endswith("num_batches_tracked"):
            state[key] = np.array(7, np.int64)
            continue
        if key.endswith("running_var"):
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) == 4:
            value = rng.normal(0, np.sqrt(1.0 / np.prod(shape[1:])), shape)
        elif len(shape) == 2:
            value = rng.normal(0, 0.2, shape)
        elif key.endswith("weight"):        # BatchNorm scale
            value = rng.uniform(0.5, 1.0, shape)
        else:                                # biases, running means
            value = rng.normal(0, 0.1, shape)
        state[key] = value.astype(np.float32)
    return state


def save_photos(folder, rng):
    for name, ((h, w), mode, _) in PHOTOS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (h, w, len(mode)) if mode != "L" else (h, w), np.uint8)
        pixels[h // 4:h // 2, w // 3:w // 2] = 255          # some structure for the maps
        image = Image.fromarray(pixels, mode)
        if name.endswith("z.jpg"):
            exif = Image.Exif()
            exif[0x0112] = 6
            image.save(path, quality=95, exif=exif)
        else:
            image.save(path)
    (folder / "notes.txt").write_text("not an image")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from safetensors.numpy import save_file
    root = tmp_path_factory.mktemp("localize")
    save_file(resnet18_weights(), root / "resnet18.safetensors")
    save_photos(root / "photos", np.random.default_rng(1))
    return root


@pytest.fixture(scope="module")
def run(setup):
    return localize([setup / "photos"], setup / "out", model="resnet18",
                    weights=setup / "resnet18.safetensors", batch_size=2, threshold=0.5,
                    progress=False)


# --------------------------------------------------------------- inputs and names
def test_folder_names_keep_relative_paths_and_extensions(setup):
    inputs = collect([setup / "photos"])
    assert [i.name for i in inputs.images] == sorted(PHOTOS)
    assert [p.name for p in inputs.skipped] == ["notes.txt"]
    # files with one name from two arguments: the first keeps it, in command-line order
    found = collect([setup / "photos/b/y.png", setup / "photos/a/y.png", setup / "photos"])
    assert [i.name for i in found.images] == ["y.png", "y.png-2", "b/deep/z.jpg", "x.jpg",
                                              "x.png"]
    assert str(found.images[0].path).endswith("b/y.png")   # a file reached twice: once
    assert unique_names(["X.jpg", "x.jpg", "x.jpg", "x.jpg-2"]) == [
        "X.jpg", "x.jpg-2", "x.jpg-3", "x.jpg-2-2"]          # case-insensitive disks too
    with pytest.raises(UserError, match="nope.jpg"):
        collect([setup / "photos", setup / "nope.jpg"])


# --------------------------------------------------------------- back to original pixels
def covered(lo, hi, offset, old, new):
    """Brute force: the original pixels (of ``old``) whose extent meets input pixels
    lo..hi (inclusive) of a crop at ``offset`` in the image resized to ``new``."""
    a, b = Fraction(lo + offset) * old / new, Fraction(hi + 1 + offset) * old / new
    inside = [p for p in range(old) if max(a, Fraction(p)) < min(b, Fraction(p + 1))]
    return inside[0], inside[-1]


def test_boxes_go_back_to_the_original_pixels_they_cover():
    # hand-worked: 300 x 90 (h x w) -> resize 853 x 256, crop offsets (314, 16)
    frame = Preprocessing("imagenet", 224, 256).frame(300, 90)
    assert (frame.resized_h, frame.resized_w, frame.top, frame.left) == (853, 256, 314, 16)
    assert frame.region().tolist() == [5, 110, 84, 189]
    assert frame.boxes_to_original([10, 20, 10, 20]).tolist() == [9, 117, 9, 117]
    rng = np.random.default_rng(0)
    for _ in range(200):
        h, w = (int(v) for v in rng.integers(1, 700, 2))
        kind = ["imagenet", "resize"][rng.integers(2)]
        prep = Preprocessing(kind, 32, 40) if kind == "imagenet" else Preprocessing(kind, 32)
        f = prep.frame(h, w)
        x0, x1 = sorted(int(v) for v in rng.integers(0, 32, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, 32, 2))
        ex0, ex1 = covered(x0, x1, f.left, w, f.resized_w)
        ey0, ey1 = covered(y0, y1, f.top, h, f.resized_h)
        assert f.boxes_to_original([x0, y0, x1, y1]).tolist() == [ex0, ey0, ex1, ey1]
    heat = Frame(10, 8, 4, 4, 0, 0, 4).map_onto(np.ones((4, 4)), 20, 16)   # "resize"
    assert heat.shape == (20, 16) and heat.min() == 1.0
    # the centre crop's map lands on its region; the strips it cut off stay 0
    heat = frame.map_onto(np.ones((224, 224)), 300, 90)
    rows, cols = np.nonzero(heat)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (110, 189, 5, 84)
    assert heat[110:190, 5:85].min() == 1.0


# --------------------------------------------------------------- a pretrained classifier
def test_outputs_one_overlay_per_image_and_tables(run, setup):
    assert run.ok and not run.failed and len(run.images) == len(PHOTOS)
    assert run.skipped == [str(setup / "photos" / "notes.txt")]
    overlays = sorted(p.relative_to(run.out_dir / "overlays").as_posix()
                      for p in (run.out_dir / "overlays").rglob("*.png"))
    assert overlays == sorted(f"{n}.png" for n in PHOTOS)
    for r in run.images:
        with Image.open(run.out_dir / r.overlay) as im:
            assert im.format == "PNG" and im.width >= 448   # enlarged to stay readable
    doc = json.loads(run.predictions_json.read_text())
    assert (doc["method"], doc["threshold"], doc["top_k"]) == ("cam", 0.5, 5)
    assert doc["failed"] == [] and len(doc["images"]) == len(PHOTOS)
    rows = list(csv.DictReader(run.predictions_csv.open()))
    assert list(rows[0]) == ["image", "rank", "class_index", "class_name", "probability",
                             "x0", "y0", "x1", "y1"]
    assert len(rows) == 5 * len(PHOTOS)
    legacy = json.loads((run.out_dir / "boxes.json").read_text())     # the first layout
    assert [(e["image"], [q["box"] for q in e["predictions"]]) for e in legacy] == [
        (i["image"], [q["box"] for q in i["predictions"]]) for i in doc["images"]]
    for image in doc["images"]:
        h, w = PHOTOS[image["name"]][2]                     # the shown (EXIF-rotated) frame
        assert (image["height"], image["width"]) == (h, w)
        rx0, ry0, rx1, ry1 = image["region"]
        mine = [r for r in rows if r["image"] == image["image"]]
        assert [int(r["rank"]) for r in mine] == [1, 2, 3, 4, 5]
        for p, row in zip(image["predictions"], mine):
            x0, y0, x1, y1 = p["box"]
            assert 0 <= rx0 <= x0 <= x1 <= rx1 < w and 0 <= ry0 <= y0 <= y1 <= ry1 < h
            assert [int(row[c]) for c in ("x0", "y0", "x1", "y1")] == p["box"]
            assert row["class_name"] == p["class_name"] and int(row["class_index"]) == \
                p["class_index"]


def test_probabilities_and_boxes_match_a_direct_computation(run, setup):
    import cv2
    from flax import nnx

    from camjax import data, models
    from camjax.data.images import decode_image
    from camjax.data.transforms import imagenet_eval
    state = resnet18_weights()
    model = models.create("resnet18", num_classes=1000, rngs=nnx.Rngs(0))
    assert models.load_pretrained(model, state).classifier_loaded
    model.eval()
    paths = [r.path for r in run.images]
    images = [decode_image(p) for p in paths]
    logits, features = model(np.stack([imagenet_eval(i) for i in images]))
    logits = np.asarray(logits, np.float64)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    names = data.imagenet_classes()
    for j, r in enumerate(run.images):
        top = np.argsort(-probs[j])[:5]
        assert r.classes == top.tolist()
        np.testing.assert_allclose(r.probabilities, probs[j, top], rtol=1e-4, atol=1e-6)
        assert r.class_names == [names[c] for c in top]
        # the rank-1 CAM: fc weights on the features, bilinear to 224, min-max, the
        # largest component above 50% (skimage), then the original pixels it covers
        cam = np.asarray(features[j], np.float64) @ state["fc.weight"][top[0]]
        cam = cv2.resize(cam.astype(np.float32), (224, 224), interpolation=cv2.INTER_LINEAR)
        cam = (cam - cam.min()) / (cam.max() - cam.min())
        x0, y0, x1, y1 = largest_component_boxes_reference(cam, 0.5).tolist()
        h, w = images[j].shape[:2]
        f = Preprocessing("imagenet", 224, 256).frame(h, w)
        expected = [covered(x0, x1, f.left, w, f.resized_w)[0],
                    covered(y0, y1, f.top, h, f.resized_h)[0],
                    covered(x0, x1, f.left, w, f.resized_w)[1],
                    covered(y0, y1, f.top, h, f.resized_h)[1]]
        assert r.boxes[0] == expected, r.name
    assert any(r.boxes[0] != r.region for r in run.images)     # not just the whole crop


def test_bad_files_are_reported_and_the_rest_written_exit_1(setup, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(setup / "photos", folder)
    good = (folder / "x.jpg").read_bytes()
    (folder / "b" / "broken.jpg").write_bytes(good[:len(good) // 2])     # truncated
    (folder / "fake.png").write_bytes(b"this is not a PNG")
    out = run_cli("localize", "--model", "resnet18", "--weights",
                  str(setup / "resnet18.safetensors"), str(folder), "--out", str(tmp_path / "o"),
                  "--method", "grad_cam", "--top_k", "2", "--no_progress")
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert str(folder / "b" / "broken.jpg") in out.stderr and str(folder / "fake.png") in \
        out.stderr
    doc = json.loads((tmp_path / "o" / "predictions.json").read_text())
    assert sorted(f["image"] for f in doc["failed"]) == [str(folder / "b" / "broken.jpg"),
                                                         str(folder / "fake.png")]
    assert doc["method"] == "grad_cam" and len(doc["images"]) == len(PHOTOS)
    assert doc["threshold"] == 0.2                      # the config's cam_threshold
    for image in doc["images"]:
        assert len(image["predictions"]) == 2
        assert (tmp_path / "o" / image["overlay"]).is_file()


@pytest.mark.parametrize("case", ["missing", "ten_classes", "unknown_model", "no_weights",
                                  "bad_layer", "layer_for_cam"])
def test_user_errors_are_one_line_exit_2(setup, tmp_path, capsys, case):
    from safetensors.numpy import save_file
    ten = tmp_path / "ten.safetensors"
    save_file(resnet18_weights(num_classes=10), ten)
    args, expect = {
        "missing": (["--model", "resnet18", "--weights", str(tmp_path / "nope.safetensors")],
                    "nope.safetensors"),
        "ten_classes": (["--model", "resnet18", "--weights", str(ten)], "(10, 512)"),
        "unknown_model": (["--model", "resnet7", "--weights", str(ten)], "resnet7"),
        "no_weights": (["--model", "resnet18"], "--weights"),
        "bad_layer": (["--model", "resnet18", "--weights", str(setup / "resnet18.safetensors"),
                       "--method", "grad_cam", "--layer", "layer5"], "'layer5' is not a module"),
        "layer_for_cam": (["--model", "resnet18", "--weights",
                           str(setup / "resnet18.safetensors"), "--layer", "layer3"],
                          "takes no layer")}[case]
    assert cli.main(["localize", *args, str(setup / "photos"), "--out",
                     str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and expect in err
    if case == "ten_classes":
        assert str(ten) in err and "(1000, 512)" in err


# --------------------------------------------------------------- a training workdir
def test_workdir_run_uses_its_classes_size_and_resize(tiny_config, setup, tmp_path):
    config_lib.set_key(tiny_config, "eval_at_end", False)
    training.train_and_evaluate(tiny_config, tmp_path / "run")
    names = json.loads((tmp_path / "run" / "class_names.json").read_text())
    result = localize([setup / "photos" / "x.jpg", setup / "photos" / "b"], tmp_path / "o",
                      workdir=tmp_path / "run", progress=False)
    assert result.ok and [r.name for r in result.images] == ["x.jpg", "deep/z.jpg", "y.png"]
    doc = json.loads(result.predictions_json.read_text())
    assert doc["preprocessing"] == "resize to 32x32" and doc["top_k"] == min(5, len(names))
    for r in result.images:
        assert r.region == [0, 0, r.width - 1, r.height - 1]    # the whole image was seen
        assert set(r.class_names) <= set(names) and sum(r.probabilities) <= 1 + 1e-6
        for x0, y0, x1, y1 in r.boxes:
            assert 0 <= x0 <= x1 < r.width and 0 <= y0 <= y1 < r.height
    # Grad-CAM at an inner layer: the same classes, the layer in predictions.json
    inner = localize([setup / "photos" / "x.jpg"], tmp_path / "o2", workdir=tmp_path / "run",
                     method="grad_cam", layer="backbone.2", progress=False)
    assert inner.ok and inner.images[0].classes == result.images[0].classes
    assert json.loads(inner.predictions_json.read_text())["layer"] == "backbone.2"
