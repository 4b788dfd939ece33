"""Evaluation metrics, separate from training and from data: arrays in, numbers out.

The paper's ILSVRC metrics (classification and localization error, GT-known) and the
WSOL benchmark's (MaxBoxAcc V1/V2, PxAP) as streamed, mergeable accumulators.
"""
from camjax.evaluation.metrics import (box_hits, classification_error, gt_known_accuracy,
                                       localization_error)
from camjax.evaluation.wsol import BoxAccumulator, MaskAccumulator, pxap
from camjax.geometry import iou, rescale_boxes

__all__ = ["iou", "rescale_boxes", "box_hits", "classification_error", "gt_known_accuracy",
           "localization_error", "BoxAccumulator", "MaskAccumulator", "pxap"]
