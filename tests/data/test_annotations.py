"""Readers of ground truth on small fixture files: parsed values, and malformed input
that must fail with AnnotationError naming the exact file:line."""
import re
from pathlib import Path

import numpy as np
import pytest

from camjax.data import (AnnotationError, join_by_file_name, read_ilsvrc_xml,
                         read_loc_val_solution, read_synsets, read_wsol_metadata,
                         tfds_boxes)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def raises_at(path, line, match=""):
    """pytest.raises for an AnnotationError whose message starts with 'path:line:'."""
    where = f"{path}:{line}: " if line is not None else f"{path}: "
    return pytest.raises(AnnotationError, match="^" + re.escape(where) + ".*" + match)


# ------------------------------------------------------------- wsolevaluation format
CUB = {
    "image_ids.txt": "001.A/a_1.jpg\n001.A/a_2.jpg\n002.B/b_1.jpg\n",
    "class_labels.txt": "001.A/a_1.jpg,0\n001.A/a_2.jpg,0\n002.B/b_1.jpg,1\n",
    "image_sizes.txt": "001.A/a_1.jpg,500,375\n001.A/a_2.jpg,100,50\n002.B/b_1.jpg,64,64\n",
    "localization.txt": ("001.A/a_1.jpg,111,108,441,193\n001.A/a_2.jpg,0,0,99,49\n"
                         "002.B/b_1.jpg,1,2,3,4\n002.B/b_1.jpg,10,10,63,63\n"),
}


def make_split(tmp_path, **override):
    files = dict(CUB, **override)
    for name, text in files.items():
        if text is not None:
            write(tmp_path / name, text)
    return tmp_path


def test_wsol_metadata_boxes(tmp_path):
    ann = read_wsol_metadata(make_split(tmp_path))
    assert ann.image_ids == ["001.A/a_1.jpg", "001.A/a_2.jpg", "002.B/b_1.jpg"]
    assert ann.labels == {"001.A/a_1.jpg": 0, "001.A/a_2.jpg": 0, "002.B/b_1.jpg": 1}
    assert ann.sizes["001.A/a_1.jpg"] == (500, 375)          # (width, height)
    np.testing.assert_array_equal(ann.boxes["002.B/b_1.jpg"], [[1, 2, 3, 4], [10, 10, 63, 63]])
    assert ann.boxes["001.A/a_1.jpg"].dtype == np.int64
    # 500 x 375 to 224 x 224: int(111*224/500)=49, int(108*224/375)=64, 197, 115
    np.testing.assert_array_equal(ann.scaled_boxes("001.A/a_1.jpg", (224, 224)),
                                  [[49, 64, 197, 115]])


def test_wsol_metadata_without_localization_has_no_boxes(tmp_path):
    ann = read_wsol_metadata(make_split(tmp_path, **{"localization.txt": None}))
    assert ann.boxes == {} and len(ann.image_ids) == 3


def test_wsol_metadata_openimages_masks(tmp_path):
    # OpenImages: no image_sizes.txt; localization.txt lists id,mask,ignore; later lines
    # of the same image leave the ignore field empty
    folder = make_split(tmp_path, **{
        "image_sizes.txt": None,
        "localization.txt": ("001.A/a_1.jpg,m/a1_0.png,m/a1_ignore.png\n"
                             "001.A/a_1.jpg,m/a1_1.png,\n"
                             "001.A/a_2.jpg,m/a2_0.png,m/a2_ignore.png\n"
                             "002.B/b_1.jpg,m/b1_0.png,\n")})
    ann = read_wsol_metadata(folder)
    assert ann.boxes == {} and ann.sizes == {}
    assert ann.mask_paths["001.A/a_1.jpg"] == ["m/a1_0.png", "m/a1_1.png"]
    assert ann.ignore_paths == {"001.A/a_1.jpg": "m/a1_ignore.png",
                                "001.A/a_2.jpg": "m/a2_ignore.png", "002.B/b_1.jpg": None}


def test_wsol_metadata_crlf_and_blank_trailing_lines(tmp_path):
    folder = make_split(tmp_path, **{"class_labels.txt": CUB["class_labels.txt"]
                                     .replace("\n", "\r\n") + "\r\n\r\n"})
    assert read_wsol_metadata(folder).labels["002.B/b_1.jpg"] == 1


