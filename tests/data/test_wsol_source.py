"""The wsolevaluation layout as a source: records, class names, box and mask rescaling
against hand-worked values and against wsolevaluation's own mask rule."""
import cv2
import numpy as np
import pytest

from camjax import config as config_lib
from camjax.data import pipeline, transforms, wsol
from tests.conftest import DEMO
from tests.data.fixtures import mask_files, make_wsol, save_png


@pytest.fixture(scope="module")
def wsol_data(tmp_path_factory):
    return make_wsol(tmp_path_factory.mktemp("wsol"))


def config(data, **overrides):
    return config_lib.load(DEMO, {"dataset": f"wsol:{data['metadata']}",
                                  "image_root": str(data["images"]), "image_size": 32,
                                  "eval_batch_size": 4, "data_threads": 1, **overrides})


@pytest.mark.parametrize("split, kind", [("train", "labels only"), ("val", "masks"),
                                         ("test", "boxes")])
def test_every_split_reads(wsol_data, tmp_path, split, kind):
    src = pipeline.open_source(config(wsol_data), split, tmp_path)
    truth = wsol_data["truth"][split]
    assert isinstance(src, wsol.WsolSource) and len(src) == len(truth["ids"])
    assert (src.has_boxes, src.has_masks) == (kind == "boxes", kind == "masks")
    assert src.class_names == ["class_0", "class_1", "class_2"] and src.num_classes == 3
    assert split in src.description and kind in src.description
    for i in range(len(src)):
        rec = src[i]
        w, h = truth["sizes"][i]
        assert rec["image"].shape == (h, w, 3) and rec["image"].dtype == np.uint8
        assert rec["label"] == truth["labels"][i] and rec["file_name"] == truth["ids"][i]
        # the BOM of train/image_ids.txt is not glued onto the first id
        assert not rec["file_name"].startswith("\ufeff")
        if kind == "boxes":
            np.testing.assert_array_equal(rec["boxes"], truth["boxes"][rec["file_name"]])
            assert rec["boxes"].dtype == np.int64
        else:
            assert "boxes" not in rec
        assert ("mask" in rec) == (kind == "masks")


def test_class_names_txt_names_the_classes(wsol_data, tmp_path):
    import shutil
    meta = tmp_path / "meta"
    shutil.copytree(wsol_data["metadata"], meta)
    (meta / "class_names.txt").write_bytes("\ufeffAlbatross\r\nGull\r\nTern\r\nEmpty\r\n"
                                           .encode())
    src = pipeline.open_source(config(wsol_data, dataset=f"wsol:{meta}"), "test", tmp_path)
    assert src.class_names == ["Albatross", "Gull", "Tern", "Empty"] and src.num_classes == 4


def _one_image(tmp_path, loc_lines, sizes="40,30", file_size=(40, 30)):
    meta, images = tmp_path / "meta", tmp_path / "images"
    (meta / "test").mkdir(parents=True)
    save_png(images / "a.png", np.full((file_size[1], file_size[0], 3), 9, np.uint8))
    for name, text in {"image_ids.txt": "a.png\n", "class_labels.txt": "a.png,0\n",
                       "image_sizes.txt": f"a.png,{sizes}\n",
                       "localization.txt": "".join(f"a.png,{x}\n" for x in loc_lines)}.items():
        (meta / "test" / name).write_text(text)
    return {"metadata": meta, "images": images}


def test_boxes_rescaled_to_eval_map_size(tmp_path):
    data = _one_image(tmp_path, ["4,3,19,29", "0,0,39,29"])
    cfg = config(data, eval_map_size=16, image_size=32, eval_batch_size=2)
    src = pipeline.open_source(cfg, "test", tmp_path)
    _, batch = next(pipeline.eval_batches(src, cfg))
    assert batch["image"].shape == (2, 32, 32, 3)
    # 40 x 30 -> 16 x 16, int(x * 16 / 40), int(y * 16 / 30): 4 -> 1, 3 -> 1, 19 -> 7,
    # 29 -> 15 (15.47), 39 -> 15 (15.6)
    np.testing.assert_array_equal(batch["boxes"][0, :2], [[1, 1, 7, 15], [0, 0, 15, 15]])
    assert np.all(batch["boxes"][0, 2:] == -1) and not batch["valid"][1]
    # eval_map_size 0: the image's frame, 32 x 32: 4 -> 3, 3 -> 3, 19 -> 15, 29 -> 30
    _, batch = next(pipeline.eval_batches(src, config(data, eval_batch_size=2)))
    np.testing.assert_array_equal(batch["boxes"][0, 0], [3, 3, 15, 30])


