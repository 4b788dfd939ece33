"""Datasets: TFDS builders (the built-in ``camjax_shapes``), box conversion, pipelines.

``camjax.data.builders`` (TFDS, OpenCV) and ``camjax.data.pipeline`` (grain, jax) are
imported on first use, so ``camjax.data.boxes`` stays cheap to import.
"""
import importlib

from camjax.data.boxes import pixel_to_tfds_boxes, tfds_to_pixel_boxes

_LAZY = ("builders", "pipeline", "transforms")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"camjax.data.{name}")
    raise AttributeError(f"module 'camjax.data' has no attribute {name!r}")


__all__ = ["pixel_to_tfds_boxes", "tfds_to_pixel_boxes", *_LAZY]
