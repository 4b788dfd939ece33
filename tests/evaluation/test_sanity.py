"""The sanity checks' similarities: Spearman against scipy, SSIM's fixed points, the
accumulator's verdict by hand."""
import numpy as np
import pytest
import scipy.stats

from camjax.evaluation import SanityAccumulator, rank_correlation, ssim


def test_rank_correlation_is_scipys_spearman_with_ties():
    rng = np.random.default_rng(0)
    a = np.round(rng.random((5, 6, 6)) * 4)                  # many ties
    b = a + np.round(rng.normal(size=a.shape))
    want = [scipy.stats.spearmanr(x.ravel(), y.ravel()).statistic for x, y in zip(a, b)]
    np.testing.assert_allclose(rank_correlation(a, b), want, atol=1e-12)
    np.testing.assert_allclose(rank_correlation(a, -a), -1.0)
    # constant maps: undefined for scipy; 1 when nothing changed, 0 otherwise
    zero, one = np.zeros((1, 3, 3)), np.ones((1, 3, 3))
    assert rank_correlation(zero, zero)[0] == 1.0
    assert rank_correlation(zero, one)[0] == 0.0
    assert rank_correlation(a[:1], np.zeros((1, 6, 6)))[0] == 0.0


def test_ssim_fixed_points():
    rng = np.random.default_rng(1)
    a = rng.random((3, 12, 10))
    np.testing.assert_allclose(ssim(a, a), 1.0)
    assert (ssim(a, rng.random((3, 12, 10))) < 0.5).all()
    assert ssim(a[:, :5, :5], a[:, :5, :5] * 0.9).shape == (3,)    # window shrinks to 5
    with pytest.raises(ValueError, match="3 x 3"):
        ssim(a[:, :2, :2], a[:, :2, :2])


def test_accumulator_by_hand_and_the_verdict():
    rng = np.random.default_rng(2)
    base = rng.random((4, 8, 8))
    acc = SanityAccumulator(["head", "conv"], threshold=0.5)
    for step in range(2):
        acc.update("cascading", step, base, base if step == 0 else rng.random((4, 8, 8)))
        acc.update("independent", step, base, base)
    r = acc.result()
    assert r["cascading"]["spearman"][0] == 1.0 and r["cascading"]["ssim"][0] == 1.0
    assert r["fully_randomised_spearman"] == pytest.approx(r["cascading"]["spearman"][1])
    assert abs(r["fully_randomised_spearman"]) < 0.5 and r["passed"]
    unchanged = SanityAccumulator(["head"], threshold=0.5)
    for mode in ("cascading", "independent"):
        unchanged.update(mode, 0, base, base)
    assert not unchanged.result()["passed"]
    other = SanityAccumulator(["head", "conv"])
    other.set_state(acc.get_state())
    assert other.merge(acc).result()["cascading"] == r["cascading"]
    with pytest.raises(ValueError, match="different layers"):
        unchanged.merge(acc)