@pytest.mark.parametrize("name, text, line, match", [
    ("image_ids.txt", "a.jpg\nb.jpg\na.jpg\n", 3, "duplicate image id 'a.jpg' .first on line 1"),
    ("class_labels.txt", "001.A/a_1.jpg,0\n001.A/a_2.jpg\n", 2, "expected 2 comma-separated"),
    ("class_labels.txt", "001.A/a_1.jpg,0\n001.A/a_2.jpg,zero\n", 2, "label must be an integer"),
    ("class_labels.txt", "001.A/a_1.jpg,0\n001.A/a_1.jpg,0\n", 2, "duplicate image id"),
    ("class_labels.txt", "001.A/a_1.jpg,0\nc.jpg,3\n", 2, "unknown image id 'c.jpg'"),
    ("image_sizes.txt", "001.A/a_1.jpg,500,375\n001.A/a_2.jpg,100\n", 2, "expected 3"),
    ("image_sizes.txt", "001.A/a_1.jpg,500,0\n", 1, "must be positive"),
    ("localization.txt", "001.A/a_1.jpg,1,2,3,4\n001.A/a_2.jpg,5,5,4,9\n", 2, "x1 < x0"),
    ("localization.txt", "001.A/a_1.jpg,1,2,3,4\n\n002.B/b_1.jpg,1,9,3,4\n", 3, "y1 < y0"),
    ("localization.txt", "001.A/a_1.jpg,1,2,3\n", 1, "expected 5"),
    ("localization.txt", "001.A/a_1.jpg,1,2,3,4.5\n", 1, "y1 must be an integer"),
    ("localization.txt", "001.A/a_1.jpg,1,2,3,4\nzzz.jpg,1,2,3,4\n", 2, "unknown image id"),
    # 100 x 50 image: pixels x 0..99, y 0..49; x1 = 100 is tolerated (CUB's x + w),
    # x1 = 101 and x0 = 100 are outside
    ("localization.txt", "001.A/a_1.jpg,1,2,3,4\n001.A/a_2.jpg,0,0,101,49\n", 2,
     r"outside the image of size 100x50 \(x1 <= 100, y1 <= 50\)"),
    ("localization.txt", "001.A/a_1.jpg,1,2,3,4\n001.A/a_2.jpg,100,0,100,49\n", 2,
     "outside the image"),
    ("localization.txt", "001.A/a_1.jpg,-1,2,3,4\n", 1, "outside"),
    ("localization.txt", "001.A/a_1.jpg,m.png,\n001.A/a_1.jpg,m2.png,ign.png\n", 2,
     "ignore mask"),
])
def test_wsol_metadata_malformed_line(tmp_path, name, text, line, match):
    folder = make_split(tmp_path, **{name: text})
    with raises_at(folder / name, line, match):
        read_wsol_metadata(folder)


def test_wsol_metadata_missing_entries(tmp_path):
    folder = make_split(tmp_path, **{"class_labels.txt": "001.A/a_1.jpg,0\n"})
    with raises_at(folder / "class_labels.txt", None, "no label for 2 image"):
        read_wsol_metadata(folder)
    folder = make_split(tmp_path, **{"class_labels.txt": CUB["class_labels.txt"],
                                     "localization.txt": "001.A/a_1.jpg,1,2,3,4\n"})
    with raises_at(folder / "localization.txt", None, "no box for 2 image"):
        read_wsol_metadata(folder)
    folder = make_split(tmp_path, **{"localization.txt": "001.A/a_1.jpg,m.png,ign.png\n"})
    with raises_at(folder / "localization.txt", None, "no mask for 2 image"):
        read_wsol_metadata(folder)
    with raises_at(tmp_path / "nowhere" / "image_ids.txt", None, "missing"):
        read_wsol_metadata(tmp_path / "nowhere")


def test_wsol_metadata_box_may_end_one_past_the_image(tmp_path):
    # CUB in wsolevaluation: x1 = x + w, so a box touching the right edge of a 100-wide
    # image ends at 100; it is kept as written (rescaling matches wsolevaluation)
    folder = make_split(tmp_path, **{"localization.txt": CUB["localization.txt"].replace(
        "001.A/a_2.jpg,0,0,99,49", "001.A/a_2.jpg,0,0,100,50")})
    np.testing.assert_array_equal(read_wsol_metadata(folder).boxes["001.A/a_2.jpg"],
                                  [[0, 0, 100, 50]])


