"""TFDS builders. Importing this package registers ``camjax_shapes`` with TFDS."""
from camjax.data.builders.shapes import CamjaxShapes, CamjaxShapesConfig, prepare

__all__ = ["CamjaxShapes", "CamjaxShapesConfig", "prepare"]
