"""Ground-truth readers: wsolevaluation metadata and TFDS records (ILSVRC XML/CSV: ilsvrc.py).

Every reader returns :class:`Annotations` with boxes as camjax boxes: integer pixel
coordinates (x0, y0, x1, y1), inclusive, in the original image's frame. Coordinates are
kept as the files give them (the ILSVRC XML, the Kaggle CSV and wsolevaluation's
ILSVRC metadata hold the same numbers, 0-based: boxes reach width - 1, never width).
Anything malformed raises :class:`AnnotationError` naming the file and line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from camjax.errors import UserError
from camjax.geometry import rescale_boxes, tfds_to_pixel_boxes


class AnnotationError(UserError):
    """A malformed annotation: ``str(err)`` is ``"path:line: what is wrong"``."""

    def __init__(self, path, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


@dataclass
class Annotations:
    """Per image id: class label, (width, height), boxes (n, 4) int64; for mask splits
    (OpenImages) the mask and ignore-mask paths instead of boxes."""
    image_ids: list[str]
    labels: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    boxes: dict[str, np.ndarray] = field(default_factory=dict)
    mask_paths: dict[str, list[str]] = field(default_factory=dict)
    ignore_paths: dict[str, str | None] = field(default_factory=dict)

    def scaled_boxes(self, image_id: str, size_hw: tuple[int, int]) -> np.ndarray:
        """Boxes of one image rescaled to a (H, W) map with wsolevaluation's int(x * new / old)."""
        w, h = self.sizes[image_id]
        return rescale_boxes(self.boxes[image_id], (h, w), size_hw)


# ----------------------------------------------------------------------------- helpers
def _int(text: str, path, line: int, what: str) -> int:
    t = text.strip()
    if not re.fullmatch(r"[+-]?\d+", t):
        raise AnnotationError(path, line, f"{what} must be an integer, got {text!r}")
    return int(t)


