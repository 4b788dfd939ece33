"""PxAP (wsolevaluation's ``MaskEvaluator``): pixel average precision of score maps
against masks, as a mergeable accumulator. Scores are percentages; see
docs/evaluation.md.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from camjax.evaluation.checks import check_scoremaps, scoremap_array


def _mask_array(masks, shape) -> np.ndarray:
    """(N, H, W) uint8 masks: bool viewed as uint8, uint8 as given (its values are
    checked where they are read), other integers checked here."""
    m = np.asarray(masks)
    if m.ndim == 2:
        m = m[None]
    if m.shape != shape:
        raise ValueError(f"masks have shape {m.shape}, score maps {shape}: they must match")
    if m.dtype == bool:
        return np.ascontiguousarray(m).view(np.uint8)
    if m.dtype != np.uint8:
        m = _check_mask_values(m).astype(np.uint8)
    return np.ascontiguousarray(m)


def _check_mask_values(m: np.ndarray) -> np.ndarray:
    """``m`` itself if its dtype is an integer one and its values are 0, 1 or 255."""
    if not np.issubdtype(m.dtype, np.integer):
        raise TypeError(f"masks must be uint8 {{0, 1, 255}} or bool, got dtype {m.dtype}")
    bad = (m != 0) & (m != 1) & (m != 255)
    if bad.any():
        raise ValueError(f"masks hold the value {m[bad][0]}: expected 0 (background), "
                         "1 (foreground) or 255 (ignore)")
    return m


class MaskAccumulator:
    """Pixel average precision (PxAP) over batches, exactly wsolevaluation's MaskEvaluator.

    Score histograms of foreground (mask 1) and background (mask 0) pixels, ignore
    pixels (255) excluded, over bins with edges [0, bw, ..., 1 - bw, 1, 2, 3]: the
    counts of ``np.histogram``, in one compiled pass (``workers`` threads share a
    batch; the counts do not depend on it).
    """

    def __init__(self, bin_width: float = 0.01, *, workers: int | None = None):
        if not 0 < bin_width <= 1:
            raise ValueError(f"bin_width must be in (0, 1], got {bin_width}")
        self.bin_width = float(bin_width)
        self.workers = workers       # threads for the histograms (None: the CPU count, at most 8)
        # the same arange as wsolevaluation's cam_threshold_list, then [1, 2, 3]
        self.edges = np.append(np.arange(0, 1, self.bin_width), [1.0, 2.0, 3.0])
        self.fg_hist = np.zeros(len(self.edges) - 1, np.int64)
        self.bg_hist = np.zeros(len(self.edges) - 1, np.int64)
        self.num_images = 0
        self._uniform = None         # the edges' count below 1 if they are fl(j * bw)

    def update(self, scoremaps, masks) -> None:
        """scoremaps (N, H, W) float in [0, 1]; masks (N, H, W) uint8 {0, 1, 255} or bool."""
        from camjax.evaluation._masks import uniform_edges
        s = scoremap_array(scoremaps)
        m = _mask_array(masks, s.shape)
        if self._uniform is None:
            self._uniform = uniform_edges(self.edges, self.bin_width)
        if not self._uniform:          # edges NumPy made otherwise: its own histogram
            _check_mask_values(m)
            check_scoremaps(s)
            counts = [np.histogram(s[m == c], bins=self.edges)[0] for c in (0, 1)]
        else:
            # float32 and float64 read in place; float16 widened to float32 (exactly)
            maps = np.ascontiguousarray(s if s.dtype in (np.float32, np.float64) else
                                        s.astype(np.float32 if s.itemsize < 4 else np.float64))
            counts, bad = self._compiled(maps, m)
            if bad:                    # the checks name the bad value
                check_scoremaps(s)
                _check_mask_values(m)
                counts, bad = self._compiled(maps + 0.0, m)   # -0.0 (bits above 1.0's) -> 0.0
                if bad:
                    raise AssertionError("mask_histograms refused input the checks accept")
        self.bg_hist += counts[0]
        self.fg_hist += counts[1]
        self.num_images += s.shape[0]

    def _compiled(self, maps, masks):
        """(counts (3, K + 2), bad) of :func:`camjax.evaluation._masks.mask_histograms`
        over chunks of the batch on ``workers`` threads."""
        from camjax.evaluation._masks import mask_histograms, scale, top_rule
        from camjax.threads import map_chunks
        ints = np.uint64 if maps.dtype == np.float64 else np.uint32
        bits, one = maps.view(ints), np.array(1.0, maps.dtype).view(ints)[()]
        bw, k = self.bin_width, self._uniform
        inv, top = scale(bw), top_rule(bw, k)
        parts = map_chunks(lambda a, b: mask_histograms(maps[a:b], bits[a:b], one, masks[a:b],
                                                        bw, inv, k, top),
                           len(maps), self.workers)
        return sum(c for c, _ in parts), any(bad for _, bad in parts)

    def merge(self, other: "MaskAccumulator") -> "MaskAccumulator":
        if not np.array_equal(self.edges, other.edges):
            raise ValueError("cannot combine MaskAccumulators with different bin_width")
        self.fg_hist += other.fg_hist
        self.bg_hist += other.bg_hist
        self.num_images += other.num_images
        return self

    def get_state(self) -> dict[str, Any]:
        return {"fg_hist": self.fg_hist.copy(), "bg_hist": self.bg_hist.copy(),
                "num_images": int(self.num_images), "bin_width": self.bin_width}

    def set_state(self, state: dict[str, Any]) -> None:
        if float(state["bin_width"]) != self.bin_width:
            raise ValueError("cannot combine MaskAccumulators with different bin_width")
        fg, bg = (np.asarray(state[k], np.int64) for k in ("fg_hist", "bg_hist"))
        if fg.shape != self.fg_hist.shape or bg.shape != self.bg_hist.shape:
            raise ValueError("histogram shapes do not match this bin_width")
        self.fg_hist, self.bg_hist = fg.copy(), bg.copy()
        self.num_images = int(state["num_images"])

    def result(self) -> dict[str, Any]:
        """{"pxap", "precision", "recall", "thresholds", "num_images"}; the curve runs
        from the highest threshold (2.0) down to 0.0."""
        tp = self.fg_hist[::-1].cumsum()
        fp = self.bg_hist[::-1].cumsum()
        num_fg = self.fg_hist.sum()
        if num_fg <= 0:
            raise ValueError("PxAP needs foreground pixels: no mask pixel equals 1")
        if (tp + fp <= 0).all():
            raise ValueError("PxAP needs scored pixels: every pixel is ignored")
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = tp / (tp + fp)
        recall = tp / float(num_fg)
        nonzero = (tp + fp) != 0
        ap = float((precision[1:] * np.diff(recall))[nonzero[1:]].sum() * 100)
        return {"pxap": ap, "precision": precision, "recall": recall,
                "thresholds": self.edges[:-1][::-1].copy(), "num_images": int(self.num_images)}


def pxap(scoremaps, masks, bin_width: float = 0.01) -> float:
    """PxAP in percent of maps (N, H, W) in [0, 1] against masks {0, 1, 255 = ignore}."""
    acc = MaskAccumulator(bin_width)
    acc.update(scoremaps, masks)
    return acc.result()["pxap"]
