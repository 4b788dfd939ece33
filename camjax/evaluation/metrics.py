"""The paper's metrics (docs/evaluation.md). Scores are percentages."""
from __future__ import annotations

import numpy as np

from camjax.errors import UserError
from camjax.geometry import iou


def _check_some(n: int, what: str) -> None:
    if n == 0:   # a mean over nothing is NaN, not a score
        raise UserError(f"{what} of no images: pass at least one")


def _check_labels(labels, num_classes: int, what: str = "labels") -> None:
    labels = np.asarray(labels)
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise UserError(f"{what} must be integer class indices, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)].ravel()[0]
        raise UserError(f"{what} must lie in [0, {num_classes}) (the score columns); "
                        f"got {int(bad)}")


def _check_gt(gt_boxes, n: int) -> list[np.ndarray]:
    if len(gt_boxes) != n:
        raise ValueError(f"gt_boxes has {len(gt_boxes)} entries for {n} images")
    out = []
    for i, g in enumerate(gt_boxes):
        g = np.asarray(g).reshape(-1, 4) if np.size(g) else np.zeros((0, 4))
        if len(g) == 0:
            raise ValueError(f"gt_boxes[{i}] is empty: every image needs a ground-truth box")
        out.append(g)
    return out


def classification_error(scores, labels, k: int = 1) -> float:
    """Top-k error: share of images whose label is not among the k highest scores."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    if scores.ndim != 2 or labels.shape != (scores.shape[0],):
        raise ValueError(f"scores must be (N, C) and labels (N,); "
                         f"got {scores.shape}, {labels.shape}")
    _check_some(len(labels), "classification_error")
    if not 1 <= k <= scores.shape[1]:
        raise UserError(f"k must lie in [1, {scores.shape[1]}] (the classes), got {k}")
    _check_labels(labels, scores.shape[1])
    if np.issubdtype(scores.dtype, np.floating) and np.isnan(scores).any():
        row = int(np.flatnonzero(np.isnan(scores).any(axis=1))[0])
        raise UserError(f"scores[{row}] holds NaN: its ranking is undefined")
    topk = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return 100.0 * float(np.mean(~np.any(topk == labels[:, None], axis=1)))


def box_hits(pred_boxes, gt_boxes, iou_threshold: float = 0.5) -> np.ndarray:
    """(N, k, m, 4) or (N, k, 4) guesses -> (N, k) bool: any box of guess j has IoU >= t with
    any ground-truth box of the image."""
    pred = np.asarray(pred_boxes)
    if pred.ndim == 3:
        pred = pred[:, :, None, :]
    if pred.ndim != 4 or pred.shape[-1] != 4:
        raise ValueError(f"pred_boxes must be (N, k, 4) or (N, k, m, 4), got {pred.shape}")
    gts = _check_gt(gt_boxes, pred.shape[0])
    hits = np.zeros(pred.shape[:2], bool)
    for i, g in enumerate(gts):
        # explicit sizes: with no predicted box (m = 0) a -1 here cannot be inferred
        ious = iou(pred[i].reshape(-1, 4), g).reshape(pred.shape[1], pred.shape[2], len(g))
        hits[i] = (ious >= iou_threshold).any(axis=(1, 2))
    return hits


def localization_error(pred_classes, pred_boxes, gt_labels, gt_boxes, k: int = 5,
                       iou_threshold: float = 0.5) -> float:
    """ILSVRC top-k localization error (paper Tables 2, 3).

    An image is correct if one of its first k guesses has the ground-truth class and
    one of that guess's boxes has IoU >= 0.5 with any ground-truth box of the image.
    ``pred_boxes`` is (N, K, 4), or (N, K, m, 4) for several boxes per guess (the
    heuristic); ``gt_boxes`` a list of (n_i, 4) arrays.
    """
    pred_classes = np.asarray(pred_classes)
    gt_labels = np.asarray(gt_labels).reshape(-1)
    if pred_classes.ndim != 2 or pred_classes.shape[1] < k:
        raise ValueError(f"pred_classes must be (N, >= {k}), got {pred_classes.shape}")
    if gt_labels.shape[0] != pred_classes.shape[0]:
        raise ValueError(f"{gt_labels.shape[0]} labels for {pred_classes.shape[0]} images")
    pred_boxes = np.asarray(pred_boxes)
    if pred_boxes.ndim < 3 or pred_boxes.shape[0] != pred_classes.shape[0] \
            or pred_boxes.shape[1] < k:
        raise ValueError(f"pred_boxes must be (N, >= {k}, 4) or (N, >= {k}, m, 4) for "
                         f"N = {pred_classes.shape[0]}, got {pred_boxes.shape}")
    _check_some(len(gt_labels), "localization_error")
    hits = box_hits(pred_boxes[:, :k], gt_boxes, iou_threshold)
    correct = (pred_classes[:, :k] == gt_labels[:, None]) & hits
    return 100.0 * float(np.mean(~correct.any(axis=1)))


def gt_known_accuracy(gt_class_boxes, gt_boxes, iou_threshold: float = 0.5) -> float:
    """Share of images whose box from the ground-truth class's map has IoU >= 0.5 with
    some ground-truth box (classification ignored). Also the CUB localization accuracy."""
    pred = np.asarray(gt_class_boxes)
    if pred.ndim < 2 or pred.shape[-1] != 4:
        raise ValueError(f"gt_class_boxes must be (N, 4) or (N, m, 4), got {pred.shape}")
    _check_some(pred.shape[0], "gt_known_accuracy")
    pred = pred.reshape(pred.shape[0], 1, int(np.prod(pred.shape[1:-1])), 4)
    return 100.0 * float(np.mean(box_hits(pred, gt_boxes, iou_threshold)[:, 0]))