def _check_box(box: list[int], size, path, line: int, clip: bool, edge: bool = False):
    """x1 >= x0, y1 >= y0, and inside the (width, height) image: 0 <= x <= width - 1.
    ``edge`` also accepts x1 == width / y1 == height (wsolevaluation's CUB boxes are
    x + w, one past the last pixel); ``clip`` clips to the image instead of raising."""
    x0, y0, x1, y1 = box
    if x1 < x0 or y1 < y0:
        raise AnnotationError(path, line, f"box {tuple(box)} has x1 < x0 or y1 < y0")
    w, h = size if size is not None else (None, None)
    if clip:
        x0, y0 = max(x0, 0), max(y0, 0)
        if size is not None:
            x1, y1 = min(x1, w - 1), min(y1, h - 1)
        if x1 < x0 or y1 < y0:
            raise AnnotationError(path, line, f"box {tuple(box)} lies outside the image")
        return [x0, y0, x1, y1]
    last_x, last_y = (w - (not edge), h - (not edge)) if size is not None else (None, None)
    if x0 < 0 or y0 < 0 or (size is not None and (x0 > w - 1 or y0 > h - 1 or x1 > last_x
                                                   or y1 > last_y)):
        extent = f" of size {w}x{h} (x1 <= {last_x}, y1 <= {last_y})" if size else ""
        raise AnnotationError(path, line, f"box {tuple(box)} lies outside the image{extent}; "
                                          "fix the file or read it with clip=True")
    return box


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its newline) of the non-blank lines."""
    try:
        with open(path, encoding="utf-8") as f:
            for number, raw in enumerate(f, 1):
                text = raw.rstrip("\r\n")
                if text.strip():
                    yield number, text
    except OSError as e:
        raise AnnotationError(path, None, f"cannot read: {e.strerror or e}") from None


def _fields(text: str, n: int, path, line: int, layout: str) -> list[str]:
    parts = text.split(",")
    if len(parts) != n:
        raise AnnotationError(path, line, f"expected {n} comma-separated fields ({layout}), "
                                          f"got {len(parts)}")
    if not parts[0]:
        raise AnnotationError(path, line, "empty image id")
    return parts


# ------------------------------------------------------------------- wsolevaluation
def read_wsol_metadata(folder, *, clip: bool = False) -> Annotations:
    """Read a wsolevaluation split folder (CUB, ILSVRC or OpenImages metadata).

    image_ids.txt (``id``), class_labels.txt (``id,label``), image_sizes.txt
    (``id,width,height``; optional, absent for OpenImages) and localization.txt,
    either boxes (``id,x0,y0,x1,y1``, one line per box) or masks (``id,mask,ignore``,
    OpenImages). Without localization.txt the split has no boxes (classification
    only). Every id must be listed in image_ids.txt, once, with one label. Boxes are
    kept as written; x1 may equal the width (y1 the height): CUB's boxes there are
    x + w, one past the last pixel, and wsolevaluation rescales them unchanged.
    """
    folder = Path(folder)
    ids_path = folder / "image_ids.txt"
    if not ids_path.is_file():
        raise AnnotationError(ids_path, None, "missing: a wsolevaluation split folder holds "
                                              "image_ids.txt, class_labels.txt, ...")
    image_ids: list[str] = []
    first_line: dict[str, int] = {}
    for line, text in _lines(ids_path):
        if text in first_line:
            raise AnnotationError(ids_path, line, f"duplicate image id {text!r} "
                                                  f"(first on line {first_line[text]})")
        first_line[text] = line
        image_ids.append(text)
    ann = Annotations(image_ids)

    def known(path, line, image_id):
        if image_id not in first_line:
            raise AnnotationError(path, line, f"unknown image id {image_id!r} "
                                              f"(not in {ids_path.name})")

    def once(path, seen: dict, line, image_id):
        known(path, line, image_id)
        if image_id in seen:
            raise AnnotationError(path, line, f"duplicate image id {image_id!r} "
                                              f"(first on line {seen[image_id]})")
        seen[image_id] = line

    labels_path, seen = folder / "class_labels.txt", {}
    for line, text in _lines(labels_path):
        image_id, label = _fields(text, 2, labels_path, line, "id,label")
        once(labels_path, seen, line, image_id)
        ann.labels[image_id] = _int(label, labels_path, line, "label")
        if ann.labels[image_id] < 0:
            raise AnnotationError(labels_path, line, "label must be >= 0")
    missing = [i for i in image_ids if i not in ann.labels]
    if missing:
        raise AnnotationError(labels_path, None, f"no label for {len(missing)} image(s), "
                                                 f"e.g. {missing[0]!r}")

    sizes_path, seen = folder / "image_sizes.txt", {}
    if sizes_path.exists():
        for line, text in _lines(sizes_path):
            image_id, w, h = _fields(text, 3, sizes_path, line, "id,width,height")
            once(sizes_path, seen, line, image_id)
            w, h = _int(w, sizes_path, line, "width"), _int(h, sizes_path, line, "height")
            if w <= 0 or h <= 0:
                raise AnnotationError(sizes_path, line, f"image size {w}x{h} must be positive")
            ann.sizes[image_id] = (w, h)
        missing = [i for i in image_ids if i not in ann.sizes]
        if missing:
            raise AnnotationError(sizes_path, None, f"no size for {len(missing)} image(s), "
                                                    f"e.g. {missing[0]!r}")

    loc_path = folder / "localization.txt"
    if not loc_path.exists():
        return ann
    boxes: dict[str, list[list[int]]] = {}
    mode = None
    for line, text in _lines(loc_path):
        n = len(text.split(","))
        mode = mode or ("masks" if n == 3 else "boxes")
        if mode == "masks":
            image_id, mask, ignore = _fields(text, 3, loc_path, line, "id,mask,ignore")
            known(loc_path, line, image_id)
            if not mask:
                raise AnnotationError(loc_path, line, "empty mask path")
            if image_id in ann.mask_paths:
                if ignore:
                    raise AnnotationError(loc_path, line, "only the first line of an image "
                                                          "may name its ignore mask")
                ann.mask_paths[image_id].append(mask)
            else:
                ann.mask_paths[image_id], ann.ignore_paths[image_id] = [mask], ignore or None
            continue
        image_id, *coords = _fields(text, 5, loc_path, line, "id,x0,y0,x1,y1")
        known(loc_path, line, image_id)
        box = [_int(c, loc_path, line, name) for c, name in zip(coords, ("x0", "y0", "x1", "y1"))]
        boxes.setdefault(image_id, []).append(
            _check_box(box, ann.sizes.get(image_id), loc_path, line, clip, edge=True))
    found = ann.mask_paths if mode == "masks" else boxes
    missing = [i for i in image_ids if i not in found]
    if missing:
        what = "mask" if mode == "masks" else "box"
        raise AnnotationError(loc_path, None, f"no {what} for {len(missing)} image(s), "
                                              f"e.g. {missing[0]!r}")
    ann.boxes = {i: np.asarray(b, np.int64) for i, b in boxes.items()}
    return ann


# --------------------------------------------------------------------------- TFDS
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
