"""Class folders as a source: torchvision's ImageFolder order and classes, boxes joined
from config.eval_annotations, EXIF orientation."""
import numpy as np
import pytest
from PIL import Image

from camjax import config as config_lib
from camjax.data import AnnotationError, folders, pipeline
from tests.conftest import DEMO
from tests.data.fixtures import make_folders


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_folders(tmp_path_factory.mktemp("folders"))


def config(root, **overrides):
    return config_lib.load(DEMO, {"dataset": f"folder:{root}", "image_size": 32,
                                  "eval_batch_size": 4, "data_threads": 1, **overrides})


def test_layout_classes_and_order(tree, tmp_path):
    src = pipeline.open_source(config(tree), "train", tmp_path)
    assert isinstance(src, folders.ImageFolderSource)
    assert src.class_names == ["cat", "dog", "eel"] and src.num_classes == 3
    assert not src.has_boxes and not src.has_masks
    # os.walk sorted: a folder's own files (sorted, any case of extension, notes.txt
    # skipped) before its subfolders'
    assert [src[i]["file_name"] for i in range(4)] == [
        "cat/cat_000.png", "cat/cat_002.JPG", "cat/cat_003.png", "cat/nested/cat_001.png"]
    assert [src[i]["label"] for i in range(len(src))] == [0] * 4 + [1] * 4 + [2] * 4
    for i in range(len(src)):          # grey (L) and RGBA files come out RGB
        rec = src[i]
        assert rec["image"].ndim == 3 and rec["image"].shape[2] == 3
        assert rec["image"].dtype == np.uint8
    assert "folder:" in src.description and "'train'" in src.description


def test_other_splits_use_the_training_classes(tmp_path):
    root = make_folders(tmp_path / "d", per_split=(("train", 2),))
    make_folders(tmp_path / "d", classes=("dog",), per_split=(("val", 2),))
    src = pipeline.open_source(config(root), "val", tmp_path)
    assert src.class_names == ["cat", "dog", "eel"]
    assert [src[i]["label"] for i in range(len(src))] == [1, 1]    # dog stays class 1


def test_boxes_joined_by_file_name(tree, tmp_path):
    val = pipeline.open_source(config(tree), "val", tmp_path)
    meta = tmp_path / "meta"
    meta.mkdir()
    names = [val[i]["file_name"] for i in range(len(val))]
    (meta / "image_ids.txt").write_text("".join(f"x/{n}\n" for n in names))
    (meta / "class_labels.txt").write_text("".join(f"x/{n},0\n" for n in names))
    (meta / "localization.txt").write_text(
        "".join(f"x/{n},{k},1,{k + 9},20\n" for k, n in enumerate(names)))
    cfg = config(tree, eval_annotations=str(meta), eval_map_size=0)
    src = pipeline.open_source(cfg, "val", tmp_path)
    assert src.has_boxes
    np.testing.assert_array_equal(src[3]["boxes"], [[3, 1, 12, 20]])
    train = pipeline.open_source(cfg, "train", tmp_path, join_annotations=False)
    assert not train.has_boxes
    (meta / "localization.txt").write_text(
        "".join(f"x/{n},1,1,9,20\n" for n in names[:-1]))
    (meta / "image_ids.txt").write_text("".join(f"x/{n}\n" for n in names[:-1]))
    (meta / "class_labels.txt").write_text("".join(f"x/{n},0\n" for n in names[:-1]))
    with pytest.raises(AnnotationError, match=f"^{meta}: no boxes for 1 image.*"
                                              f"{names[-1].split('/')[-1]}"):
        pipeline.open_source(cfg, "val", tmp_path)


def _exif_rotated(path, orientation=6):
    """A 40 x 20 JPEG whose left 10 columns are white, tagged 'rotate 90 clockwise'."""
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :10] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path, "JPEG", quality=98, exif=exif)


def test_exif_orientation_applied_unless_boxes_are_joined(tmp_path):
    for split in ("train", "val"):
        _exif_rotated(tmp_path / "d" / split / "a" / "photo.jpg")
    src = pipeline.open_source(config(tmp_path / "d"), "train", tmp_path)
    image = src[0]["image"]
    assert image.shape == (40, 20, 3)                  # shown upright: 20 wide, 40 high
    assert image[:10].mean() > 240 and image[12:].mean() < 15   # the white band on top
    meta = tmp_path / "meta"
    meta.mkdir()
    for name, text in {"image_ids.txt": "a/photo.jpg\n", "class_labels.txt": "a/photo.jpg,0\n",
                       "localization.txt": "a/photo.jpg,0,0,9,19\n"}.items():
        (meta / name).write_text(text)
    joined = pipeline.open_source(config(tmp_path / "d", eval_annotations=str(meta)), "val",
                                  tmp_path)
    assert joined[0]["image"].shape == (20, 40, 3)     # the stored frame of the boxes
