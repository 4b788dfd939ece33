"""A transcription of wsolevaluation's ``evaluation.py`` (``evaluate_wsol`` with
``--scoremap_root``), the reference ``camjax score`` is compared with: its metadata
reading, ``resize_bbox`` to 224, ``BoxEvaluator`` (V1: the largest contour; V2: all
contours, several IoU thresholds) and ``MaskEvaluator`` with ``get_mask``, one image and
one threshold at a time. The box rule is tests/boxes/oracle.py's (its
``compute_bboxes_from_scoremaps``), the IoU tests/boxes/oracle.py's
(``calculate_multiple_iou``)."""
from __future__ import annotations

import os

import cv2
import numpy as np

from tests.boxes.oracle import multiple_iou, wsol_boxes_per_threshold

RESIZE_LENGTH = 224


def _lines(path):
    with open(path, encoding="utf-8-sig") as f:
        return [line.strip("\n").strip("\r") for line in f if line.strip()]


def metadata(folder):
    """image_ids, image_sizes (id -> (w, h)), boxes (id -> list) or masks (id ->
    (mask paths, ignore path)) as data_loaders.py reads them."""
    ids = _lines(os.path.join(folder, "image_ids.txt"))
    sizes, boxes, masks, ignores = {}, {}, {}, {}
    if os.path.exists(os.path.join(folder, "image_sizes.txt")):
        for line in _lines(os.path.join(folder, "image_sizes.txt")):
            image_id, w, h = line.split(",")
            sizes[image_id] = (int(w), int(h))
    for line in _lines(os.path.join(folder, "localization.txt")):
        parts = line.split(",")
        if len(parts) == 5:
            boxes.setdefault(parts[0], []).append([float(v) for v in parts[1:]])
        else:
            masks.setdefault(parts[0], []).append(parts[1])
            if parts[0] not in ignores:
                ignores[parts[0]] = parts[2]
    return ids, sizes, boxes, (masks, ignores)


def resize_bbox(box, image_size, resize_size):
    x0, y0, x1, y1 = map(float, box)
    w, h = map(float, image_size)
    nw, nh = map(float, resize_size)
    return int(x0 * nw / w), int(y0 * nh / h), int(x1 * nw / w), int(y1 * nh / h)


def box_evaluator(folder, scoremap_root, cam_curve_interval, iou_threshold_list,
                  multi_contour_eval):
    """BoxEvaluator.accumulate over the split, then compute(): the accuracy curve (%) per
    IoU threshold (its max is MaxBoxAcc)."""
    ids, sizes, boxes, _ = metadata(folder)
    thresholds = list(np.arange(0, 1, cam_curve_interval))
    gt = {i: [resize_bbox(b, sizes[i], (RESIZE_LENGTH, RESIZE_LENGTH)) for b in boxes[i]]
          for i in ids}
    num_correct = {t: np.zeros(len(thresholds)) for t in iou_threshold_list}
    for image_id in ids:
        scoremap = np.load(os.path.join(scoremap_root, image_id + ".npy")).astype(np.float64)
        per_threshold = wsol_boxes_per_threshold(scoremap, thresholds, multi_contour_eval)
        truth = np.asarray(gt[image_id])
        sliced = [multiple_iou(np.asarray(b), truth).max() for b in per_threshold]
        for t in iou_threshold_list:
            num_correct[t][np.where(np.asarray(sliced) >= t / 100)[0]] += 1
    return {t: num_correct[t] * 100.0 / len(ids) for t in iou_threshold_list}, thresholds


def _load_mask_image(path, size):
    mask = np.float32(cv2.imread(path, cv2.IMREAD_GRAYSCALE))
    return cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)


def get_mask(mask_root, mask_paths, ignore_path):
    size = (RESIZE_LENGTH, RESIZE_LENGTH)
    instances = np.stack([_load_mask_image(os.path.join(mask_root, p), size) > 0.5
                          for p in mask_paths]).any(axis=0)
    ignore = _load_mask_image(os.path.join(mask_root, ignore_path), size) > 0.5
    ignore = np.logical_and(ignore, np.logical_not(instances))
    return instances.astype(np.uint8) + 255 * ignore.astype(np.uint8)


def mask_evaluator(folder, scoremap_root, mask_root, cam_curve_interval):
    """MaskEvaluator: PxAP (%)."""
    ids, _, _, (masks, ignores) = metadata(folder)
    thresholds = list(np.arange(0, 1, cam_curve_interval))
    edges = np.append(thresholds, [1.0, 2.0, 3.0])
    true_hist = np.zeros(len(thresholds) + 2)
    false_hist = np.zeros(len(thresholds) + 2)
    for image_id in ids:
        scoremap = np.load(os.path.join(scoremap_root, image_id + ".npy")).astype(np.float64)
        gt = get_mask(mask_root, masks[image_id], ignores[image_id])
        true_hist += np.histogram(scoremap[gt == 1], bins=edges)[0]
        false_hist += np.histogram(scoremap[gt == 0], bins=edges)[0]
    tp = true_hist[::-1].cumsum()
    fn = true_hist.sum() - tp
    fp = false_hist[::-1].cumsum()
    nonzero = (tp + fp) != 0
    precision = tp / np.where(nonzero, tp + fp, 1)
    recall = tp / (tp + fn)
    return 100 * (precision[1:] * np.diff(recall))[nonzero[1:]].sum()
