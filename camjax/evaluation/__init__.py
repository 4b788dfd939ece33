"""Evaluation, separate from training: the paper's and the WSOL benchmark's metrics."""
from camjax.evaluation.annotations import (AnnotationError, Annotations, join_by_file_name,
                                           read_wsol_metadata, tfds_boxes)
from camjax.evaluation.faithfulness import (ConfidenceAccumulator, DeletionInsertionAccumulator,
                                            confidence_scores, deletion_insertion_curves)
from camjax.evaluation.ilsvrc import read_ilsvrc_xml, read_loc_val_solution, read_synsets
from camjax.evaluation.iou import iou, rescale_boxes
from camjax.evaluation.metrics import (box_hits, classification_error, gt_known_accuracy,
                                       localization_error)
from camjax.evaluation.wsol import BoxAccumulator, MaskAccumulator, pxap

__all__ = ["iou", "rescale_boxes", "box_hits", "classification_error", "gt_known_accuracy",
           "localization_error", "BoxAccumulator", "MaskAccumulator", "pxap",
           "AnnotationError", "Annotations", "read_wsol_metadata", "read_ilsvrc_xml",
           "read_loc_val_solution", "read_synsets", "tfds_boxes", "join_by_file_name",
           "ConfidenceAccumulator", "DeletionInsertionAccumulator", "confidence_scores",
           "deletion_insertion_curves"]
