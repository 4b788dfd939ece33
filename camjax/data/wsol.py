"""The wsolevaluation folder layout (CUB, ILSVRC, OpenImages30k) as a camjax source.

``--config.dataset=wsol:METADATA_DIR --config.image_root=IMAGE_DIR [--config.mask_root=M]``:
METADATA_DIR/<split>/ holds image_ids.txt, class_labels.txt, image_sizes.txt and
localization.txt (``camjax.data.annotations.read_wsol_metadata``); image ids are paths
under IMAGE_DIR, mask paths under the mask root (default IMAGE_DIR).

Opening a split checks, before any training, the metadata, the label range and that
every image and mask file exists; the bytes of an image are checked when it is read.
Images are read in their stored frame (no EXIF rotation), the frame the metadata
describe and wsolevaluation reads. Masks follow wsolevaluation's ``get_mask``: the union
of the image's mask files (pixel > 0) is 1, the ignore file's pixels (> 0) outside it
are 255, the rest 0.

Class names: METADATA_DIR/class_names.txt (one per line, line k = class k) when present,
else ``class_<k>``. The number of classes is that file's length, else one more than the
largest label of any split in METADATA_DIR, so every split of a dataset agrees.
"""
from __future__ import annotations

import functools
import os
import re
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from camjax.data import images
from camjax.data.annotations import AnnotationError, _lines, read_wsol_metadata
from camjax.data.sources import SourceBase
from camjax.errors import ConfigError
from camjax.geometry import rescale_boxes

SPLITS = ("train", "val", "test")
_DIGITS = re.compile(r"[0-9]{1,9}")


def class_names(metadata_dir: Path) -> list[str] | None:
    """METADATA_DIR/class_names.txt, or None when there is none."""
    path = metadata_dir / "class_names.txt"
    if not path.exists():
        return None
    names = [text.strip() for _, text in _lines(path)]
    if not names:
        raise AnnotationError(path, None, "no class names (one per line, line k = class k)")
    return names


def implied_num_classes(metadata_dir: Path) -> int:
    """1 + the largest label in the class_labels.txt of every split folder."""
    files = sorted(p / "class_labels.txt" for p in metadata_dir.iterdir()
                   if (p / "class_labels.txt").is_file())
    return _largest_label(tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size)
                                for f in files)) + 1


@functools.lru_cache(maxsize=8)
def _largest_label(files: tuple) -> int:
    """(cached on path, mtime and size: ILSVRC's train labels are 1.28M lines)"""
    top = -1
    for path, _, _ in files:
        for _, text in _lines(Path(path)):
            last = text.rsplit(",", 1)[-1].strip()
            if _DIGITS.fullmatch(last):      # malformed lines are reported by the reader
                top = max(top, int(last))
    return top


def check_files(root: Path, relative: list[str], listed_in: Path, what: str) -> None:
    """Every ``root / r`` is a file: one listing per folder, not one stat per file."""
    by_folder = defaultdict(list)
    for r in relative:
        parent, _, name = r.rpartition("/")
        by_folder[parent].append((r, name))
    missing = []
    for parent, entries in by_folder.items():
        try:
            present = set(os.listdir(root / parent))
        except OSError:
            present = set()
        missing += [r for r, name in entries
                    if name not in present and not (root / r).is_file()]   # case-folding FS
    if missing:
        raise AnnotationError(listed_in, None, f"{len(missing)} {what} file(s) listed here "
                                               f"are missing, e.g. {root / missing[0]}: check "
                                               f"the folder {root}")


def boxes_in_frame(ann, image_id: str, hw: tuple[int, int]) -> np.ndarray:
    """The boxes of ``image_id`` in an (H, W) frame, rescaled from the frame of
    image_sizes.txt with int(x * new / old) (wsolevaluation's ``resize_bbox``; its
    evaluator rescales to 224 x 224). Without a size for the image, an AnnotationError."""
    size = ann.sizes.get(image_id)
    if size is None:
        raise AnnotationError("image_sizes.txt", None, f"no size for image {image_id!r}: "
                                                      "its boxes cannot be rescaled")
    return rescale_boxes(ann.boxes[image_id], (size[1], size[0]), hw)


def _mask_file(path: Path, hw: tuple[int, int], max_pixels: int) -> np.ndarray:
    grey = images.decode_mask(path, max_pixels=max_pixels)
    if grey.shape != hw:   # wsolevaluation resizes every mask file on its own
        grey = cv2.resize(grey, (hw[1], hw[0]), interpolation=cv2.INTER_NEAREST)
    return grey > 0


