"""ILSVRC ground truth: the synset list, the devkit's validation XML, the Kaggle LOC CSV.

Boxes come back as camjax boxes in the original image's frame (see annotations.py).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

import numpy as np

from camjax.data.annotations import (AnnotationError, Annotations, _check_box, _fields,
                                           _int, _lines)

_SYNSET = re.compile(r"n\d{8}")


def read_synsets(path) -> dict[str, int]:
    """LOC_synset_mapping.txt (``n01440764 tench, Tinca tinca``) -> synset: index, the
    index being the line's rank. The file lists the 1000 synsets sorted, which is also
    the label order of TFDS imagenet2012."""
    out: dict[str, int] = {}
    for line, text in _lines(Path(path)):
        synset = text.split()[0]
        if not _SYNSET.fullmatch(synset):
            raise AnnotationError(path, line,
                                  f"expected a WordNet id like n01440764, got {synset!r}")
        if synset in out:
            raise AnnotationError(path, line, f"duplicate synset {synset}")
        out[synset] = len(out)
    if not out:
        raise AnnotationError(path, None, "no synsets")
    return out


@dataclass
class _Node:
    tag: str
    line: int
    text: list[str] = field(default_factory=list)
    children: list["_Node"] = field(default_factory=list)

    def find(self, tag: str) -> "_Node | None":
        return next((c for c in self.children if c.tag == tag), None)

    def need(self, tag: str, path) -> "_Node":
        node = self.find(tag)
        if node is None:
            raise AnnotationError(path, self.line, f"<{self.tag}> has no <{tag}>")
        return node

    def value(self) -> str:
        return "".join(self.text).strip()


def _parse_xml(path: Path) -> _Node:
    """A tiny expat tree that remembers the line of every element."""
    parser = expat.ParserCreate()
    stack: list[_Node] = [_Node("#document", 1)]

    def start(tag, _attrs):
        node = _Node(tag, parser.CurrentLineNumber)
        stack[-1].children.append(node)
        stack.append(node)

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda _tag: stack.pop()
    parser.CharacterDataHandler = lambda data: stack[-1].text.append(data)
    try:
        with open(path, "rb") as f:
            parser.ParseFile(f)
    except expat.ExpatError as e:
        raise AnnotationError(path, e.lineno, f"not well-formed XML: {expat.ErrorString(e.code)}")
    except OSError as e:
        raise AnnotationError(path, None, f"cannot read: {e.strerror or e}") from None
    return stack[0]


def _xml_int(node: _Node, tag: str, path) -> int:
    child = node.need(tag, path)
    return _int(child.value(), path, child.line, f"<{tag}>")


def _read_one_xml(path: Path, synset_to_index, clip: bool):
    root = _parse_xml(path).find("annotation")
    if root is None:
        raise AnnotationError(path, 1, "no <annotation> element")
    name = root.find("filename")
    image_id = Path(name.value()).stem if name is not None and name.value() else path.stem
    size = root.need("size", path)
    w, h = _xml_int(size, "width", path), _xml_int(size, "height", path)
    if w <= 0 or h <= 0:
        raise AnnotationError(path, size.line, f"image size {w}x{h} must be positive")
    objects = [c for c in root.children if c.tag == "object"]
    if not objects:
        raise AnnotationError(path, root.line, "no <object>: every image needs a box")
    boxes, labels = [], []
    for obj in objects:
        synset_node = obj.need("name", path)
        synset = synset_node.value()
        if synset not in synset_to_index:
            raise AnnotationError(path, synset_node.line, f"unknown synset {synset!r}")
        bndbox = obj.need("bndbox", path)
        box = [_xml_int(bndbox, t, path) for t in ("xmin", "ymin", "xmax", "ymax")]
        boxes.append(_check_box(box, (w, h), path, bndbox.line, clip))
        if labels and synset_to_index[synset] != labels[0]:
            raise AnnotationError(path, synset_node.line, f"objects of several classes "
                                  f"({synset} after another synset): one label per image expected")
        labels.append(synset_to_index[synset])
    return image_id, labels[0], (w, h), np.asarray(boxes, np.int64)


def read_ilsvrc_xml(folder_or_files, synset_to_index: dict[str, int], *,
                    clip: bool = False) -> Annotations:
    """ILSVRC devkit validation XML, one PASCAL-VOC-style file per image.

    ``folder_or_files``: a folder (its ``*.xml``, any case), one file, or an iterable of files.
    Image ids are the ``<filename>`` without extension (``ILSVRC2012_val_00000001``),
    sorted. Boxes are ``<bndbox>`` as given, inclusive.
    """
    if isinstance(folder_or_files, (str, os.PathLike)):
        p = Path(folder_or_files)
        files = (sorted(f for f in p.iterdir() if f.suffix.lower() == ".xml" and f.is_file())
                 if p.is_dir() else [p])
        if not files:
            raise AnnotationError(p, None, "no .xml files in this folder (.XML counts too)")
    else:
        files = [Path(f) for f in folder_or_files]
    ann, origin = Annotations([]), {}
    for path in files:
        image_id, label, size, boxes = _read_one_xml(path, synset_to_index, clip)
        if image_id in origin:
            raise AnnotationError(path, None, f"duplicate image id {image_id!r} "
                                              f"(also in {origin[image_id]})")
        origin[image_id] = path
        ann.labels[image_id], ann.sizes[image_id], ann.boxes[image_id] = label, size, boxes
    ann.image_ids = sorted(origin)
    return ann


def read_loc_val_solution(csv_path, synset_to_index: dict[str, int], *,
                          sizes: dict[str, tuple[int, int]] | None = None,
                          clip: bool = False) -> Annotations:
    """Kaggle LOC_val_solution.csv: ``ImageId,PredictionString`` then per image
    ``id,synset x0 y0 x1 y1 synset x0 y0 x1 y1 ...``. The file has no image sizes:
    pass ``sizes`` (id -> (width, height)) to check boxes against the image and ids."""
    path = Path(csv_path)
    lines = _lines(path)
    header = next(lines, None)
    if header is None or header[1].replace(" ", "") != "ImageId,PredictionString":
        raise AnnotationError(path, header[0] if header else None,
                              "expected the header ImageId,PredictionString")
    ann, seen = Annotations([]), {}
    for line, text in lines:
        image_id, string = _fields(text, 2, path, line, "ImageId,PredictionString")
        if image_id in seen:
            raise AnnotationError(path, line, f"duplicate image id {image_id!r} "
                                              f"(first on line {seen[image_id]})")
        if sizes is not None and image_id not in sizes:
            raise AnnotationError(path, line, f"unknown image id {image_id!r} (not in sizes)")
        seen[image_id] = line
        tokens = string.split()
        if not tokens or len(tokens) % 5:
            raise AnnotationError(path, line, "PredictionString must repeat "
                                              "'synset xmin ymin xmax ymax'")
        boxes, labels = [], set()
        for k in range(0, len(tokens), 5):
            synset = tokens[k]
            if synset not in synset_to_index:
                raise AnnotationError(path, line, f"unknown synset {synset!r}")
            labels.add(synset_to_index[synset])
            box = [_int(t, path, line, n) for t, n in zip(tokens[k + 1:k + 5],
                                                           ("xmin", "ymin", "xmax", "ymax"))]
            boxes.append(_check_box(box, None if sizes is None else sizes[image_id],
                                    path, line, clip))
        if len(labels) > 1:
            raise AnnotationError(path, line, "boxes of several classes: one label per image")
        ann.image_ids.append(image_id)
        ann.labels[image_id] = labels.pop()
        ann.boxes[image_id] = np.asarray(boxes, np.int64)
        if sizes is not None:
            ann.sizes[image_id] = tuple(sizes[image_id])
    return ann
