"""camjax_shapes: a built-in weakly supervised localization dataset (TFDS builder).

Generated deterministically from (seed, split, index) by :mod:`render`; nothing is
downloaded. The features mimic TFDS ``caltech_birds2011`` so the same pipeline
reads both::

    from camjax.data.builders import shapes
    builder = shapes.prepare("/some/data_dir")               # 10,000 + 1,000 images
    src = tfds.data_source("camjax_shapes", split="test", data_dir="/some/data_dir")

Configs: ``default`` (10,000 train / 1,000 test / 500 val) and ``tiny`` (64 / 32 / 16),
or any ``CamjaxShapesConfig(name=..., train_size=..., test_size=..., val_size=...)``
passed as ``config=``. ``val`` is the WSOL protocol's train-fullsup split: images with
boxes and masks, drawn like the others from their own (seed, split, index) stream, on
which the CAM threshold is chosen before the test split is scored.
"""
from __future__ import annotations

import dataclasses
import os

import cv2
import numpy as np
import tensorflow_datasets as tfds
from etils import epath
from tensorflow_datasets.core import utils as tfds_utils

from camjax.geometry import pixel_to_tfds_boxes
from camjax.data.builders import render

IMAGE_SIZE = 112
FILE_FORMAT = "array_record"
MASK_VALUE = 255   # segmentation_mask holds 0 (background) and 255 (object), as PNG


@dataclasses.dataclass(eq=False)
class CamjaxShapesConfig(tfds.core.BuilderConfig):
    """Split sizes and the seed the examples are derived from."""

    train_size: int = 10_000
    test_size: int = 1_000
    val_size: int = 500          # train-fullsup: boxes chosen on it, never on test
    seed: int = 0


def _png(array: np.ndarray) -> bytes:
    """Lossless PNG bytes (RGB or single channel); TFDS stores them as they are."""
    if array.ndim == 3 and array.shape[-1] == 3:
        array = array[..., ::-1]      # OpenCV writes BGR
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(array))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def tfds_example(example: dict, filename: str) -> dict:
    """A rendered example (see render.render_example) as a camjax_shapes record."""
    image, mask, label = example["image"], example["mask"], int(example["label"])
    h, w = mask.shape
    ymin, xmin, ymax, xmax = pixel_to_tfds_boxes(example["box"], h, w, dtype=np.float64)
    return {
        "image": _png(image),
        "image/filename": filename,
        "label": label,
        "label_name": render.CLASS_NAMES[label],
        "bbox": tfds.features.BBox(ymin=ymin, xmin=xmin, ymax=ymax, xmax=xmax),
        "segmentation_mask": _png(mask.astype(np.uint8) * MASK_VALUE),
    }


class CamjaxShapes(tfds.core.GeneratorBasedBuilder):
    """Synthetic shapes for weakly supervised localization; no download."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "First release: 12 shape classes, 112x112 images.",
                     "1.1.0": "A val split (train-fullsup of the WSOL protocol); train and "
                              "test are unchanged."}
    BUILDER_CONFIGS = [
        CamjaxShapesConfig(name="default",
                           description="10,000 train, 1,000 test and 500 val images."),
        CamjaxShapesConfig(name="tiny", train_size=64, test_size=32, val_size=16,
                           description="64 train, 32 test and 16 val images, for tests."),
    ]
    DEFAULT_CONFIG_NAME = "default"

    @tfds_utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path:
        # TFDS's own lookup imports `importlib_resources`, which tensorflow-datasets
        # 4.9.x does not install on Python >= 3.9 (tensorflow/datasets#11212).
        return epath.Path(__file__)

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=(
                "One object per image whose class is its shape (12 classes); colour, "
                "texture, size, position and a small rotation are independent of the "
                "class. Clutter and distractor fragments fill the background. Boxes are "
                "the bounding boxes of the object masks; masks are 0/255."),
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(IMAGE_SIZE, IMAGE_SIZE, 3)),
                "image/filename": tfds.features.Text(),
                "label": tfds.features.ClassLabel(names=render.CLASS_NAMES),
                "label_name": tfds.features.Text(),
                "bbox": tfds.features.BBoxFeature(),
                "segmentation_mask": tfds.features.Image(shape=(IMAGE_SIZE, IMAGE_SIZE, 1)),
            }),
            supervised_keys=("image", "label"),
            homepage="https://github.com/camjax/camjax",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        cfg = self.builder_config
        return {"train": self._generate_examples("train", cfg.train_size),
                "test": self._generate_examples("test", cfg.test_size),
                "val": self._generate_examples("val", cfg.val_size)}

    def _generate_examples(self, split: str, size: int):
        seed = self.builder_config.seed
        for index in range(size):
            example = render.render_indexed(split, index, seed=seed, image_size=IMAGE_SIZE)
            name = f"{split}_{index:05d}.png"
            yield name, tfds_example(example, name)


def _config(config) -> CamjaxShapesConfig:
    if config is None:
        return CamjaxShapes.BUILDER_CONFIGS[0]
    if isinstance(config, CamjaxShapesConfig):
        return config
    for c in CamjaxShapes.BUILDER_CONFIGS:
        if c.name == config:
            return c
    names = [c.name for c in CamjaxShapes.BUILDER_CONFIGS]
    raise ValueError(f"unknown camjax_shapes config {config!r}; use one of {names} "
                     "or a CamjaxShapesConfig(name=..., train_size=..., test_size=...)")


def prepare(data_dir, config="default") -> CamjaxShapes:
    """Generate camjax_shapes as array_record under ``data_dir`` unless already there.

    ``config``: "default", "tiny", None (default) or a ``CamjaxShapesConfig``.
    Everything TFDS writes (including its empty downloads folder) stays under
    ``data_dir``. Returns the builder; read it with ``builder.as_data_source(split)``
    or ``tfds.data_source("camjax_shapes[/config]", split=..., data_dir=data_dir)``.
    """
    if data_dir is None:
        raise ValueError("prepare needs a data_dir (camjax never writes to the home folder)")
    data_dir = os.fspath(data_dir)
    cfg = _config(config)
    builder = CamjaxShapes(config=cfg, data_dir=data_dir, file_format=FILE_FORMAT)
    if not builder.is_prepared():
        builder.download_and_prepare(
            file_format=FILE_FORMAT,
            download_dir=os.path.join(data_dir, "downloads"),
            download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    return builder
