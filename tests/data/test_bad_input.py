"""Bad dataset folders fail when the source is opened (image bytes: at the first read)
with one user error naming the file (and line or image id) and what to do; valid files
as people have them (BOM, CRLF, empty localization, *.XML) are accepted."""
import re
import shutil

import numpy as np
import pytest

from camjax import config as config_lib
from camjax.data import (AnnotationError, pipeline, read_ilsvrc_xml, read_loc_val_solution,
                         read_synsets)
from camjax.errors import ConfigError, ImageError, UserError
from tests.conftest import DEMO
from tests.data.fixtures import make_folders, make_wsol


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return make_wsol(tmp_path_factory.mktemp("clean"))


@pytest.fixture
def data(clean, tmp_path):
    """A fresh copy of the fixture for each test to break."""
    shutil.copytree(clean["metadata"].parent, tmp_path / "d")
    return {"metadata": tmp_path / "d" / "metadata", "images": tmp_path / "d" / "images",
            "truth": clean["truth"]}


def open_wsol(data, split="test", **overrides):
    cfg = config_lib.load(DEMO, {"dataset": f"wsol:{data['metadata']}",
                                 "image_root": str(data["images"]), **overrides})
    return pipeline.open_source(cfg, split, data["metadata"].parent)


def named(error, path, line=None, match=""):
    where = f"{path}:{line}: " if line is not None else f"{path}: "
    return pytest.raises(error, match="^" + re.escape(where) + ".*" + match)


def edit(path, old, new):
    path.write_bytes(path.read_bytes().replace(old.encode(), new.encode(), 1))


def test_missing_metadata_file(data):
    meta = data["metadata"] / "test"
    (meta / "class_labels.txt").unlink()
    with named(AnnotationError, meta / "class_labels.txt", None, "missing file"):
        open_wsol(data)
    shutil.rmtree(meta)
    meta.mkdir()
    with named(AnnotationError, meta / "image_ids.txt", None, "missing"):
        open_wsol(data)


def test_id_in_one_file_and_not_another(data):
    meta = data["metadata"] / "test"
    first = data["truth"]["test"]["ids"][0]
    edit(meta / "class_labels.txt", first, "test/nowhere.png")
    with named(AnnotationError, meta / "class_labels.txt", 1, "unknown image id"):
        open_wsol(data)
    edit(meta / "class_labels.txt", "test/nowhere.png", first)
    lines = (meta / "image_sizes.txt").read_bytes().splitlines(keepends=True)
    (meta / "image_sizes.txt").write_bytes(b"".join(lines[1:]))
    with named(AnnotationError, meta / "image_sizes.txt", None, f"no size.*{first}"):
        open_wsol(data)


def test_label_not_an_integer_or_out_of_range(data):
    meta = data["metadata"] / "test"
    edit(meta / "class_labels.txt", ",0\r\n", ",zero\r\n")
    with named(AnnotationError, meta / "class_labels.txt", 1, "label must be an integer"):
        open_wsol(data)
    edit(meta / "class_labels.txt", ",zero\r\n", ",0\r\n")
    (data["metadata"] / "class_names.txt").write_text("a\nb\n")      # 2 classes, labels 0..2
    with named(AnnotationError, meta / "class_labels.txt", 7, "not below the number of "
                                                              "classes, 2"):
        open_wsol(data)


def test_box_outside_the_image(data):
    meta = data["metadata"] / "test"
    first = data["truth"]["test"]["ids"][0]
    w = data["truth"]["test"]["sizes"][0][0]
    lines = (meta / "localization.txt").read_text().splitlines()
    lines[0] = f"{first},0,0,{w + 1},5"
    (meta / "localization.txt").write_text("\n".join(lines) + "\n")
    with named(AnnotationError, meta / "localization.txt", 1, "outside the image"):
        open_wsol(data)


def test_more_boxes_than_max_boxes_is_said_when_opened(data):
    two = [i for i, b in data["truth"]["test"]["boxes"].items() if len(b) == 2]
    with pytest.raises(ConfigError, match="image '(" + "|".join(map(re.escape, two)) +
                       ")' of wsol:.* 'test' has 2 boxes, more than config.max_boxes=1: set "
                       "--config.max_boxes=2"):
        open_wsol(data, max_boxes=1)
    assert open_wsol(data, max_boxes=2).has_boxes


