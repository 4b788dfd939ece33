"""Boxes from maps: one public module per rule.

* :mod:`camjax.boxes.paper` - the paper rule, :func:`largest_component_boxes` (host;
  one threshold, or many in one pass);
* :mod:`camjax.boxes.device` - the paper rule on the accelerator,
  :func:`largest_component_boxes_device`, and its labelling :func:`component_labels_device`;
* :mod:`camjax.boxes.official` - the official generator of the CAM release,
  :func:`dt_box`, :func:`heuristic_boxes`, :func:`read_heatmap`;
* :mod:`camjax.boxes.wsol` - the wsolevaluation rule (V1, V2) for many thresholds,
  :func:`wsol_boxes`, as a :class:`BoxSet`, and :func:`wsol_max_iou`, the max IoU
  with ground-truth boxes per threshold (what MaxBoxAcc counts).

The underscore modules are private: input checks and threads (``_checks``), the
compiled component tree (``_levels``, ``_unionfind``, ``_borders``, ``_compiled``) and the
compiled rules on it (``_paper_sweep``, ``_wsol_tree``, ``_wsol_sweep``,
``_wsol_iou``), GCC's ``std::sort``
(``_stdsort``). See docs/localization.md.
"""
from camjax.boxes.device import component_labels_device, largest_component_boxes_device
from camjax.boxes.official import dt_box, heuristic_boxes, read_heatmap
from camjax.boxes.paper import largest_component_boxes
from camjax.boxes.wsol import BoxSet, wsol_boxes, wsol_max_iou

__all__ = ["largest_component_boxes", "largest_component_boxes_device",
           "component_labels_device", "dt_box", "heuristic_boxes", "read_heatmap",
           "BoxSet", "wsol_boxes", "wsol_max_iou"]
