"""Evaluation metrics, separate from training and from data: arrays in, numbers out.

The paper's ILSVRC metrics (classification and localization error, GT-known), the WSOL
benchmark's (MaxBoxAcc V1/V2, PxAP), and the metrics of map methods: faithfulness
(average drop / increase in confidence, deletion / insertion AUC, ROAD), localization
(pointing game, energy pointing game), complexity and sparseness, and the sanity checks'
similarities; the streamed ones as mergeable accumulators.
"""
from camjax.evaluation.complexity import ComplexityAccumulator, complexity, sparseness
from camjax.evaluation.faithfulness import (ConfidenceAccumulator, DeletionInsertionAccumulator,
                                            confidence_scores, deletion_insertion_curves)
from camjax.evaluation.imputation import impute
from camjax.evaluation.metrics import (box_hits, classification_error, gt_known_accuracy,
                                       localization_error)
from camjax.evaluation.pointing import PointingAccumulator, energy_proportions, pointing_hits
from camjax.evaluation.pxap import MaskAccumulator, pxap
from camjax.evaluation.road import ROADAccumulator, road_scores
from camjax.evaluation.sanity import SanityAccumulator, rank_correlation, ssim
from camjax.evaluation.wsol import BoxAccumulator
from camjax.geometry import iou, rescale_boxes

__all__ = ["iou", "rescale_boxes", "box_hits", "classification_error", "gt_known_accuracy",
           "localization_error", "BoxAccumulator", "MaskAccumulator", "pxap",
           "ConfidenceAccumulator", "DeletionInsertionAccumulator", "confidence_scores",
           "deletion_insertion_curves", "ROADAccumulator", "road_scores", "impute",
           "PointingAccumulator", "pointing_hits", "energy_proportions",
           "ComplexityAccumulator", "complexity", "sparseness", "SanityAccumulator",
           "rank_correlation", "ssim"]
