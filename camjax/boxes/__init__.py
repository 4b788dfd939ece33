"""Boxes from maps: the paper rule, the official dt_box generator, the WSOL rule.

* :func:`largest_component_boxes` - the paper rule (algorithms.md 2a), any number of
  thresholds in one pass; ``largest_component_boxes_reference`` is the plain
  scikit-image loop, ``largest_component_boxes_device`` the jitted JAX version.
* :func:`dt_box`, :func:`heuristic_boxes` - the official generator of the CAM release (2b).
* :func:`wsol_boxes` - the wsolevaluation rule (2c) for many thresholds, as a
  :class:`BoxSet`; ``wsol_boxes_reference`` is the per-threshold OpenCV loop.
"""
from camjax.boxes.components import (largest_component_boxes,
                                     largest_component_boxes_reference)
from camjax.boxes.contours import BoxSet, wsol_boxes, wsol_boxes_reference
from camjax.boxes.device import component_labels_device, largest_component_boxes_device
from camjax.boxes.official import dt_box, heuristic_boxes, read_heatmap
from camjax.boxes.sweep import component_boxes_sweep, wsol_boxes_sweep

__all__ = ["largest_component_boxes", "largest_component_boxes_reference",
           "largest_component_boxes_device", "component_labels_device",
           "component_boxes_sweep", "dt_box", "heuristic_boxes", "read_heatmap",
           "BoxSet", "wsol_boxes", "wsol_boxes_reference", "wsol_boxes_sweep"]