def test_wsol_metadata_clip(tmp_path):
    folder = make_split(tmp_path, **{"localization.txt": CUB["localization.txt"].replace(
        "001.A/a_2.jpg,0,0,99,49", "001.A/a_2.jpg,-2,0,100,55")})
    ann = read_wsol_metadata(folder, clip=True)
    np.testing.assert_array_equal(ann.boxes["001.A/a_2.jpg"], [[0, 0, 99, 49]])


# ------------------------------------------------------------------------ synsets
def test_read_synsets(tmp_path):
    p = write(tmp_path / "LOC_synset_mapping.txt",
              "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n"
              "n01751748 sea snake\n")
    assert read_synsets(p) == {"n01440764": 0, "n01443537": 1, "n01751748": 2}
    bad = write(tmp_path / "bad.txt", "n01440764 tench\ngoldfish n01443537\n")
    with raises_at(bad, 2, "WordNet id"):
        read_synsets(bad)
    dup = write(tmp_path / "dup.txt", "n01440764 tench\nn01440764 tench again\n")
    with raises_at(dup, 2, "duplicate synset"):
        read_synsets(dup)


SYN = {"n01440764": 0, "n01443537": 1, "n01751748": 2}


# ---------------------------------------------------------------------- ILSVRC XML
def xml(filename="ILSVRC2012_val_00000001", w=500, h=375, objects=(("n01751748",
        (111, 108, 441, 193)),)):
    objs = "".join(
        f"""	<object>
		<name>{name}</name>
		<pose>Unspecified</pose>
		<bndbox>
			<xmin>{b[0]}</xmin>
			<ymin>{b[1]}</ymin>
			<xmax>{b[2]}</xmax>
			<ymax>{b[3]}</ymax>
		</bndbox>
	</object>
""" for name, b in objects)
    return f"""<annotation>
	<folder>val</folder>
	<filename>{filename}</filename>
	<size>
		<width>{w}</width>
		<height>{h}</height>
		<depth>3</depth>
	</size>
{objs}</annotation>
"""
# line numbers in xml(): 1 <annotation>, 4 <size>, 5 <width>; first object: 9 <object>,
# 10 <name>, 12 <bndbox>, 13 <xmin> ... 16 <ymax>; each object adds 10 lines.


def test_ilsvrc_xml(tmp_path):
    write(tmp_path / "ILSVRC2012_val_00000001.xml", xml())
    write(tmp_path / "ILSVRC2012_val_00000002.xml", xml(
        "ILSVRC2012_val_00000002", objects=[("n01443537", (45, 49, 499, 162)),
                                            ("n01443537", (2, 69, 437, 207))]))
    write(tmp_path / "notes.txt", "not an annotation")
    ann = read_ilsvrc_xml(tmp_path, SYN)
    assert ann.image_ids == ["ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002"]
    assert ann.labels == {"ILSVRC2012_val_00000001": 2, "ILSVRC2012_val_00000002": 1}
    assert ann.sizes["ILSVRC2012_val_00000002"] == (500, 375)
    np.testing.assert_array_equal(ann.boxes["ILSVRC2012_val_00000002"],
                                  [[45, 49, 499, 162], [2, 69, 437, 207]])
    # one file, or a list of files
    one = read_ilsvrc_xml(tmp_path / "ILSVRC2012_val_00000001.xml", SYN)
    np.testing.assert_array_equal(one.boxes["ILSVRC2012_val_00000001"], [[111, 108, 441, 193]])
    assert read_ilsvrc_xml([tmp_path / "ILSVRC2012_val_00000002.xml"], SYN).image_ids == [
        "ILSVRC2012_val_00000002"]


