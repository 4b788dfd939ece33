"""Ground-truth readers: wsolevaluation metadata (ILSVRC XML/CSV: ilsvrc.py; TFDS records
and joins by file name: joins.py).

Every reader returns :class:`Annotations` with boxes as camjax boxes: integer pixel
coordinates (x0, y0, x1, y1), inclusive, in the original image's frame. Coordinates are
kept as the files give them (the ILSVRC XML, the Kaggle CSV and wsolevaluation's
ILSVRC metadata hold the same numbers, 0-based: boxes reach width - 1, never width).
Anything malformed raises :class:`AnnotationError` naming the file and line.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from camjax.errors import UserError
from camjax.geometry import rescale_boxes


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

    @property
    def localization(self) -> str:
        """What the split's localization.txt holds: 'boxes', 'masks' or 'none'."""
        return "boxes" if self.boxes else "masks" if self.mask_paths else "none"

    def scaled_boxes(self, image_id: str, size_hw: tuple[int, int]) -> np.ndarray:
        """Boxes of one image rescaled to a (H, W) map with wsolevaluation's int(x * new / old)."""
        w, h = self.sizes[image_id]
        return rescale_boxes(self.boxes[image_id], (h, w), size_hw)


# ----------------------------------------------------------------------------- helpers
_INT = re.compile(r"[+-]?[0-9]+")
_LIMIT = 2 ** 31 - 1     # pixel coordinates, sizes and labels fit in int32


def _int(text: str, path, line: int, what: str) -> int:
    t = text.strip()
    if not _INT.fullmatch(t):
        raise AnnotationError(path, line, f"{what} must be an integer, got {text!r}")
    value = int(t)
    if abs(value) > _LIMIT:
        raise AnnotationError(path, line, f"{what} {value} is out of range")
    return value


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
                                          "fix the file (or, from Python, read it with "
                                          "clip=True)")
    return box


def read_text(path) -> str:
    """A text file as UTF-8, a byte-order mark (Excel, Notepad) dropped; any other
    encoding, or a file that cannot be read, raises AnnotationError naming it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AnnotationError(path, None, "missing file") from None
    except OSError as e:
        raise AnnotationError(path, None, f"cannot read: {e.strerror or e}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise AnnotationError(path, None, "UTF-16 text: save the file as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise AnnotationError(path, line, f"not UTF-8 text (byte 0x{data[e.start]:02x}): "
                                          "save the file as UTF-8") from None


_NEWLINE = re.compile(r"\r\n|\r|\n")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its newline) of the non-blank lines; LF, CRLF
    and CR line ends alike."""
    for number, text in enumerate(_NEWLINE.split(read_text(path)), 1):
        if text.strip():
            yield number, text


def _fields(text: str, n: int, path, line: int, layout: str) -> list[str]:
    parts = text.split(",")
    if len(parts) != n:
        raise AnnotationError(path, line, f"expected {n} comma-separated fields ({layout}), "
                                          f"got {len(parts)}")
    if not parts[0]:
        raise AnnotationError(path, line, "empty image id")
    return parts


# ------------------------------------------------------------------- wsolevaluation
class _Ids:
    """The ids of image_ids.txt and their line numbers: checks the ids other files name."""

    def __init__(self, path: Path):
        self.path, self.line = path, {}
        for line, text in _lines(path):
            if text in self.line:
                raise AnnotationError(path, line, f"duplicate image id {text!r} "
                                                  f"(first on line {self.line[text]})")
            self.line[text] = line

    def known(self, path, line, image_id):
        if image_id not in self.line:
            raise AnnotationError(path, line, f"unknown image id {image_id!r} (not in "
                                              f"{self.path.name}: a file lists an image that "
                                              "the others do not)")

    def once(self, path, seen: dict, line, image_id):
        self.known(path, line, image_id)
        if image_id in seen:
            raise AnnotationError(path, line, f"duplicate image id {image_id!r} "
                                              f"(first on line {seen[image_id]})")
        seen[image_id] = line

    def all_in(self, found, path, what: str):
        missing = [i for i in self.line if i not in found]
        if missing:
            raise AnnotationError(path, None, f"no {what} for {len(missing)} image(s) of "
                                              f"{self.path.name}, e.g. {missing[0]!r}")