def mask_in_frame(ann, image_id: str, mask_root: Path, hw: tuple[int, int],
                  max_pixels: int = images.MAX_PIXELS) -> np.ndarray:
    """wsolevaluation's ``get_mask`` of ``image_id`` in an (H, W) frame: each mask file
    resized to it (nearest neighbour), their union (> 0) is 1, the ignore file's pixels
    outside it 255, the rest 0."""
    foreground = np.zeros(hw, bool)
    for relative in ann.mask_paths[image_id]:
        foreground |= _mask_file(mask_root / relative, hw, max_pixels)
    mask = foreground.astype(np.uint8)
    ignore = ann.ignore_paths.get(image_id)
    if ignore:
        mask[_mask_file(mask_root / ignore, hw, max_pixels) & ~foreground] = 255
    return mask


def _folder(path: str, key: str) -> Path:
    root = Path(path).expanduser().absolute()
    if not root.is_dir():
        raise ConfigError(f"config.{key}={path!r} is not a folder")
    return root


class WsolSource(SourceBase):
    """One split of a wsolevaluation metadata folder (see the module docstring)."""

    def __init__(self, metadata_dir, split: str, *, image_root: str, mask_root: str = "",
                 max_pixels: int = images.MAX_PIXELS, draft_size: int = 0):
        meta = Path(metadata_dir).expanduser().absolute()
        if not meta.is_dir():
            raise ConfigError(f"config.dataset=wsol:{metadata_dir}: no such folder (it holds "
                              "one folder per split: train/, val/, test/)")
        folder = meta / split
        if not folder.is_dir():
            found = sorted(p.name for p in meta.iterdir() if p.is_dir())
            raise AnnotationError(folder, None, f"no such split folder (found: "
                                                f"{', '.join(found) or 'none'}); set "
                                                "--config.train_split / --config.eval_split")
        if not image_root:
            raise ConfigError(f"config.dataset=wsol:{metadata_dir} needs config.image_root, "
                              "the folder the image ids are relative to")
        self.dataset, self.split, self.max_pixels = f"wsol:{meta}", split, max_pixels
        self.image_root = _folder(image_root, "image_root")
        names = class_names(meta)
        num_classes = len(names) if names else implied_num_classes(meta)
        self.class_names = names or [f"class_{k}" for k in range(num_classes)]
        self.ann = read_wsol_metadata(folder, num_classes=num_classes)
        self.image_ids = self.ann.image_ids
        if not self.image_ids:
            raise AnnotationError(folder / "image_ids.txt", None, "no image ids: empty split")
        self.labels = [self.ann.labels[i] for i in self.image_ids]
        self.has_boxes = self.ann.localization == "boxes"
        self.has_masks = self.ann.localization == "masks"
        # JPEGs decoded smaller (decode_image's draft) only where no box or mask must stay
        # in the file's frame
        self.draft_size = 0 if self.has_boxes or self.has_masks else draft_size
        self._localization = folder / "localization.txt"
        self.most_boxes = max(((len(b), i) for i, b in self.ann.boxes.items()), default=(0, ""))
        check_files(self.image_root, self.image_ids, folder / "image_ids.txt", "image")
        if self.has_masks:
            self.mask_root = _folder(mask_root or image_root,
                                     "mask_root" if mask_root else "image_root")
            paths = [p for i in self.image_ids for p in self.ann.mask_paths[i]]
            paths += [p for p in self.ann.ignore_paths.values() if p]
            check_files(self.mask_root, paths, self._localization, "mask")

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, index: int) -> dict:
        image_id = self.image_ids[index]
        image = images.decode_image(self.image_root / image_id, max_pixels=self.max_pixels,
                                    exif_orientation=False, draft_size=self.draft_size)
        record = {"image": image, "label": self.labels[index], "file_name": image_id}
        if self.has_boxes:
            record["boxes"] = self._boxes(image_id, image.shape[:2])
        if self.has_masks:
            record["mask"] = self._mask(image_id, image.shape[:2])
        return record

    def _boxes(self, image_id: str, hw: tuple[int, int]) -> np.ndarray:
        """The image's boxes in the frame of its file. image_sizes.txt gives the frame
        the boxes were drawn in; a file of another size (a resized copy of the dataset)
        gets them rescaled, as wsolevaluation rescales from image_sizes.txt."""
        boxes = self.ann.boxes[image_id]
        h, w = hw
        size = self.ann.sizes.get(image_id)
        if size is not None and tuple(size) != (w, h):
            return boxes_in_frame(self.ann, image_id, (h, w))
        if np.any(boxes[:, 2] > w) or np.any(boxes[:, 3] > h):
            raise AnnotationError(self._localization, None,
                                  f"image {image_id!r}: a box of {boxes.tolist()} lies outside "
                                  f"its {w}x{h} pixels")
        return boxes

    def _mask(self, image_id: str, hw: tuple[int, int]) -> np.ndarray:
        return mask_in_frame(self.ann, image_id, self.mask_root, hw, self.max_pixels)
