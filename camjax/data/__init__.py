"""Datasets: sources (TFDS builders, the built-in ``camjax_shapes``, wsolevaluation
folders, image folders), image decoding, per-example transforms, and the ground-truth
readers (wsolevaluation metadata, ILSVRC XML/CSV).

``camjax.data.builders`` (TFDS, OpenCV) and ``camjax.data.pipeline`` (grain, jax) are
imported on first use, so the readers stay cheap to import.
"""
import importlib

from camjax.data.annotations import AnnotationError, Annotations, read_text, read_wsol_metadata
from camjax.data.joins import file_stem, join_by_file_name, tfds_boxes
from camjax.data.ilsvrc import read_ilsvrc_xml, read_loc_val_solution, read_synsets

_LAZY = ("builders", "folders", "images", "pipeline", "sources", "transforms", "wsol")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"camjax.data.{name}")
    raise AttributeError(f"module 'camjax.data' has no attribute {name!r}")


__all__ = ["AnnotationError", "Annotations", "file_stem", "join_by_file_name", "read_ilsvrc_xml",
           "read_loc_val_solution", "read_synsets", "read_text", "read_wsol_metadata",
           "tfds_boxes",
           *_LAZY]