@pytest.mark.parametrize("text, line, match", [
    (xml().replace("<ymax>193</ymax>", ""), 12, "<bndbox> has no <ymax>"),
    (xml().replace("<xmin>111<", "<xmin>1.5e2<"), 13, "<xmin> must be an integer"),
    (xml().replace("n01751748", "n09999999"), 10, "unknown synset 'n09999999'"),
    (xml().replace("<xmax>441<", "<xmax>100<"), 12, r"x1 < x0"),
    # 500 x 375: x 0..499; xmax 500 is outside
    (xml().replace("<xmax>441<", "<xmax>500<"), 12, "outside the image of size 500x375"),
    (xml().replace("<height>375</height>", ""), 4, "<size> has no <height>"),
    (xml().replace("</bndbox>", "</bndbx>", 1), 17, "not well-formed"),
    (xml(objects=()), 1, "no <object>"),
    (xml(objects=[("n01751748", (1, 1, 5, 5)), ("n01440764", (1, 1, 5, 5))]), 20,
     "several classes"),
])
def test_ilsvrc_xml_malformed(tmp_path, text, line, match):
    p = write(tmp_path / "ILSVRC2012_val_00000001.xml", text)
    with raises_at(p, line, match):
        read_ilsvrc_xml(tmp_path, SYN)


def test_ilsvrc_xml_duplicate_ids_and_empty_folder(tmp_path):
    write(tmp_path / "a.xml", xml())
    b = write(tmp_path / "b.xml", xml())       # same <filename>
    with raises_at(b, None, "duplicate image id"):
        read_ilsvrc_xml(tmp_path, SYN)
    (tmp_path / "empty").mkdir()
    with raises_at(tmp_path / "empty", None, "no .xml files"):
        read_ilsvrc_xml(tmp_path / "empty", SYN)


# ----------------------------------------------------------------- Kaggle CSV
CSV = ("ImageId,PredictionString\n"
       "ILSVRC2012_val_00008726,n01443537 255 142 454 329 n01443537 44 21 322 295 \n"
       "ILSVRC2012_val_00000001,n01751748 111 108 441 193 \n")


def test_loc_val_solution(tmp_path):
    p = write(tmp_path / "LOC_val_solution.csv", CSV)
    ann = read_loc_val_solution(p, SYN)
    assert ann.image_ids == ["ILSVRC2012_val_00008726", "ILSVRC2012_val_00000001"]
    assert ann.labels == {"ILSVRC2012_val_00008726": 1, "ILSVRC2012_val_00000001": 2}
    np.testing.assert_array_equal(ann.boxes["ILSVRC2012_val_00008726"],
                                  [[255, 142, 454, 329], [44, 21, 322, 295]])
    sizes = {"ILSVRC2012_val_00008726": (500, 375), "ILSVRC2012_val_00000001": (500, 375)}
    assert read_loc_val_solution(p, SYN, sizes=sizes).sizes == sizes


@pytest.mark.parametrize("text, line, match", [
    ("ImageId,Boxes\n", 1, "header"),
    (CSV + "ILSVRC2012_val_00000002,n01751748 1 2 3\n", 4, "repeat"),
    (CSV + "ILSVRC2012_val_00000002\n", 4, "expected 2"),
    (CSV + "ILSVRC2012_val_00000002,n01751748 1 2 3 x\n", 4, "ymax must be an integer"),
    (CSV + "ILSVRC2012_val_00000002,n00000000 1 2 3 4\n", 4, "unknown synset"),
    (CSV + "ILSVRC2012_val_00000002,n01751748 9 2 3 4\n", 4, "x1 < x0"),
    (CSV + "ILSVRC2012_val_00000001,n01751748 1 2 3 4\n", 4, "duplicate image id .* line 3"),
    (CSV + "ILSVRC2012_val_00000002,n01751748 1 2 3 4 n01440764 1 2 3 4\n", 4,
     "several classes"),
])
def test_loc_val_solution_malformed(tmp_path, text, line, match):
    p = write(tmp_path / "LOC_val_solution.csv", text)
    with raises_at(p, line, match):
        read_loc_val_solution(p, SYN)