def test_a_box_to_the_image_edge_ends_at_the_maps_last_pixel(tmp_path):
    """wsolevaluation's x + width reaches the 40 x 30 image's edge: x1 = 40, y1 = 30."""
    data = _one_image(tmp_path, ["20,15,40,30"])
    cfg = config(data, eval_map_size=16, eval_batch_size=1)
    _, batch = next(pipeline.eval_batches(pipeline.open_source(cfg, "test", tmp_path), cfg))
    # int(20 * 16 / 40) = 8, int(15 * 16 / 30) = 8, int(40 * 16 / 40) = 16 -> 15 (the last)
    np.testing.assert_array_equal(batch["boxes"][0, 0], [8, 8, 15, 15])


def test_a_resized_copy_of_the_images_gets_rescaled_boxes(tmp_path):
    """image_sizes.txt says 40 x 30, the file is 20 x 15: boxes follow the file."""
    data = _one_image(tmp_path, ["4,3,19,29"], file_size=(20, 15))
    src = pipeline.open_source(config(data), "test", tmp_path)
    # int(4 * 20 / 40) = 2, int(3 * 15 / 30) = 1, int(19 * 20 / 40) = 9, int(29 * 15 / 30) = 14
    np.testing.assert_array_equal(src[0]["boxes"], [[2, 1, 9, 14]])


def test_masks_union_and_ignore_by_hand(tmp_path):
    """Two mask files and an ignore file on an 8 x 4 image, scored at 4 x 4."""
    meta, images = tmp_path / "meta", tmp_path / "images"
    (meta / "val").mkdir(parents=True)
    save_png(images / "a.png", np.zeros((4, 8, 3), np.uint8))
    m0, m1, ignore = (np.zeros((4, 8), np.uint8) for _ in range(3))
    m0[:, :4] = 255                  # left half
    m1[:2, 6] = 200                  # any value > 0 is object
    ignore[3, 2:] = 255              # ignore the bottom row right of column 2
    for name, m in (("a_m0.png", m0), ("a_m1.png", m1), ("a_ignore.png", ignore)):
        save_png(tmp_path / "masks" / name, m)
    for name, text in {"image_ids.txt": "a.png\n", "class_labels.txt": "a.png,0\n",
                       "image_sizes.txt": "",
                       "localization.txt": "a.png,a_m0.png,a_ignore.png\na.png,a_m1.png,\n"
                       }.items():
        (meta / "val" / name).write_text(text)
    cfg = config({"metadata": meta, "images": images}, mask_root=str(tmp_path / "masks"),
                 eval_map_size=4, image_size=32)
    record = pipeline.open_source(cfg, "val", tmp_path)[0]
    expected_full = np.array([[1, 1, 1, 1, 0, 0, 1, 0],
                              [1, 1, 1, 1, 0, 0, 1, 0],
                              [1, 1, 1, 1, 0, 0, 0, 0],
                              [1, 1, 1, 1, 255, 255, 255, 255]], np.uint8)
    np.testing.assert_array_equal(record["mask"], expected_full)
    example = transforms.eval_example(record, image_size=32, with_boxes=False, map_size=4)
    # nearest neighbour 8 -> 4 columns keeps columns 0, 2, 4, 6
    np.testing.assert_array_equal(example["mask"], expected_full[:, [0, 2, 4, 6]])
    assert example["image"].shape == (32, 32, 3)


def _wsolevaluation_mask(images, image_id, j, n_masks, size):
    """wsolevaluation's get_mask, written from evaluation.py: each file read grey with
    OpenCV and resized (nearest) to the score map first, then > 0.5, union, ignore."""
    masks, ignore = mask_files(image_id, [None] * n_masks, j)

    def load(name):
        m = np.float32(cv2.imread(str(images / name), cv2.IMREAD_GRAYSCALE))
        return cv2.resize(m, (size, size), interpolation=cv2.INTER_NEAREST) > 0.5
    fg = np.stack([load(m) for m in masks]).any(0)
    ign = load(ignore) & ~fg if ignore else np.zeros_like(fg)
    return fg.astype(np.uint8) + 255 * ign.astype(np.uint8)


@pytest.mark.parametrize("size", [24, 37])
def test_masks_match_wsolevaluation(wsol_data, tmp_path, size):
    src = pipeline.open_source(config(wsol_data), "val", tmp_path)
    truth = wsol_data["truth"]["val"]
    for i, image_id in enumerate(truth["ids"]):
        j = i % 2                                   # 2 images per class
        got = transforms.eval_example(src[i], image_size=32, with_boxes=False,
                                      map_size=size)["mask"]
        want = _wsolevaluation_mask(wsol_data["images"], image_id, j,
                                    len(truth["boxes"][image_id]), size)
        np.testing.assert_array_equal(got, want, err_msg=image_id)
        assert (got == 255).any() == (j != 1)       # the second image has no ignore file
