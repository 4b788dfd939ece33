"""The built-in camjax_shapes dataset: rendering and the TFDS builder."""
import subprocess
import sys

import numpy as np
import pytest

from camjax.geometry import tfds_to_pixel_boxes
from camjax.data.builders import render

N = 600   # examples rendered once for the statistical tests (about 3 s)


@pytest.fixture(scope="module")
def examples():
    return [render.render_indexed("train", i) for i in range(N)]


def test_class_list():
    assert render.NUM_CLASSES == len(render.CLASS_NAMES) == 12
    assert len(set(render.CLASS_NAMES)) == 12


def test_rendering_is_deterministic():
    a = render.render_indexed("train", 7)
    b = render.render_indexed("train", 7)
    assert a["image"].tobytes() == b["image"].tobytes()
    assert a["mask"].tobytes() == b["mask"].tobytes()
    assert a["label"] == b["label"] and tuple(a["box"]) == tuple(b["box"])
    # a seed, a SeedSequence and a Generator give the same example
    for s in (123, np.random.SeedSequence(123), np.random.default_rng(123)):
        c = render.render_example(s)
        assert c["image"].tobytes() == render.render_example(123)["image"].tobytes()
    # other index, split or seed -> another image
    assert render.render_indexed("train", 8)["image"].tobytes() != a["image"].tobytes()
    assert render.render_indexed("test", 7)["image"].tobytes() != a["image"].tobytes()
    assert render.render_indexed("train", 7, seed=1)["image"].tobytes() != a["image"].tobytes()


def test_forced_label_changes_only_the_shape():
    a = render.render_example(5, label=0)
    b = render.render_example(5, label=3)
    assert (a["label"], b["label"]) == (0, 3)
    assert not np.array_equal(a["mask"], b["mask"])
    with pytest.raises(ValueError, match="label"):
        render.render_example(5, label=12)


def test_labels_cover_all_classes():
    drawn = [render.render_example(s)["label"] for s in range(300)]
    assert set(drawn) == set(range(render.NUM_CLASSES))
    # the builder's indexing is balanced
    assert [render.render_indexed("test", i)["label"] for i in range(24)] == list(range(12)) * 2


def test_types_and_shapes(examples):
    for e in examples[:20]:
        assert e["image"].dtype == np.uint8 and e["image"].shape == (112, 112, 3)
        assert e["mask"].dtype == bool and e["mask"].shape == (112, 112)
        assert e["box"].dtype == np.int64 and e["box"].shape == (4,)
    e = render.render_example(0, image_size=64)
    assert e["image"].shape == (64, 64, 3) and e["mask"].shape == (64, 64)


def test_box_is_the_mask_bounding_box_and_object_is_inside(examples):
    for e in examples:
        m = e["mask"]
        assert m.any()
        ys, xs = np.nonzero(m)
        assert tuple(e["box"]) == (xs.min(), ys.min(), xs.max(), ys.max())
        # fully inside: the object never touches the border
        assert not (m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any())


def test_object_size_range(examples):
    boxes = np.stack([e["box"] for e in examples])
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) + 1
    frac = side / 112
    # the outline's side is drawn in [0.15, 0.60]; pointed tips (star, diamond) lose up
    # to ~3 px to the coverage >= 0.5 rule
    assert frac.min() >= 0.12 and frac.max() <= 0.61
    # the range is used, not just respected
    assert frac.min() < 0.2 and frac.max() > 0.55
    assert 0.3 < np.median(frac) < 0.45


def test_the_object_is_visible(examples):
    # the object differs from the background just outside it (contrast is enforced)
    from scipy import ndimage
    diffs = []
    for e in examples[:100]:
        img, m = e["image"].astype(float), e["mask"]
        ring = ndimage.binary_dilation(m, iterations=3) & ~m
        diffs.append(np.linalg.norm(img[m].mean(0) - img[ring].mean(0)))
    assert np.median(diffs) > 40


