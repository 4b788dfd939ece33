"""TFDS records' boxes and joining records with annotations by file name
(``config.eval_annotations``: ILSVRC XML or CSV, or a wsolevaluation metadata folder).

Boxes come back as camjax boxes in the original image's frame (see annotations.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from camjax.data.annotations import AnnotationError, Annotations, read_wsol_metadata
from camjax.errors import ConfigError
from camjax.geometry import tfds_to_pixel_boxes


def tfds_boxes(record: dict[str, Any]) -> np.ndarray:
    """(n, 4) camjax boxes of a TFDS record: ``bbox`` (caltech_birds2011, one box) or
    ``objects/bbox`` (n boxes), normalised (ymin, xmin, ymax, xmax), converted with the
    image's height and width by ``camjax.geometry.tfds_to_pixel_boxes``. Other keys
    (``segmentation_mask``, labels) are ignored."""
    if "bbox" in record:
        bbox = record["bbox"]
    elif "objects" in record and "bbox" in record["objects"]:
        bbox = record["objects"]["bbox"]
    else:
        raise KeyError("the record has no 'bbox' or 'objects/bbox' feature")
    image = np.asarray(record["image"]) if "image" in record else None
    if image is None or image.ndim < 2:
        raise KeyError("the record needs its 'image' (H, W, C) to convert normalised boxes")
    height, width = image.shape[:2]
    bbox = np.asarray(bbox, np.float64).reshape(-1, 4)
    return np.asarray(tfds_to_pixel_boxes(bbox, height, width), np.int64).reshape(-1, 4)


def file_stem(name) -> str:
    """'val/ILSVRC2012_val_00000001.JPEG' (or bytes) -> 'ILSVRC2012_val_00000001'."""
    if isinstance(name, np.ndarray):
        name = name.item()
    if isinstance(name, bytes):
        name = name.decode("utf-8")
    return Path(str(name)).stem


def join_by_file_name(records: Iterable[dict[str, Any]], annotations: Annotations, *,
                      check_labels: bool = True) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """Pair imagenet2012 TFDS records (``file_name``) with boxes read from the XML, the
    Kaggle CSV or wsolevaluation metadata, matching file names without folder and
    extension. Yields (record, boxes). With ``check_labels`` the record's ``label`` must
    equal the annotation's (true when synsets come from LOC_synset_mapping.txt)."""
    by_stem: dict[str, str] = {}
    for image_id in annotations.boxes:
        stem = file_stem(image_id)
        if stem in by_stem:
            raise AnnotationError("<annotations>", None,
                                  f"two image ids share the file name {stem!r}: "
                                  f"{by_stem[stem]!r}, {image_id!r}")
        by_stem[stem] = image_id
    for k, record in enumerate(records):
        if "file_name" not in record:
            raise KeyError(f"record {k} has no 'file_name' feature")
        stem = file_stem(record["file_name"])
        if stem not in by_stem:
            raise AnnotationError("<tfds record>", None, f"record {k}: unknown image id "
                                                         f"{stem!r}, no annotation for it")
        image_id = by_stem[stem]
        if check_labels and "label" in record and image_id in annotations.labels:
            if int(record["label"]) != annotations.labels[image_id]:
                raise AnnotationError("<tfds record>", None, f"record {k} ({stem}): label "
                                      f"{int(record['label'])} but the annotation says "
                                      f"{annotations.labels[image_id]}; index synsets with "
                                      "LOC_synset_mapping.txt or pass check_labels=False")
        yield record, annotations.boxes[image_id]


def box_lookup(config) -> dict | None:
    """file stem -> (n, 4) pixel boxes from ``config.eval_annotations`` (None when unset)."""
    path = config.eval_annotations
    if not path:
        return None
    from camjax.data import ilsvrc
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config.eval_annotations={str(path)!r}: no such file or folder")
    if path.is_dir() and (path / "image_ids.txt").exists():
        found = read_wsol_metadata(path)
    else:
        if not config.synsets:
            raise ConfigError(f"config.eval_annotations={path} needs config.synsets "
                              "(LOC_synset_mapping.txt) to map synsets to labels")
        synsets = ilsvrc.read_synsets(config.synsets)
        read = ilsvrc.read_loc_val_solution if path.suffix == ".csv" else ilsvrc.read_ilsvrc_xml
        found = read(path, synsets)
    return {file_stem(k): v for k, v in found.boxes.items()}


def with_boxes(record: dict, lookup: dict, path: str) -> dict:
    """Boxes joined into a record of a source that was opened without them."""
    name = record.get("file_name", record.get("image/filename"))
    if name is None:
        raise AnnotationError(path, None, "config.eval_annotations needs records with a "
                                          "'file_name'")
    stem = file_stem(name)
    if stem not in lookup:
        raise AnnotationError(path, None, f"no boxes for image {stem!r} "
                                          "(config.eval_annotations)")
    return {**record, "boxes": lookup[stem]}
