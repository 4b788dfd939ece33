"""``camjax score``: saved score maps scored against wsolevaluation metadata, compared with
a transcription of wsolevaluation's evaluation.py (tests/evaluator/wsolevaluation.py) on
box and mask fixtures: MaxBoxAcc V1, V2, PxAP and the val-chosen threshold; a missing or
misshaped map is one line naming the image id."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from camjax import cli
from camjax.evaluator import saved_maps
from tests.evaluator import wsolevaluation as reference

INTERVAL = 0.01          # 100 thresholds: the reference's loop stays quick
SIZES = [(300, 200), (224, 224), (97, 151), (500, 375), (64, 48), (120, 90), (333, 250),
         (224, 180)]


def _blob(rng, size=224):
    yy, xx = np.mgrid[0:size, 0:size]
    m = np.zeros((size, size))
    for _ in range(rng.integers(1, 4)):
        cy, cx = rng.uniform(0, size, 2)
        sy, sx = rng.uniform(8, size / 3, 2)
        m += rng.uniform(0.3, 1) * np.exp(-((yy - cy) ** 2 / (2 * sy ** 2)
                                            + (xx - cx) ** 2 / (2 * sx ** 2)))
    return (m - m.min()) / (m.max() - m.min())


def _write(folder: Path, name: str, lines: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(line + "\n" for line in lines))


def _box_split(meta: Path, split: str, rng) -> list[str]:
    """Images of SIZES with 1-2 boxes each; the first reaches x1 = w, y1 = h (CUB's x + w)."""
    ids, sizes, loc = [], [], []
    for k, (w, h) in enumerate(SIZES):
        image_id = f"{k:03d}.class/{split}_{k}.jpg"
        ids.append(image_id)
        sizes.append(f"{image_id},{w},{h}")
        x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
        x1, y1 = (w, h) if k == 0 else (int(rng.integers(x0, w)), int(rng.integers(y0, h)))
        loc.append(f"{image_id},{x0},{y0},{x1},{y1}")
        if k % 3 == 1:
            loc.append(f"{image_id},0,0,{w // 4},{h // 4}")
    folder = meta / split
    _write(folder, "image_ids.txt", ids)
    _write(folder, "class_labels.txt", [f"{i},{k % 3}" for k, i in enumerate(ids)])
    _write(folder, "image_sizes.txt", sizes)
    _write(folder, "localization.txt", loc)
    return ids


def _near_box(rng, box, size=224):
    """A blob on the box (rescaled to 224), its width off by up to 2x, plus a distractor:
    maps some thresholds localize and others do not."""
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[0:size, 0:size]
    sx, sy = (x1 - x0 + 1) * rng.uniform(0.2, 0.7), (y1 - y0 + 1) * rng.uniform(0.2, 0.7)
    m = np.exp(-((xx - (x0 + x1) / 2) ** 2 / (2 * sx ** 2) + (yy - (y0 + y1) / 2) ** 2
                 / (2 * sy ** 2)))
    m = m + 0.5 * _blob(rng)
    return (m - m.min()) / (m.max() - m.min())


def _save_maps(root: Path, ids, rng, folder: Path | None = None) -> dict:
    truth = reference.metadata(folder) if folder is not None else None
    maps = {}
    for image_id in ids:
        if truth is not None:
            box = reference.resize_bbox(truth[2][image_id][0], truth[1][image_id], (224, 224))
            m = _near_box(rng, box)
        else:
            m = _blob(rng)
        maps[image_id] = m.astype(np.float32)               # float32, as inference saves
        path = root / (image_id + ".npy")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, maps[image_id])
    return maps


@pytest.fixture(scope="module")
def boxes(tmp_path_factory):
    root = tmp_path_factory.mktemp("score_boxes")
    rng = np.random.default_rng(0)
    test_ids, val_ids = _box_split(root / "meta", "test", rng), _box_split(root / "meta", "val",
                                                                            rng)
    test_maps = _save_maps(root / "maps", test_ids, rng, root / "meta" / "test")
    _save_maps(root / "maps", val_ids, rng, root / "meta" / "val")  # one folder, as inference
    np.savez(root / "test.npz", **test_maps)
    return root


