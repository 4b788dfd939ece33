"""Evaluation metrics, separate from training and from data: arrays in, numbers out.

The paper's ILSVRC metrics (classification and localization error, GT-known), the WSOL
benchmark's (MaxBoxAcc V1/V2, PxAP) and the faithfulness metrics of the CAM family
(average drop / increase in confidence, deletion / insertion AUC) as streamed, mergeable
accumulators.
"""
from camjax.evaluation.faithfulness import (ConfidenceAccumulator, DeletionInsertionAccumulator,
                                            confidence_scores, deletion_insertion_curves)
from camjax.evaluation.metrics import (box_hits, classification_error, gt_known_accuracy,
                                       localization_error)
from camjax.evaluation.pxap import MaskAccumulator, pxap
from camjax.evaluation.wsol import BoxAccumulator
from camjax.geometry import iou, rescale_boxes

__all__ = ["iou", "rescale_boxes", "box_hits", "classification_error", "gt_known_accuracy",
           "localization_error", "BoxAccumulator", "MaskAccumulator", "pxap",
           "ConfidenceAccumulator", "DeletionInsertionAccumulator", "confidence_scores",
           "deletion_insertion_curves"]
