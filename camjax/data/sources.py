"""The one interface every dataset source offers, and the adapter of TFDS sources to it.

A source is a random-access sequence of records (grain's ``RandomAccessDataSource``)
with what the training loop and the evaluation need to know about the dataset:

* ``len(src)``, ``src[i]`` -> a record dict:

  - ``image``: uint8 (H, W, 3), the original size (decoded, never resized);
  - ``label``: int, ``file_name``: str (the image id, a path for folder sources);
  - ``boxes`` when ``has_boxes``: int64 (n, 4) inclusive pixel boxes ``x0, y0, x1, y1``
    in the frame of ``image`` (``camjax.geometry``);
  - ``mask`` when ``has_masks``: uint8 (H, W) in the frame of ``image``: 0 background,
    1 object, 255 ignore (wsolevaluation's OpenImages ignore regions).

* ``class_names`` (list of str, index = label), ``num_classes``, ``has_boxes``,
  ``has_masks``, ``dataset`` (as ``config.dataset`` names it), ``split`` and
  ``description`` (one line for reports: dataset, split, images).

``camjax.data.pipeline.open_source`` builds the right one from a config: TFDS
(:class:`TfdsSource`), the wsolevaluation layout (``camjax.data.wsol``) or class
folders (``camjax.data.folders``).
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from camjax.data.annotations import AnnotationError
from camjax.data.joins import file_stem, tfds_boxes
from camjax.errors import ImageError


@runtime_checkable
class Source(Protocol):
    dataset: str
    split: str
    class_names: list[str]
    has_boxes: bool
    has_masks: bool

    @property
    def num_classes(self) -> int: ...

    @property
    def description(self) -> str: ...

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict: ...


class SourceBase:
    """What every camjax source shares: ``num_classes`` and ``description``."""
    dataset: str = ""
    split: str = ""
    class_names: list[str] = []
    has_boxes: bool = False
    has_masks: bool = False

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def description(self) -> str:
        what = "boxes" if self.has_boxes else "masks" if self.has_masks else "labels only"
        return (f"{self.dataset}, split {self.split!r} ({len(self):,} images, "
                f"{self.num_classes} classes, {what})")

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict:
        raise NotImplementedError


def _tfds_has_boxes(features) -> bool:
    """``bbox`` (caltech_birds2011) or ``objects/bbox``; imagenet2012 has neither."""
    if "bbox" in features:
        return True
    return "objects" in features and "bbox" in features["objects"]


def _text(value) -> str:
    if isinstance(value, np.ndarray):
        value = value.item()
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class TfdsSource(SourceBase):
    """A ``tfds.data_source`` as a camjax source: TFDS's normalised ``bbox`` become pixel
    boxes, ``segmentation_mask`` (0/255) becomes a 0/1 mask, grey images RGB.

    ``boxes``: optional file stem -> (n, 4) pixel boxes joined by file name
    (``config.eval_annotations``, read from ``annotations_path``); they replace the
    records' own boxes, and an image without an entry raises AnnotationError.
    """

    def __init__(self, data_source, name: str, split: str, *, boxes: dict | None = None,
                 annotations_path: str = ""):
        self._src, self.dataset, self.split = data_source, name, split
        self.dataset_info = data_source.dataset_info
        features = self.dataset_info.features
        self.class_names = list(features["label"].names)
        self._lookup, self._annotations_path = boxes, annotations_path
        self._own_boxes = _tfds_has_boxes(features)
        self.has_boxes = self._own_boxes or boxes is not None
        self.has_masks = "segmentation_mask" in features
        self._name_key = next((k for k in ("file_name", "image/filename") if k in features),
                              None)

    def __len__(self) -> int:
        return len(self._src)

    def __getitem__(self, index: int) -> dict:
        raw = self._src[index]
        image = np.asarray(raw["image"])
        if image.ndim == 2:
            image = image[..., None]
        if image.shape[-1] == 1:
            image = np.repeat(image, 3, axis=-1)
        name = _text(raw[self._name_key]) if self._name_key else str(index)
        record = {"image": image, "label": int(raw["label"]), "file_name": name}
        if self._lookup is not None:
            stem = file_stem(name)
            if stem not in self._lookup:
                raise AnnotationError(self._annotations_path, None,
                                      f"no boxes for image {stem!r} of {self.dataset} "
                                      f"{self.split!r} (config.eval_annotations)")
            record["boxes"] = np.asarray(self._lookup[stem], np.int64).reshape(-1, 4)
        elif self._own_boxes:
            record["boxes"] = tfds_boxes(raw)
        if self.has_masks:
            mask = np.asarray(raw["segmentation_mask"])
            mask = mask[..., 0] if mask.ndim == 3 else mask
            record["mask"] = (mask > 127).astype(np.uint8)   # 0/255 (CUB, built-in) -> 0/1
        return record


class SkipBadImages:
    """A source whose records that do not decode (``ImageError``) are replaced by the next
    record that does, the record carrying ``skipped`` (how many were passed over) and
    ``skipped_file`` (the first of them): ``config.skip_bad_images``."""

    def __init__(self, src):
        self.src = src

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, index: int) -> dict:
        first = None
        for offset in range(len(self.src)):
            try:
                record = self.src[(index + offset) % len(self.src)]
            except ImageError as err:
                first = first or err.path
                continue
            return {**record, "skipped": offset, "skipped_file": first or ""}
        raise ImageError(first, "no image of the training split decodes")