def test_loc_val_solution_with_sizes_checks_bounds_and_ids(tmp_path):
    p = write(tmp_path / "LOC_val_solution.csv", CSV)
    with raises_at(p, 2, "unknown image id"):
        read_loc_val_solution(p, SYN, sizes={"ILSVRC2012_val_00000001": (500, 375)})
    small = {"ILSVRC2012_val_00008726": (400, 375), "ILSVRC2012_val_00000001": (500, 375)}
    with raises_at(p, 2, "outside the image of size 400x375"):   # x1 454 > 399
        read_loc_val_solution(p, SYN, sizes=small)
    edge = {"ILSVRC2012_val_00008726": (454, 375), "ILSVRC2012_val_00000001": (500, 375)}
    with raises_at(p, 2, r"x1 <= 453"):                           # strict: x1 454 > 453
        read_loc_val_solution(p, SYN, sizes=edge)


# --------------------------------------------------------------------------- TFDS
def test_tfds_boxes_single_and_objects():
    image = np.zeros((4, 8, 3), np.uint8)
    # H 4, W 8; (ymin, xmin, ymax, xmax) = (.25, .125, .75, .5):
    # x0 = round(.125 * 8) = 1, x1 = round(.5 * 8) - 1 = 3, y0 = round(.25 * 4) = 1,
    # y1 = round(.75 * 4) - 1 = 2
    rec = {"image": image, "bbox": np.array([0.25, 0.125, 0.75, 0.5], np.float32),
           "segmentation_mask": np.zeros((4, 8, 1), np.uint8), "label": 3}
    np.testing.assert_array_equal(tfds_boxes(rec), [[1, 1, 3, 2]])
    # the whole image: (0, 0, 1, 1) -> (0, 0, 7, 3)
    rec2 = {"image": image, "objects": {"bbox": np.array([[0.25, 0.125, 0.75, 0.5],
                                                          [0.0, 0.0, 1.0, 1.0]])}}
    np.testing.assert_array_equal(tfds_boxes(rec2), [[1, 1, 3, 2], [0, 0, 7, 3]])
    with pytest.raises(KeyError, match="bbox"):
        tfds_boxes({"image": image})


def test_join_by_file_name(tmp_path):
    write(tmp_path / "ILSVRC2012_val_00000001.xml", xml())
    write(tmp_path / "ILSVRC2012_val_00000002.xml", xml(
        "ILSVRC2012_val_00000002", objects=[("n01443537", (45, 49, 499, 162))]))
    ann = read_ilsvrc_xml(tmp_path, SYN)
    records = [{"file_name": b"ILSVRC2012_val_00000002.JPEG", "label": 1},
               {"file_name": "ILSVRC2012_val_00000001.JPEG", "label": np.int64(2)}]
    pairs = list(join_by_file_name(records, ann))
    assert [p[0] for p in pairs] == records
    np.testing.assert_array_equal(pairs[0][1], [[45, 49, 499, 162]])
    np.testing.assert_array_equal(pairs[1][1], [[111, 108, 441, 193]])
    with pytest.raises(AnnotationError, match="record 0.*label 0 but the annotation says 1"):
        list(join_by_file_name([{"file_name": "ILSVRC2012_val_00000002.JPEG", "label": 0}], ann))
    assert len(list(join_by_file_name(
        [{"file_name": "ILSVRC2012_val_00000002.JPEG", "label": 0}], ann,
        check_labels=False))) == 1
    with pytest.raises(AnnotationError, match="record 0: unknown image id 'ILSVRC2012_val_9'"):
        list(join_by_file_name([{"file_name": "ILSVRC2012_val_9.JPEG"}], ann))


def test_join_with_wsol_metadata_ids(tmp_path):
    # wsolevaluation ids carry a folder and an extension: val/ILSVRC2012_val_00000001.JPEG
    folder = make_split(tmp_path, **{
        "image_ids.txt": "val/ILSVRC2012_val_00000001.JPEG\n",
        "class_labels.txt": "val/ILSVRC2012_val_00000001.JPEG,2\n",
        "image_sizes.txt": "val/ILSVRC2012_val_00000001.JPEG,500,375\n",
        "localization.txt": "val/ILSVRC2012_val_00000001.JPEG,111,108,441,193\n"})
    ann = read_wsol_metadata(folder)
    (rec, boxes), = join_by_file_name([{"file_name": "ILSVRC2012_val_00000001.JPEG",
                                        "label": 2}], ann)
    np.testing.assert_array_equal(boxes, [[111, 108, 441, 193]])
