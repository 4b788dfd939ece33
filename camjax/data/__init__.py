"""Datasets: sources (TFDS builders, the built-in ``camjax_shapes``, wsolevaluation
folders, image folders), image decoding, per-example transforms, and the ground-truth
readers (wsolevaluation metadata, ILSVRC XML/CSV).

``camjax.data.builders`` (TFDS, OpenCV) and ``camjax.data.pipeline`` (grain, jax) are
imported on first use, so the readers stay cheap to import; so is ``imagenet_classes()``
(the 1,000 ImageNet names, ``camjax.data.imagenet``).
"""
import importlib

from camjax.data.annotations import AnnotationError, Annotations, read_text, read_wsol_metadata
from camjax.data.joins import file_stem, join_by_file_name, tfds_boxes
from camjax.data.ilsvrc import read_ilsvrc_xml, read_loc_val_solution, read_synsets

_LAZY = ("builders", "folders", "images", "imagenet", "pipeline", "sources", "transforms",
         "wsol")
_LAZY_FUNCTIONS = {"imagenet_classes": "imagenet"}  # function -> its module


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"camjax.data.{name}")
    if name in _LAZY_FUNCTIONS:
        return getattr(importlib.import_module(f"camjax.data.{_LAZY_FUNCTIONS[name]}"), name)
    raise AttributeError(f"module 'camjax.data' has no attribute {name!r}")


__all__ = ["AnnotationError", "Annotations", "file_stem", "join_by_file_name", "read_ilsvrc_xml",
           "read_loc_val_solution", "read_synsets", "read_text", "read_wsol_metadata",
           "tfds_boxes", *_LAZY, *_LAZY_FUNCTIONS]
