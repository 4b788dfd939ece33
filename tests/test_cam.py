"""CAM: the paper's identities, the top-k selection, upsampling and normalisation (the
engine's model-level maps are tested in tests/engine)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import camjax
from camjax import cam


@pytest.fixture(scope="module")
def tiny():
    model = camjax.models.create("tiny_gap", num_classes=7, rngs=nnx.Rngs(3))
    model.eval()
    return model


def test_cam_sum_equals_hw_times_class_score(tiny):
    # GAP + dense without bias: score_c = sum_k W[k,c] mean_yx f = (1/hw) sum_yx M_c
    images = jax.random.normal(jax.random.key(0), (2, 64, 64, 3))
    logits, features = tiny(images)
    h, w = features.shape[1:3]
    classes = jnp.tile(jnp.arange(7), (2, 1))
    maps = cam.class_activation_maps(features, camjax.models.class_weights(tiny), classes)
    np.testing.assert_allclose(maps.sum(axis=(2, 3)), h * w * logits, rtol=1e-4, atol=1e-4)


def test_gmp_score_is_the_max_of_pooled_features_not_the_cam_sum():
    model = camjax.models.create("tiny_gap", num_classes=4, pooling="gmp", rngs=nnx.Rngs(1))
    model.eval()
    logits, features = model(jax.random.normal(jax.random.key(1), (1, 32, 32, 3)))
    expected = features.max(axis=(1, 2)) @ camjax.models.class_weights(model)
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)


def test_topk_gather_equals_all_classes_then_select():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(3, 5, 6, 8)).astype(np.float32)
    weights = rng.normal(size=(8, 11)).astype(np.float32)
    classes = np.array([[4, 0, 10], [1, 1, 2], [9, 3, 5]])
    got = cam.class_activation_maps(features, weights, classes)
    # brute force: every class by explicit loops over channels, then index
    full = np.zeros((3, 11, 5, 6), np.float64)
    for c in range(11):
        for k in range(8):
            full[:, c] += weights[k, c] * features[..., k]
    want = np.stack([full[b, classes[b]] for b in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_relu_option_clips_negative_values():
    f = np.ones((1, 2, 2, 1), np.float32)
    w = np.array([[-2.0, 3.0]], np.float32)
    maps = cam.class_activation_maps(f, w, np.array([[0, 1]]), relu=True)
    np.testing.assert_array_equal(maps[0, 0], 0)
    np.testing.assert_array_equal(maps[0, 1], 3)


@pytest.mark.parametrize("bad, match", [
    ((np.ones((2, 3, 3)), np.ones((3, 4)), np.zeros((2, 1), int)), "features must be"),
    ((np.ones((2, 3, 3, 5)), np.ones((4, 4)), np.zeros((2, 1), int)), "weights must be"),
    ((np.ones((2, 3, 3, 5)), np.ones((5, 4)), np.zeros((3, 1), int)), "classes must be"),
])
def test_bad_shapes_name_the_input(bad, match):
    with pytest.raises(ValueError, match=match):
        cam.class_activation_maps(*bad)


def test_float_classes_are_refused():
    with pytest.raises(TypeError, match="integers"):
        cam.class_activation_maps(np.ones((1, 2, 2, 3)), np.ones((3, 2)), np.zeros((1, 1)))


def test_normalize_minmax_and_max_by_hand():
    m = np.array([[[1.0, 3.0], [5.0, 2.0]]])
    np.testing.assert_allclose(cam.normalize(m, "minmax"), [[[0.0, 0.5], [1.0, 0.25]]])
    np.testing.assert_allclose(cam.normalize(-m, "max"), [[[0.2, 0.6], [1.0, 0.4]]])


@pytest.mark.parametrize("mode", ["minmax", "max"])
def test_normalize_has_the_gradient_of_the_plain_formula(mode):
    """The one-pass max / min and the clip to [0, 1] leave the derivative that of
    (x - min) / (max - min) (or |x| / max |x|), a zero pixel included."""
    rng = np.random.default_rng(1)
    maps = rng.normal(size=(3, 2, 9, 11)).astype(np.float32)
    maps[1, 0, 4, 4] = 0.0
    weights = rng.normal(size=maps.shape).astype(np.float32)

    def plain(m):
        if mode == "max":
            return jnp.abs(m) / jnp.abs(m).max(axis=(-2, -1), keepdims=True)
        lo, hi = m.min(axis=(-2, -1), keepdims=True), m.max(axis=(-2, -1), keepdims=True)
        return (m - lo) / (hi - lo)
    got = jax.grad(lambda m: (cam.normalize(m, mode) * weights).sum())(maps)
    want = jax.grad(lambda m: (plain(m) * weights).sum())(maps)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_normalised_maps_stay_in_0_1_inside_a_larger_program():
    """Fused into one jitted program with the maps' producer (here the mean of normalised
    uint8 images, as the evaluation job's image-level methods), XLA:CPU's FMA contraction
    and its product with 1 / span put pixels at -1e-8 and 1.0000001 unless clipped."""
    mean = jnp.array([0.485, 0.456, 0.406]) * 255
    std = jnp.array([0.229, 0.224, 0.225]) * 255

    @jax.jit
    def maps_of(u8):
        images = (u8.astype(jnp.float32) - mean) / std
        return cam.normalize(jnp.broadcast_to(images.mean(axis=-1)[:, None],
                                              (u8.shape[0], 2, 32, 32)), "minmax")
    u8 = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), np.uint8)
    out = np.asarray(maps_of(jnp.asarray(u8)))
    assert out.min() == 0.0 and out.max() == 1.0


@pytest.mark.parametrize("mode", ["minmax", "max"])
def test_constant_and_nan_maps_normalise_to_zeros(mode):
    maps = np.stack([np.full((3, 3), 4.0), np.array([[1, np.nan, 2], [0, 0, 0], [0, 0, 1.0]])])
    out = np.asarray(cam.normalize(maps, mode))
    assert np.all(out == 0) and np.all(np.isfinite(out))


def test_bilinear_upsample_of_a_ramp_matches_half_pixel_formula():
    # half-pixel centres: output x maps to input (x + 0.5) * w/W - 0.5, clamped at the edges
    ramp = np.arange(4, dtype=np.float32)[None, None, None, :].repeat(4, axis=2)
    up = np.asarray(cam.upsample(ramp, (8, 8), "bilinear"))[0, 0, 0]
    src = np.clip((np.arange(8) + 0.5) * 4 / 8 - 0.5, 0, 3)
    np.testing.assert_allclose(up, src, atol=1e-6)


def test_upsample_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        cam.upsample(np.ones((1, 2, 2)), (4, 4), "nearest")