def test_missing_image_and_mask_files(data):
    truth = data["truth"]
    (data["images"] / truth["test"]["ids"][4]).unlink()
    with named(AnnotationError, data["metadata"] / "test" / "image_ids.txt", None,
               f"1 image file.*missing.*{re.escape(truth['test']['ids'][4])}"):
        open_wsol(data)
    mask = truth["val"]["ids"][0][:-4] + "_m0.png"
    (data["images"] / mask).unlink()
    with named(AnnotationError, data["metadata"] / "val" / "localization.txt", None,
               f"1 mask file.*missing.*{re.escape(mask)}"):
        open_wsol(data, "val")


def test_split_and_roots_that_do_not_exist(data, tmp_path):
    with named(AnnotationError, data["metadata"] / "validation", None,
               r"no such split folder \(found: test, train, val\)"):
        open_wsol(data, "validation")
    with pytest.raises(ConfigError, match="image_root"):
        open_wsol(data, image_root="")
    with pytest.raises(ConfigError, match=f"image_root='{tmp_path}/none' is not a folder"):
        open_wsol(data, image_root=str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="wsol:.*no such folder"):
        open_wsol({**data, "metadata": tmp_path / "nometa"})


def test_other_encodings_are_named(data):
    meta = data["metadata"] / "test"
    text = (meta / "class_labels.txt").read_bytes().decode()
    (meta / "class_labels.txt").write_bytes(text.encode("utf-16"))
    with named(AnnotationError, meta / "class_labels.txt", None, "UTF-16"):
        open_wsol(data)
    (meta / "class_labels.txt").write_bytes(text.replace(",1\r\n", ",1é\r\n", 1)
                                            .encode("latin-1"))
    line = text.splitlines().index(next(t for t in text.splitlines() if t.endswith(",1"))) + 1
    with named(AnnotationError, meta / "class_labels.txt", line, "not UTF-8"):
        open_wsol(data)


def test_an_image_that_does_not_decode_fails_at_its_first_read(data):
    path = data["images"] / data["truth"]["test"]["ids"][2]
    path.write_bytes(path.read_bytes()[:60])                    # truncated PNG
    src = open_wsol(data)                                       # its bytes are not read yet
    src[0]
    with named(ImageError, path, None, "does not decode"):
        src[2]


def folder_source(root, split="val", **overrides):
    cfg = config_lib.load(DEMO, {"dataset": f"folder:{root}", **overrides})
    return pipeline.open_source(cfg, split, root)


def test_folder_layout_errors(tmp_path):
    root = make_folders(tmp_path / "d")
    (root / "val" / "dog" / "dog_014.png").unlink()
    (root / "val" / "dog" / "nested" / "dog_015.png").unlink()
    with named(AnnotationError, root / "val" / "dog", None, "empty class folder"):
        folder_source(root)
    shutil.rmtree(root / "val" / "dog")
    (root / "val" / "owl").mkdir()
    with named(AnnotationError, root / "val" / "owl", None, "class folder not in"):
        folder_source(root)
    with pytest.raises(ConfigError, match=re.escape(f"{root / 'test'}: no such split folder "
                                                    "(found: train, val)")):
        folder_source(root, "test")
    with pytest.raises(ConfigError, match="no such folder"):
        folder_source(tmp_path / "nothing")


def test_every_error_is_a_user_error():
    for error in (AnnotationError, ConfigError, ImageError):
        assert issubclass(error, UserError) and issubclass(error, ValueError)


# ------------------------------------------------------------- files as people have them
def test_readers_accept_bom_crlf_and_upper_case_xml(tmp_path):
    synsets = tmp_path / "LOC_synset_mapping.txt"
    synsets.write_bytes("\ufeffn01440764 tench\r\nn01443537 goldfish\r\n".encode())
    assert read_synsets(synsets) == {"n01440764": 0, "n01443537": 1}
    csv = tmp_path / "LOC_val_solution.csv"
    csv.write_bytes("\ufeffImageId,PredictionString\r\nv1,n01443537 1 2 3 4 \r\n".encode())
    ann = read_loc_val_solution(csv, read_synsets(synsets))
    np.testing.assert_array_equal(ann.boxes["v1"], [[1, 2, 3, 4]])
    xml = ("<annotation><filename>v2</filename><size><width>10</width><height>9</height>"
           "</size><object><name>n01440764</name><bndbox><xmin>1</xmin><ymin>2</ymin>"
           "<xmax>5</xmax><ymax>6</ymax></bndbox></object></annotation>")
    (tmp_path / "xml").mkdir()
    (tmp_path / "xml" / "v2.XML").write_bytes(b"\xef\xbb\xbf" + xml.encode())
    ann = read_ilsvrc_xml(tmp_path / "xml", read_synsets(synsets))
    assert ann.image_ids == ["v2"] and ann.labels["v2"] == 0
