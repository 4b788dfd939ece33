"""The two baselines CAM is reported against.

* The centred box: for every image, the box of the mean ground-truth width and height
  (over the whole split, all processes), centred in the map; with the CAM's class
  predictions. It needs no threshold, so every operating point shares it.
* The centre Gaussian of the WSOL benchmark (Choe et al., CVPR 2020): one fixed,
  isotropic Gaussian score map centred in the map, min-max normalised, evaluated by the
  same threshold sweep as the CAMs (MaxBoxAcc V1/V2, PxAP). Its level sets are discs
  around the centre, so its pixel ranking, hence PxAP, does not depend on the width;
  MaxBoxAcc depends on it only through which disc radii the threshold grid samples.
  camjax uses sigma = a quarter of the map side: the 1% level then lies at about 0.76
  of the side from the centre, beyond the corners of the square map (0.71), so the
  sweep's boxes run from a point to the whole map.
"""
from __future__ import annotations

import numpy as np

from camjax.boxes import wsol_boxes
from camjax.distributed import sum_over_processes
from camjax.evaluation.wsol import BoxAccumulator, MaskAccumulator
from camjax.geometry import centred_box

SIGMA_FRACTION = 0.25


def centre_gaussian_map(height: int, width: int, sigma_fraction: float = SIGMA_FRACTION):
    """(H, W) float64 in [0, 1]: exp(-r^2 / 2 sigma^2) around the map's centre pixel
    coordinate ((W - 1) / 2, (H - 1) / 2), sigma = sigma_fraction * min(H, W), min-max
    normalised."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    sigma = sigma_fraction * min(height, width)
    g = np.exp(-((x - (width - 1) / 2) ** 2 + (y - (height - 1) / 2) ** 2) / (2 * sigma ** 2))
    return (g - g.min()) / (g.max() - g.min())


def mean_box_size(gt: list[np.ndarray]) -> tuple[float, float]:
    """Mean width and height of all ground-truth boxes, over all processes."""
    wh = np.concatenate([g[:, 2:] - g[:, :2] + 1 for g in gt]).astype(np.float64) \
        if gt else np.zeros((0, 2))
    sums = sum_over_processes(np.array([wh[:, 0].sum(), wh[:, 1].sum(), len(wh)]))
    return sums[0] / max(sums[2], 1), sums[1] / max(sums[2], 1)


def centred_boxes(gt: list[np.ndarray], size: int, guesses: int) -> np.ndarray:
    """(N, guesses, 4): the centred box of mean ground-truth size, for every guess."""
    box = centred_box(*mean_box_size(gt), size)
    return np.broadcast_to(box, (len(gt), guesses, 4))


class CentreGaussian:
    """MaxBoxAcc V1/V2 (and PxAP with masks) of the fixed centre-Gaussian map, with the
    same thresholds as the CAM's accumulators. The boxes of the one map are computed once
    and counted against every image's ground truth."""

    def __init__(self, cam_thresholds, iou_thresholds=(0.3, 0.5, 0.7), bin_width=0.01):
        self.v2 = BoxAccumulator(cam_thresholds, iou_thresholds, multi_contour=True)
        self.v1 = BoxAccumulator(cam_thresholds, (0.5,), multi_contour=False)
        self.masks = MaskAccumulator(bin_width)
        self._boxes = None     # (map shape, {multi_contour: BoxSet of the one map})

    def _box_sets(self, shape):
        if self._boxes is None or self._boxes[0] != shape:
            g = centre_gaussian_map(*shape)
            self._boxes = (shape, {mc: wsol_boxes(g, self.v2.cam_thresholds, mc)
                                   for mc in (True, False)})
        return self._boxes[1]

    def update(self, shape: tuple[int, int], gt: list[np.ndarray]) -> None:
        n = len(gt)
        for acc, mc in ((self.v2, True), (self.v1, False)):
            one = self._box_sets(shape)[mc]          # image index 0 only
            acc.update_boxes((np.tile(one.boxes, (n, 1)), np.repeat(np.arange(n), len(one.boxes)),
                              np.tile(one.threshold, n)), gt)

    def update_masks(self, shape: tuple[int, int], masks) -> None:
        g = centre_gaussian_map(*shape)
        self.masks.update(np.broadcast_to(g, (len(masks), *shape)), masks)
