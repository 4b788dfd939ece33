"""Complexity (entropy) and sparseness (Gini): hand-worked values, Quantus's batch code
transcribed, and scipy's entropy."""
import numpy as np
import pytest
import scipy.stats

from camjax.evaluation import ComplexityAccumulator, complexity, sparseness


def quantus(a_batch):
    """Quantus: normalise_by_max over the batch, abs, then Complexity / Sparseness's
    evaluate_batch."""
    a = np.array(a_batch, np.float64)
    a = np.abs(a / np.max(np.abs(a)))
    flat = a.reshape(len(a), -1)
    p = flat / np.abs(flat).sum(-1, keepdims=True)
    entropy = -(p * np.log(p + 1e-12)).sum(-1)
    g = np.sort(flat + 1e-7, axis=-1)
    n = g.shape[-1]
    i = np.stack([np.arange(1, n + 1) for _ in g])
    gini = ((2 * i - n - 1) * g).sum(-1) / (n * g.sum(-1))
    return entropy, gini


def test_hand_worked_maps():
    maps = np.array([[[1, 2], [3, 4]],            # p = .1 .2 .3 .4; Gini (-.75 - .5 + .75 +
                     [[0, 0], [0, 5]],            # 3) / (4 * 2.5) = .25; one pixel: 0, 3/4
                     [[2, 2], [2, 2]],            # uniform: log 4, 0
                     [[0, 0], [0, 0]]], np.float32)   # nothing: uniform by convention
    p = np.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(complexity(maps), [-(p * np.log(p)).sum(), 0, np.log(4),
                                                  np.log(4)], atol=1e-9)
    np.testing.assert_allclose(sparseness(maps), [0.25, 0.75, 0, 0], atol=1e-6)
    # signed maps count by magnitude, and scale does not matter
    np.testing.assert_allclose(complexity(-3 * maps[:1]), complexity(maps[:1]))


def test_agree_with_quantus_and_scipy_on_min_max_normalised_maps():
    rng = np.random.default_rng(0)
    maps = rng.random((6, 9, 7)) ** 3
    maps = (maps - maps.min(axis=(1, 2), keepdims=True)) / np.ptp(maps, axis=(1, 2),
                                                                   keepdims=True)
    entropy, gini = quantus(maps)
    np.testing.assert_allclose(complexity(maps), entropy, rtol=1e-12)
    np.testing.assert_allclose(sparseness(maps), gini, rtol=1e-12)
    np.testing.assert_allclose(complexity(maps), [scipy.stats.entropy(m.ravel()) for m in maps],
                               atol=1e-9)


def test_accumulator():
    rng = np.random.default_rng(1)
    maps = rng.random((5, 4, 4))
    a, b = ComplexityAccumulator(), ComplexityAccumulator()
    a.update(maps[:2])
    b.update(maps[2:])
    r = a.merge(b).result()
    assert r["num_images"] == 5
    assert r["complexity"] == pytest.approx(complexity(maps).mean())
    assert r["sparseness"] == pytest.approx(sparseness(maps).mean())
