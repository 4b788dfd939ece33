"""Inputs that used to give a silently wrong answer in camjax.cam and camjax.geometry now
raise an error naming them; the valid neighbours still give the hand-worked answers."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from camjax import cam, geometry
from camjax.errors import UserError


def _features_and_weights():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)   # (B, h, w, K)
    weights = rng.normal(size=(5, 3)).astype(np.float32)          # (K, C = 3)
    return features, weights


@pytest.mark.parametrize("classes, bad", [([[3], [0]], 3), ([[0], [-1]], -1),
                                          (np.array([[0, 7], [1, 2]], np.int64), 7)])
def test_class_index_outside_the_weights_is_an_error(classes, bad):
    features, weights = _features_and_weights()
    with pytest.raises(UserError, match=rf"\[0, 3\).*got {bad}"):
        cam.class_activation_maps(features, weights, classes)


def test_valid_class_indices_give_the_weighted_sum():
    features, weights = _features_and_weights()
    maps = np.asarray(cam.class_activation_maps(features, weights, [[2], [0]]))
    # paper eq. 2 written out: M[b, y, x] = sum_k W[k, c_b] f[b, y, x, k]
    for b, c in enumerate((2, 0)):
        expected = sum(weights[k, c] * features[b, :, :, k] for k in range(5))
        np.testing.assert_allclose(maps[b, 0], expected, rtol=1e-5, atol=1e-6)


def test_traced_class_indices_cannot_be_checked_as_documented():
    """Under jit the indices are not known: one outside [0, C) selects no column (its
    one-hot vector is zero), so its map is all zeros, as the docstring of
    class_activation_maps says."""
    features, weights = _features_and_weights()
    fn = jax.jit(lambda c: cam.class_activation_maps(features, weights, c))
    out = np.asarray(fn(jnp.array([[3, 2], [-1, 0]])))
    assert (out[0, 0] == 0).all() and (out[1, 0] == 0).all()
    np.testing.assert_allclose(out[:, 1], np.asarray(
        cam.class_activation_maps(features, weights, [[2], [0]]))[:, 0], rtol=1e-6)


def test_unknown_mode_or_method_fails_when_traced_instead_of_running_min_max():
    maps = jnp.ones((1, 1, 3, 4))
    with pytest.raises(UserError, match="zscore"):
        jax.jit(lambda m: cam._normalize(m, "zscore"))(maps)
    with pytest.raises(UserError, match="nearest"):
        jax.jit(lambda m: cam._upsample(m, (6, 8), "nearest"))(maps)
    assert cam.normalize(cam.upsample(maps, (6, 8))).shape == (1, 1, 6, 8)


@pytest.mark.parametrize("a, b, name", [([0, 0, np.nan, 3], [0, 0, 3, 3], "a"),
                                        ([0, 0, 3, 3], [[0, 0, 1, 1], [np.inf, 0, 1, 1]], "b")])
def test_iou_of_a_non_finite_box_is_an_error(a, b, name):
    with pytest.raises(UserError, match=rf"{name}\[\d\].*not a finite box"):
        geometry.iou(a, b)


def test_iou_of_finite_boxes_is_the_plus_one_ratio():
    # (0..3) x (0..3) = 16 pixels, (2..5) x (2..5) = 16, overlap (2..3)^2 = 4: 4 / 28
    assert geometry.iou([0, 0, 3, 3], [2, 2, 5, 5])[0, 0] == pytest.approx(4 / 28)


@pytest.mark.parametrize("old, new", [((0, 10), (5, 5)), ((10, 10), (0, 5)), ((-4, 10), (5, 5)),
                                      ((np.nan, 10), (5, 5))])
def test_rescale_boxes_from_or_to_an_empty_size_is_an_error(old, new):
    with pytest.raises(UserError, match="positive"):
        geometry.rescale_boxes([[1, 1, 4, 4]], old, new)


def test_rescale_boxes_is_int_of_x_times_new_over_old():
    out = geometry.rescale_boxes([[3, 1, 9, 7]], (8, 10), (16, 5))   # (H, W) -> (H', W')
    # x: int(3 * 5 / 10) = 1, int(9 * 5 / 10) = 4; y: int(1 * 16 / 8) = 2, int(7 * 16 / 8) = 14
    np.testing.assert_array_equal(out, [[1, 2, 4, 14]])
    with pytest.raises(UserError, match="NaN"):
        geometry.rescale_boxes([[np.nan, 1, 4, 4]], (8, 10), (16, 5))