@pytest.fixture(scope="module")
def masks(tmp_path_factory):
    """An OpenImages-like split: 1-2 mask files per image and an ignore file, PNGs of the
    image's size (not 224: they are resized with nearest neighbour)."""
    root = tmp_path_factory.mktemp("score_masks")
    rng = np.random.default_rng(1)
    ids, loc = [], []
    for k, (w, h) in enumerate(SIZES[:6]):
        image_id = f"c{k % 2}/img_{k}.jpg"
        ids.append(image_id)
        stem = image_id[:-4]
        names = [f"{stem}_m{j}.png" for j in range(1 + k % 2)] + [f"{stem}_ignore.png"]
        for j, name in enumerate(names):
            m = np.zeros((h, w), np.uint8)
            x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
            m[y0:y0 + h // (3 + j), x0:x0 + w // (2 + j)] = 255
            (root / "masks" / name).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(m).save(root / "masks" / name)
        loc.append(f"{image_id},{names[0]},{names[-1]}")
        loc += [f"{image_id},{n}," for n in names[1:-1]]
    folder = root / "meta" / "test"
    _write(folder, "image_ids.txt", ids)
    _write(folder, "class_labels.txt", [f"{i},0" for i in ids])
    _write(folder, "localization.txt", loc)
    _save_maps(root / "maps", ids, rng)
    return root


@pytest.mark.parametrize("maps", ["maps", "test.npz"])
def test_max_box_acc_v1_and_v2_are_wsolevaluations(boxes, maps):
    got = saved_maps.score(boxes / "meta", "test", boxes / maps, cam_curve_interval=INTERVAL)
    v1, _ = reference.box_evaluator(boxes / "meta" / "test", boxes / "maps", INTERVAL, [50],
                                    multi_contour_eval=False)
    v2, _ = reference.box_evaluator(boxes / "meta" / "test", boxes / "maps", INTERVAL,
                                    [30, 50, 70], multi_contour_eval=True)
    assert got["wsol_v1"]["max_box_acc"]["50"] == v1[50].max()
    np.testing.assert_array_equal(got["wsol_v1"]["curves"]["50"], v1[50])
    for t in (30, 50, 70):
        np.testing.assert_array_equal(got["wsol_v2"]["curves"][str(t)], v2[t])
    assert got["wsol_v2"]["max_box_acc_v2"] == pytest.approx(
        np.mean([v2[t].max() for t in (30, 50, 70)]), abs=1e-12)
    assert 0 < v1[50].max() < 100 and len(set(v2[50])) > 3     # the fixture discriminates
    assert len(set(v1[50])) > 3


def test_the_val_threshold_is_vals_best_v1_applied_to_the_split(boxes):
    got = saved_maps.score(boxes / "meta", "test", boxes / "maps", val_maps=boxes / "maps",
                           cam_curve_interval=INTERVAL)
    val, thresholds = reference.box_evaluator(boxes / "meta" / "val", boxes / "maps", INTERVAL,
                                              [50], multi_contour_eval=False)
    test_v1, _ = reference.box_evaluator(boxes / "meta" / "test", boxes / "maps", INTERVAL, [50],
                                         multi_contour_eval=False)
    test_v2, _ = reference.box_evaluator(boxes / "meta" / "test", boxes / "maps", INTERVAL,
                                         [30, 50, 70], multi_contour_eval=True)
    index = int(np.argmax(val[50]))                   # np.argmax: the first maximum
    point = got["val_threshold"]
    assert point["threshold"] == thresholds[index]
    assert point["box_acc_v1"] == test_v1[50][index]
    assert point["box_acc_v2"] == {str(t): test_v2[t][index] for t in (30, 50, 70)}
    assert got["val"]["max_box_acc"] == val[50].max()


def test_pxap_is_wsolevaluations(masks):
    got = saved_maps.score(masks / "meta", "test", masks / "maps", mask_root=masks / "masks",
                           cam_curve_interval=INTERVAL)
    want = reference.mask_evaluator(masks / "meta" / "test", masks / "maps", masks / "masks",
                                    INTERVAL)
    assert got["pxap"] == pytest.approx(want, abs=1e-9) and 0 < want < 100


def test_the_command_prints_the_table_and_writes_json(boxes, tmp_path, capsys):
    out = tmp_path / "scores.json"
    assert cli.main(["score", "--metadata", str(boxes / "meta"), "--scoremaps",
                     str(boxes / "maps"), "--val_scoremaps", str(boxes / "maps"),
                     "--cam_curve_interval", str(INTERVAL), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "MaxBoxAccV2" in printed and "threshold chosen on val" in printed
    assert json.loads(out.read_text()) == saved_maps.score(
        boxes / "meta", "test", boxes / "maps", val_maps=boxes / "maps",
        cam_curve_interval=INTERVAL)


@pytest.mark.parametrize("problem, words", [
    ("missing", ["no score map for image '003.class/test_3.jpg'", "test_3.jpg.npy"]),
    ("channels", ["'003.class/test_3.jpg'", "(1, 224, 224)", "2-D"]),
    ("range", ["'003.class/test_3.jpg'", "[0, 1]", "max 2"]),
    ("nan", ["'003.class/test_3.jpg'", "without NaN"]),
    ("mask_root", ["has masks", "--mask_root"]),
])
def test_a_missing_or_misshaped_map_is_one_line_naming_the_image(boxes, masks, tmp_path,
                                                                 capsys, problem, words):
    maps = tmp_path / "maps"
    shutil.copytree(boxes / "maps", maps)
    target = maps / "003.class" / "test_3.jpg.npy"
    m = np.load(target)
    if problem == "missing":
        target.unlink()
    elif problem == "channels":
        np.save(target, m[None])
    elif problem == "range":
        np.save(target, 2 * m)
    elif problem == "nan":
        m[3, 4] = np.nan
        np.save(target, m)
    meta = masks / "meta" if problem == "mask_root" else boxes / "meta"
    assert cli.main(["score", "--metadata", str(meta), "--scoremaps",
                     str(masks / "maps" if problem == "mask_root" else maps)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("camjax: error: "), err
    for word in words:
        assert word in err, (word, err)