def test_class_is_not_readable_from_mean_colour(examples):
    x = np.stack([e["image"].reshape(-1, 3).mean(0) for e in examples])
    y = np.array([e["label"] for e in examples])
    train, test = np.arange(N) % 5 != 0, np.arange(N) % 5 == 0
    # fit on one part, score on the other; the labels are balanced (index % 12)
    centroids = np.stack([x[train & (y == c)].mean(0) for c in range(render.NUM_CLASSES)])
    pred = np.argmin(((x[test, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    accuracy = (pred == y[test]).mean()
    assert accuracy < 2 / render.NUM_CLASSES, accuracy
    # the object's own mean colour carries no class either
    xo = np.stack([e["image"][e["mask"]].mean(0) for e in examples])
    co = np.stack([xo[train & (y == c)].mean(0) for c in range(render.NUM_CLASSES)])
    pred = np.argmin(((xo[test, None, :] - co[None]) ** 2).sum(-1), axis=1)
    assert (pred == y[test]).mean() < 2 / render.NUM_CLASSES


# ----------------------------------------------------------------- TFDS


def test_tfds_array_record_matches_the_renderer(tiny_data_dir):
    import tensorflow_datasets as tfds
    from camjax.data.builders import shapes

    digests = {}
    for split, size in (("train", 64), ("test", 32), ("val", 16)):
        src = tfds.data_source("camjax_shapes/tiny", split=split, data_dir=tiny_data_dir)
        assert len(src) == size
        seen = set()
        digests[split] = {hash(src[i]["image"].tobytes()) for i in range(size)}
        for i in range(size):
            rec = src[i]
            name = rec["image/filename"]
            name = name.decode() if isinstance(name, bytes) else name
            assert name.startswith(f"{split}_") and name.endswith(".png")
            index = int(name[len(split) + 1:-4])
            seen.add(index)
            want = render.render_indexed(split, index)
            assert rec["image"].dtype == np.uint8 and rec["image"].shape == (112, 112, 3)
            assert rec["segmentation_mask"].dtype == np.uint8
            assert rec["segmentation_mask"].shape == (112, 112, 1)
            assert rec["bbox"].dtype == np.float32 and rec["bbox"].shape == (4,)
            np.testing.assert_array_equal(rec["image"], want["image"])
            np.testing.assert_array_equal(rec["segmentation_mask"][..., 0],
                                          want["mask"].astype(np.uint8) * shapes.MASK_VALUE)
            assert int(rec["label"]) == want["label"]
            label_name = rec["label_name"]
            label_name = label_name.decode() if isinstance(label_name, bytes) else label_name
            assert label_name == render.CLASS_NAMES[want["label"]]
            np.testing.assert_array_equal(tfds_to_pixel_boxes(rec["bbox"], 112, 112), want["box"])
        assert seen == set(range(size))
    # the train-fullsup split shares no image with train or test
    assert not digests["val"] & (digests["train"] | digests["test"])
    info = src.dataset_info
    assert info.name == "camjax_shapes" and str(info.version) == "1.1.0"
    assert info.features["label"].names == list(render.CLASS_NAMES)


def test_prepare_is_idempotent_and_configurable(tmp_path, monkeypatch):
    from camjax.data.builders import shapes

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    cfg = shapes.CamjaxShapesConfig(name="n5", train_size=5, test_size=3, val_size=2, seed=4)
    builder = shapes.prepare(tmp_path / "data", cfg)
    assert builder.info.splits["train"].num_examples == 5
    assert builder.info.splits["test"].num_examples == 3
    assert builder.info.splits["val"].num_examples == 2
    files = sorted(p for p in (tmp_path / "data").rglob("*") if p.is_file())
    assert any("array_record" in p.name for p in files)
    stamps = [p.stat().st_mtime_ns for p in files]
    again = shapes.prepare(tmp_path / "data", cfg)
    assert again.is_prepared()
    assert [p.stat().st_mtime_ns for p in files] == stamps   # not generated twice
    assert list(home.iterdir()) == []                          # nothing in the home folder
    rec = builder.as_data_source("test")[0]
    idx = int(rec["image/filename"].decode()[5:10])
    np.testing.assert_array_equal(rec["image"], render.render_indexed("test", idx, seed=4)["image"])
    with pytest.raises(ValueError, match="unknown camjax_shapes config"):
        shapes.prepare(tmp_path / "other", "huge")


def test_reading_needs_neither_tensorflow_nor_camjax(tiny_data_dir):
    code = (
        "import sys, numpy as np, tensorflow_datasets as tfds\n"
        f"src = tfds.data_source('camjax_shapes/tiny', split='test', data_dir={tiny_data_dir!r})\n"
        "rec = src[3]\n"
        "assert rec['image'].shape == (112, 112, 3) and rec['image'].dtype == np.uint8\n"
        "assert 'tensorflow' not in sys.modules, 'TF imported'\n"
        "assert not any(m.startswith('camjax') for m in sys.modules), 'camjax imported'\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]
