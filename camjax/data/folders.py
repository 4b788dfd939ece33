"""Class folders (torchvision's ``ImageFolder`` layout) as a camjax source.

``--config.dataset=folder:DIR``: DIR/<split>/<class>/... image files, any depth below the
class folder. Class k is the k-th class folder of the training split in sorted order
(``config.train_split``), for every split, so a model's outputs mean the same classes on
each; another split may lack a class, not add one. Files are listed as torchvision does
(``os.walk`` sorted, links followed) and kept when their extension, in any case, is one
of :data:`EXTENSIONS` (torchvision's list plus ``.gif``).

Boxes: joined by file name (stem) from ``config.eval_annotations`` (ILSVRC XML or CSV,
or a wsolevaluation metadata folder); then every image of the split must have boxes,
checked when the source is opened. Images are decoded with EXIF orientation applied
unless ``exif_orientation`` is False (``open_source``: when ``config.eval_annotations`` is
set, for every split, as annotation files give boxes in the stored frame).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from camjax.data import images
from camjax.data.annotations import AnnotationError
from camjax.data.sources import SourceBase
from camjax.errors import ConfigError

EXTENSIONS = images.IMAGE_EXTENSIONS


def find_classes(split_dir: Path) -> list[str]:
    """The sorted names of the folders in ``split_dir``."""
    return sorted(e.name for e in os.scandir(split_dir) if e.is_dir())


def list_images(class_dir: Path) -> list[Path]:
    """Image files below ``class_dir`` in torchvision's order."""
    out = []
    for root, _, names in sorted(os.walk(class_dir, followlinks=True)):
        out += [Path(root) / n for n in sorted(names) if n.lower().endswith(EXTENSIONS)]
    return out


def _split_dir(root: Path, split: str, key: str) -> Path:
    path = root / split
    if not path.is_dir():
        found = sorted(e.name for e in os.scandir(root) if e.is_dir())
        raise ConfigError(f"{path}: no such split folder (found: {', '.join(found) or 'none'}); "
                          f"the layout is DIR/<split>/<class>/*.jpg, set --config.{key}")
    return path


class ImageFolderSource(SourceBase):
    """One split of class folders (see the module docstring)."""

    def __init__(self, root, split: str, *, class_split: str = "train",
                 max_pixels: int = images.MAX_PIXELS, boxes: dict | None = None,
                 annotations_path: str = "", exif_orientation: bool = True,
                 draft_size: int = 0):
        root = Path(root).expanduser().absolute()
        if not root.is_dir():
            raise ConfigError(f"config.dataset=folder:{root}: no such folder")
        self.dataset, self.split, self.max_pixels = f"folder:{root}", split, max_pixels
        classes_dir = _split_dir(root, class_split, "train_split")
        self.class_names = find_classes(classes_dir)
        if not self.class_names:
            raise AnnotationError(classes_dir, None, "no class folders: the layout is "
                                                     "DIR/<split>/<class>/*.jpg")
        split_dir = _split_dir(root, split, "eval_split" if split != class_split else
                               "train_split")
        index = {name: k for k, name in enumerate(self.class_names)}
        self.files, self.labels = [], []
        for name in find_classes(split_dir):
            if name not in index:
                raise AnnotationError(split_dir / name, None,
                                      f"class folder not in {classes_dir} (classes come from "
                                      "the training split): remove it or add it there")
            found = list_images(split_dir / name)
            if not found:
                raise AnnotationError(split_dir / name, None, "empty class folder: no "
                                      f"{'/'.join(e[1:] for e in EXTENSIONS)} files")
            self.files += found
            self.labels += [index[name]] * len(found)
        if not self.files:
            raise AnnotationError(split_dir, None, "no class folders with images")
        self.split_dir = split_dir
        self.names = [f.relative_to(split_dir).as_posix() for f in self.files]
        self._boxes = self._join(boxes, annotations_path) if boxes is not None else None
        self.has_boxes = boxes is not None
        self.most_boxes = max(((len(b), n) for b, n in zip(self._boxes or [], self.names)),
                              default=(0, ""))
        self.exif_orientation = exif_orientation
        # JPEGs decoded smaller (decode_image's draft) only where no box must stay in frame
        self.draft_size = 0 if self._boxes is not None else draft_size

    def _join(self, lookup: dict, annotations_path: str) -> list[np.ndarray]:
        stems = {}
        for name in self.names:
            stem = Path(name).stem
            if stem in stems:
                raise AnnotationError(self.split_dir / name, None,
                                      f"shares its file name with {stems[stem]}: boxes are "
                                      "joined by file name, rename one")
            stems[stem] = name
        missing = [s for s in stems if s not in lookup]
        if missing:
            raise AnnotationError(annotations_path, None,
                                  f"no boxes for {len(missing)} image(s) of {self.split_dir}, "
                                  f"e.g. {stems[missing[0]]!r} (config.eval_annotations)")
        return [np.asarray(lookup[Path(n).stem], np.int64).reshape(-1, 4) for n in self.names]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict:
        image = images.decode_image(self.files[index], max_pixels=self.max_pixels,
                                    exif_orientation=self.exif_orientation,
                                    draft_size=self.draft_size)
        record = {"image": image, "label": self.labels[index], "file_name": self.names[index]}
        if self._boxes is not None:
            boxes = self._boxes[index]
            h, w = image.shape[:2]
            if np.any(boxes[:, 2] > w) or np.any(boxes[:, 3] > h):   # x1 = w: CUB's edge
                raise AnnotationError(self.files[index], None,
                                      f"its boxes {boxes.tolist()} (config.eval_annotations) "
                                      f"lie outside its {w}x{h} pixels")
            record["boxes"] = boxes
        return record


def resolve_splits(root, eval_split: str, val_split: str) -> tuple[str, str, str]:
    """(eval split, val split, note) of class folders ``root``: without ``eval_split``'s
    folder (``test`` by default) but with ``val/``, the evaluation is on ``val``; a
    ``val_split`` without a folder, or the split evaluated itself (a threshold cannot be
    chosen on the split it is scored on), is dropped. ``note`` says what changed ("")."""
    root = Path(root).expanduser()
    if not root.is_dir():
        return eval_split, val_split, ""        # named when the source is opened
    notes = []
    if not (root / eval_split).is_dir() and (root / "val").is_dir():
        notes.append(f"no {eval_split}/ folder: evaluated on val/ (--config.eval_split "
                     "chooses)")
        eval_split = "val"
    if val_split and (val_split == eval_split or not (root / val_split).is_dir()):
        why = "the split evaluated" if val_split == eval_split else "no such folder"
        notes.append(f"no CAM threshold chosen on {val_split}/ ({why})")
        val_split = ""
    return eval_split, val_split, "; ".join(notes)
