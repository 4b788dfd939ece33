"""Inputs of bench/maxboxacc.py: CAM-shaped score maps, real-shaped ground truth.

* maps: top-5 CAMs of random ReLU features (14x14x1024, a random 1000-class head)
  through camjax.cam (class_activation_maps, bilinear upsample to 224, min-max),
  float64 as wsolevaluation requires; ``noisy`` features are i.i.d. per cell (many
  local extrema, many holes: the hard case for camjax and for OpenCV), ``smooth``
  ones smoothed over 1.5 cells, closer to a trained network's maps;
* ground truth at 224x224: half CUB-shaped (one box), half ILSVRC-shaped (1-11 boxes),
  box widths, heights and centres drawn from the quantiles of wsolevaluation's
  CUB/ILSVRC test metadata (measured there, tabulated below), or, with a checkout of
  wsolevaluation, its test metadata's boxes themselves, rescaled as it does
  (``int(x * 224 / size)``);
* masks for PxAP: per box, 1 in the inscribed ellipse, 255 (ignore) in the rest of
  the box, 0 elsewhere.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = 224
Q = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
# quantiles Q of (width / image width, height / image height, centre x, centre y) over
# the boxes of wsolevaluation's metadata/{CUB,ILSVRC}/test
SHAPES = {
    "CUB": ((0.2, 0.31, 0.41, 0.54, 0.68, 0.8, 1.0),
            (0.21, 0.37, 0.47, 0.6, 0.73, 0.84, 1.0),
            (0.17, 0.38, 0.43, 0.5, 0.56, 0.62, 0.81),
            (0.19, 0.44, 0.48, 0.52, 0.56, 0.6, 0.79)),
    "ILSVRC": ((0.01, 0.1, 0.2, 0.43, 0.74, 0.94, 1.0),
               (0.01, 0.12, 0.25, 0.5, 0.78, 0.94, 1.0),
               (0.0, 0.26, 0.41, 0.5, 0.59, 0.74, 0.99),
               (0.01, 0.31, 0.44, 0.51, 0.59, 0.71, 0.99)),
}
# images with 1, 2, ..., 11 boxes in ILSVRC's test metadata (CUB: always one)
ILSVRC_COUNTS = (38285, 6128, 2103, 1106, 668, 438, 290, 214, 150, 128, 97)


def make_maps(family: str, n: int, seed: int = 0) -> np.ndarray:
    import jax
    import jax.numpy as jnp

    import camjax
    images = -(-n // 5)
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(images, 14, 14, 1024)).astype(np.float32)
    if family == "smooth":
        from scipy.ndimage import gaussian_filter
        feats = gaussian_filter(feats, (0, 1.5, 1.5, 0), mode="nearest")
        feats /= feats.std()
    elif family != "noisy":
        raise ValueError(f"unknown map family {family!r} (noisy, smooth)")
    feats = jax.nn.relu(jnp.asarray(feats))
    weights = jnp.asarray(rng.normal(size=(1024, 1000)).astype(np.float32) / 32.0)
    top = camjax.cam.top_k_classes(feats.mean(axis=(1, 2)) @ weights, 5)
    maps = camjax.cam.class_activation_maps(feats, weights, top)
    maps = camjax.cam.normalize(camjax.cam.upsample(maps, (SIZE, SIZE), "bilinear"), "minmax")
    return np.asarray(maps, np.float64).reshape(-1, SIZE, SIZE)[:n].copy()


def _drawn_boxes(rng, kind: str, count: int) -> np.ndarray:
    w, h, cx, cy = (np.interp(rng.random(count), Q, q) * SIZE for q in SHAPES[kind])
    w, h = np.maximum(w, 1), np.maximum(h, 1)
    x0 = np.clip(cx - w / 2, 0, SIZE - 1).astype(np.int64)
    y0 = np.clip(cy - h / 2, 0, SIZE - 1).astype(np.int64)
    x1 = np.clip(x0 + w - 1, x0, SIZE - 1).astype(np.int64)
    y1 = np.clip(y0 + h - 1, y0, SIZE - 1).astype(np.int64)
    return np.stack([x0, y0, x1, y1], 1)


def _metadata_boxes(root: Path, kind: str, count: int) -> list[np.ndarray]:
    """The first ``count`` images' boxes of a wsolevaluation split, rescaled to 224."""
    folder = root / "metadata" / kind / "test"
    sizes = {}
    for line in (folder / "image_sizes.txt").read_text().splitlines():
        name, w, h = line.split(",")
        sizes[name] = (int(w), int(h))
    boxes: dict[str, list] = {}
    for line in (folder / "localization.txt").read_text().splitlines():
        name, *xy = line.split(",")
        if name not in boxes and len(boxes) == count:
            break
        w, h = sizes[name]
        x0, y0, x1, y1 = map(float, xy)
        box = [int(x0 * SIZE / w), int(y0 * SIZE / h), int(x1 * SIZE / w), int(y1 * SIZE / h)]
        boxes.setdefault(name, []).append([min(v, SIZE - 1) for v in box])
    return [np.array(b, np.int64) for b in boxes.values()]


def make_truth(n: int, wsolevaluation: Path | None = None, seed: int = 1):
    """(gt boxes: n (k, 4) int64 arrays, masks (n, 224, 224) uint8, a note on them)."""
    rng = np.random.default_rng(seed)
    half = n // 2
    if wsolevaluation is not None:
        gts = _metadata_boxes(wsolevaluation, "CUB", half)
        gts += _metadata_boxes(wsolevaluation, "ILSVRC", n - half)
        note = "ground truth: wsolevaluation's CUB and ILSVRC test boxes"
    else:
        counts = np.array(ILSVRC_COUNTS) / sum(ILSVRC_COUNTS)
        gts = [_drawn_boxes(rng, "CUB", 1) for _ in range(half)]
        gts += [_drawn_boxes(rng, "ILSVRC", int(rng.choice(len(counts), p=counts)) + 1)
                for _ in range(n - half)]
        note = "ground truth drawn with CUB's and ILSVRC's box sizes and counts"
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    masks = np.zeros((n, SIZE, SIZE), np.uint8)
    for m, boxes in zip(masks, gts):
        for x0, y0, x1, y1 in boxes:
            m[y0:y1 + 1, x0:x1 + 1] = np.where(m[y0:y1 + 1, x0:x1 + 1] == 1, 1, 255)
            cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0 + 1) / 2, (y1 - y0 + 1) / 2
            m[((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1] = 1
    return gts, masks, note