def _read_labels(path: Path, ids: _Ids, num_classes: int | None) -> dict[str, int]:
    labels, seen = {}, {}
    for line, text in _lines(path):
        image_id, label = _fields(text, 2, path, line, "id,label")
        ids.once(path, seen, line, image_id)
        labels[image_id] = _int(label, path, line, "label")
        if labels[image_id] < 0:
            raise AnnotationError(path, line, "label must be >= 0")
        if num_classes is not None and labels[image_id] >= num_classes:
            raise AnnotationError(path, line, f"label {labels[image_id]} is not below the "
                                              f"number of classes, {num_classes}")
    ids.all_in(labels, path, "label")
    return labels


def _read_sizes(path: Path, ids: _Ids) -> dict[str, tuple[int, int]]:
    sizes, seen = {}, {}
    for line, text in _lines(path):
        image_id, w, h = _fields(text, 3, path, line, "id,width,height")
        ids.once(path, seen, line, image_id)
        w, h = _int(w, path, line, "width"), _int(h, path, line, "height")
        if w <= 0 or h <= 0:
            raise AnnotationError(path, line, f"image size {w}x{h} must be positive")
        sizes[image_id] = (w, h)
    if sizes:             # an empty file, as wsolevaluation's OpenImages ones: no sizes
        ids.all_in(sizes, path, "size")
    return sizes


def _read_localization(path: Path, ids: _Ids, ann: Annotations, clip: bool) -> None:
    boxes: dict[str, list[list[int]]] = {}
    mode = None
    for line, text in _lines(path):
        mode = mode or ("masks" if len(text.split(",")) == 3 else "boxes")
        if mode == "masks":
            image_id, mask, ignore = _fields(text, 3, path, line, "id,mask,ignore")
            ids.known(path, line, image_id)
            if not mask.strip():
                raise AnnotationError(path, line, "empty mask path")
            if image_id in ann.mask_paths:
                if ignore:
                    raise AnnotationError(path, line, "only the first line of an image "
                                                      "may name its ignore mask")
                ann.mask_paths[image_id].append(mask)
            else:
                ann.mask_paths[image_id], ann.ignore_paths[image_id] = [mask], ignore or None
            continue
        image_id, *coords = _fields(text, 5, path, line, "id,x0,y0,x1,y1")
        ids.known(path, line, image_id)
        box = [_int(c, path, line, name) for c, name in zip(coords, ("x0", "y0", "x1", "y1"))]
        boxes.setdefault(image_id, []).append(
            _check_box(box, ann.sizes.get(image_id), path, line, clip, edge=True))
    if mode is not None:  # an empty file, as the ILSVRC / OpenImages train splits: labels only
        ids.all_in(ann.mask_paths if mode == "masks" else boxes, path,
                   "mask" if mode == "masks" else "box")
    ann.boxes = {i: np.asarray(b, np.int64) for i, b in boxes.items()}


def read_wsol_metadata(folder, *, clip: bool = False,
                       num_classes: int | None = None) -> Annotations:
    """Read a wsolevaluation split folder (CUB, ILSVRC or OpenImages metadata).

    image_ids.txt (``id``), class_labels.txt (``id,label``), image_sizes.txt
    (``id,width,height``; optional, and empty for ILSVRC train and OpenImages) and
    localization.txt, either boxes (``id,x0,y0,x1,y1``, one line per box) or masks
    (``id,mask,ignore``, one line per mask file, the ignore mask on the image's first
    line, possibly empty). An empty or absent localization.txt means labels only
    (classification). Every id must be listed in image_ids.txt, once, with one label
    (below ``num_classes`` when given). Boxes are kept as written; x1 may equal the
    width (y1 the height): CUB's boxes there are x + w, one past the last pixel, and
    wsolevaluation rescales them unchanged. Text is UTF-8 (a BOM is accepted), lines
    end with LF or CRLF.
    """
    folder = Path(folder)
    ids_path = folder / "image_ids.txt"
    if not ids_path.is_file():
        raise AnnotationError(ids_path, None, "missing: a wsolevaluation split folder holds "
                                              "image_ids.txt, class_labels.txt, "
                                              "image_sizes.txt and localization.txt")
    ids = _Ids(ids_path)
    ann = Annotations(list(ids.line))
    ann.labels = _read_labels(folder / "class_labels.txt", ids, num_classes)
    sizes_path = folder / "image_sizes.txt"
    if sizes_path.exists():
        ann.sizes = _read_sizes(sizes_path, ids)
    loc_path = folder / "localization.txt"
    if loc_path.exists():
        _read_localization(loc_path, ids, ann, clip)
    return ann
