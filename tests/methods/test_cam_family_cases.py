"""The new CAM-family methods worked out by hand on the closed-form ``Toy`` network
(a 2 x 2 patchify conv + ReLU, GAP of f or of f^2, a dense layer without bias), whose
features and gradients numpy writes in a line: HiResCAM (= CAM / (h w) on the linear head,
the paper's equivalence), Grad-CAM element-wise, XGrad-CAM, Eigen-CAM's sign convention,
Eigen-Grad-CAM, ``eigen_smooth``, ``aug_smooth`` (ttach's flips x multipliers), FullGrad's
input and bias terms; Random-CAM's weights (uniform in [-1, 1), per image whatever the
batch, drawn anew when the network changes); FullGrad refused on networks it cannot
account for, ``eigen_smooth`` on methods without weighted channels.

With the square head the gradient at the features, ``2 f W_c / (h w)``, varies per
position, so the gradient methods differ from each other and from CAM.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from camjax import methods, models
from camjax.errors import ModelError, UserError
from camjax.methods import randomcam
from tests.methods.conftest import Toy, toy_features, toy_params

PARAMS = toy_params(seed=1, patch=2, channels=3, classes=3)
IMAGES = np.random.default_rng(4).normal(0, 1, (2, 8, 8, 3)).astype(np.float32)
CLASSES = np.array([[0, 2], [1, 0]])
HW = 16                                           # 4 x 4 features
KEY = jax.random.key(11)


def _maps(square: bool, calls):
    graphdef, state = nnx.split(Toy(**PARAMS, square=square))

    def run(s, x, c):
        return {name: fn(graphdef, s, x, c) for name, fn in calls.items()}
    return jax.device_get(jax.jit(run)(state, jnp.asarray(IMAGES), jnp.asarray(CLASSES)))


def pure(name, **options):
    return lambda g, s, x, c: methods.get_pure(name)(g, s, x, c, **options)


@pytest.fixture(scope="module")
def square_maps():
    """The gradient methods on the square head, in one compiled program."""
    return _maps(True, {
        "hires_cam": pure("hires_cam", relu=False),
        "grad_cam_element_wise": pure("grad_cam_element_wise"),
        "x_grad_cam": pure("x_grad_cam", relu=False),
        "eigen_cam": pure("eigen_cam", relu=False),
        "eigen_grad_cam": pure("eigen_grad_cam", relu=False),
        "eigen_smooth": pure("grad_cam", relu=False, eigen_smooth=True)})


@pytest.fixture(scope="module")
def linear_maps():
    """HiResCAM, aug_smooth, FullGrad and Random-CAM on the linear (CAM) head."""
    return _maps(False, {
        "hires_cam": pure("hires_cam", relu=False),
        "aug_smooth": lambda g, s, x, c: methods.smoothing.run(
            methods.registry.get("hires_cam"), g, s, x, c, aug_smooth=True, relu=False),
        "full_grad": pure("full_grad"),
        "random_cam": pure("random_cam", relu=False, key=KEY),
        "random_cam_other_key": pure("random_cam", relu=False, key=jax.random.key(12)),
        "random_cam_second": lambda g, s, x, c: methods.get_pure("random_cam")(
            g, s, x[1:], c[1:], relu=False, key=KEY),
        "random_cam_default": pure("random_cam", relu=False)})


# ------------------------------------------------------------------- numpy by hand
def features(images=IMAGES):
    return toy_features(images, PARAMS["kernel"], PARAMS["bias"])          # (B, 4, 4, K)


def class_weights():
    return PARAMS["weights"].T[CLASSES]                                      # (B, k, K)


def per_class(fn):
    """fn(f (h, w, K), W_c (K,)) -> (h, w), stacked to (B, k, h, w)."""
    f, w = features(), class_weights()
    return np.stack([[fn(f[b], w[b, j]) for j in range(w.shape[1])]
                     for b in range(len(f))])


def first_component(x):
    """(h, w, K) -> (h, w): the centred points' projection on the first right singular
    vector, its largest-magnitude entry made positive."""
    points = x.reshape(-1, x.shape[-1])
    points = points - points.mean(axis=0)
    p = points @ np.linalg.svd(points, full_matrices=False)[2][0]
    return (p * np.sign(p[np.abs(p).argmax()])).reshape(x.shape[:2])


SQUARE = {   # the gradient of mean(f^2) W_c at f is 2 f W_c / (h w)
    "hires_cam": lambda f, w: 2 / HW * (f * f * w).sum(-1),
    "grad_cam_element_wise": lambda f, w: 2 / HW * np.maximum(f * f * w, 0).sum(-1),
    "x_grad_cam": lambda f, w: ((2 * w / HW * (f * f).sum((0, 1))
                                 / np.where(f.sum((0, 1)) > 0, f.sum((0, 1)), np.inf))
                                * f).sum(-1),
    "eigen_cam": lambda f, w: first_component(f),
    "eigen_grad_cam": lambda f, w: first_component(2 / HW * f * f * w),
    # Grad-CAM's weights, the gradient's mean 2 mean(f) W_c / (h w), times the channels
    "eigen_smooth": lambda f, w: first_component(2 / HW * f.mean((0, 1)) * w * f),
}


@pytest.mark.parametrize("name", list(SQUARE))
def test_gradient_methods_on_the_square_head_equal_the_hand_computation(square_maps, name):
    want = per_class(SQUARE[name])
    got = square_maps[name]
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


def test_eigen_cam_makes_the_entry_of_largest_magnitude_positive(square_maps):
    got = square_maps["eigen_cam"].reshape(2, 2, -1)
    peak = np.take_along_axis(got, np.abs(got).argmax(-1)[..., None], -1)
    assert (peak > 0).all() and (got < 0).any()      # signed, and the flip is the rule


def test_hires_cam_on_a_gap_network_is_cam_over_hw(linear_maps):
    cam = per_class(lambda f, w: (f * w).sum(-1))
    np.testing.assert_allclose(linear_maps["hires_cam"], cam / HW, rtol=1e-4, atol=1e-6)
    # summed over the positions, the signed map is the logit (no bias in the head)
    logits = features().mean((1, 2)) @ PARAMS["weights"]
    np.testing.assert_allclose(linear_maps["hires_cam"].sum((2, 3)),
                               np.take_along_axis(logits, CLASSES, 1), rtol=1e-4, atol=1e-5)


def test_aug_smooth_averages_the_six_flipped_and_scaled_maps(linear_maps):
    total = 0
    for flip in (False, True):
        for factor in (0.9, 1.0, 1.1):
            x = IMAGES.astype(np.float64) * factor
            x = x[:, :, ::-1] if flip else x
            f, w = features(x), class_weights()
            m = np.einsum("byxk,bjk->bjyx", f, w) / HW
            m = m[..., ::-1] if flip else m
            lo, hi = m.min((2, 3), keepdims=True), m.max((2, 3), keepdims=True)
            total = total + (m - lo) / (hi - lo)
    np.testing.assert_allclose(linear_maps["aug_smooth"], total / 6, atol=1e-5)


def test_full_grad_sums_the_rescaled_input_and_bias_terms(linear_maps):
    torch = pytest.importorskip("torch")
    kernel, bias, weights = PARAMS["kernel"], PARAMS["bias"], PARAMS["weights"]
    x = IMAGES.astype(np.float64)
    pre = np.einsum("byixjc,ijck->byxk",          # the conv's output, before the ReLU
                    x.reshape(2, 4, 2, 4, 2, 3), kernel) + bias
    grad_pre = (pre > 0)[:, None] * weights.T[CLASSES][:, :, None, None, :] / HW
    grad_x = np.einsum("bnyxk,pqck->bnypxqc", grad_pre, kernel).reshape(2, 2, 8, 8, 3)

    def rescaled(t):                             # each channel over (h, w)
        lo, hi = t.min((2, 3), keepdims=True), t.max((2, 3), keepdims=True)
        return (t - lo) / (hi - lo + 1e-7)
    layer = rescaled(np.abs(grad_pre * bias)).sum(-1)                          # (B, k, 4, 4)
    up = torch.nn.functional.interpolate(torch.from_numpy(layer), size=(8, 8),
                                         mode="bilinear", align_corners=False).numpy()
    want = rescaled(np.abs(grad_x * x[:, None])).sum(-1) + up
    np.testing.assert_allclose(linear_maps["full_grad"], want, rtol=1e-4, atol=1e-5)


def test_random_cam_is_the_channels_with_uniform_weights_per_image(linear_maps):
    got = linear_maps["random_cam"]
    f = features()
    for b in range(2):
        points = f[b].reshape(HW, -1)
        coefficients, *_ = np.linalg.lstsq(points, got[b].reshape(2, HW).T, rcond=None)
        np.testing.assert_allclose(points @ coefficients, got[b].reshape(2, HW).T,
                                   atol=1e-5)       # a sum of the layer's channels ...
        assert np.abs(coefficients).max() <= 1 + 1e-5   # ... with weights in [-1, 1]
    assert not np.allclose(got[:, 0], got[:, 1])                    # a draw per class
    np.testing.assert_array_equal(linear_maps["random_cam_second"], got[1:])  # not per batch
    assert not np.allclose(linear_maps["random_cam_other_key"], got)


def test_random_cam_draws_new_weights_when_the_network_changes(linear_maps):
    params = {**PARAMS, "weights": PARAMS["weights"] + 1e-3}        # the classifier only
    graphdef, state = nnx.split(Toy(**params))
    moved = methods.get_pure("random_cam")(graphdef, state, jnp.asarray(IMAGES),
                                           jnp.asarray(CLASSES), relu=False)
    assert not np.allclose(moved, linear_maps["random_cam_default"], atol=1e-3)
    assert np.abs(linear_maps["random_cam_default"]).max() > 0


def test_random_cam_weights_are_uniform_on_minus_one_one():
    images = jax.random.normal(jax.random.key(0), (64, 2, 2, 3))
    classes = jnp.tile(jnp.arange(4), (64, 1))
    draw = jax.jit(randomcam.uniform_weights, static_argnums=(3, 4))
    w = np.asarray(draw(KEY, images, classes, 16, jnp.float32))
    assert w.shape == (64, 4, 16) and w.min() >= -1 and w.max() < 1
    # the empirical CDF against the uniform one (Kolmogorov-Smirnov, n = 4096: 1.63/sqrt n
    # is the 1% critical value)
    values = np.sort(w.ravel())
    cdf = (values + 1) / 2
    n = len(values)
    distance = max((np.arange(1, n + 1) / n - cdf).max(), (cdf - np.arange(n) / n).max())
    assert distance < 1.63 / np.sqrt(n)
    assert len(np.unique(values)) > 0.99 * n


def test_full_grad_refuses_a_network_it_cannot_account_for():
    images, classes = jnp.zeros((1, 8, 8, 3)), jnp.zeros((1, 1), jnp.int32)
    graphdef, state = nnx.split(Toy(**PARAMS, square=True))
    with pytest.raises(ModelError, match="full_grad cannot account for Toy.*product of two"):
        methods.get_pure("full_grad")(graphdef, state, images, classes)
    # ReLU6 (a clip at a constant that is not a bias), found from shapes only
    model = nnx.eval_shape(lambda: models.create("mobilenet_v2", num_classes=4,
                                                 rngs=nnx.Rngs(0)))
    graphdef, state = nnx.split(model)
    with pytest.raises(ModelError, match=r"full_grad cannot account for mobilenet_v2.*\(6"):
        jax.eval_shape(lambda s: methods.get_pure("full_grad")(
            graphdef, s, jnp.zeros((1, 32, 32, 3)), classes), state)


def test_eigen_smooth_is_refused_by_a_method_without_weighted_channels():
    methods.registry.get("hires_cam").check_options({"eigen_smooth": True, "aug_smooth": 1})
    with pytest.raises(UserError, match="'full_grad' has no option 'eigen_smooth'.*grad_cam"):
        methods.registry.get("full_grad").check_options({"eigen_smooth": True})


def test_config_options_take_the_given_values_else_the_configs():
    """The evaluation job's and ``camjax localize``'s static options (one function)."""
    options = methods.smoothing.config_options
    both = (("aug_smooth", True), ("eigen_smooth", True))
    assert options({}, "grad_cam") == ()
    assert options({"aug_smooth": True, "eigen_smooth": True}, "grad_cam") == both
    assert options({"aug_smooth": True, "eigen_smooth": True}, "saliency") == both[:1]
    assert options({"aug_smooth": True, "eigen_smooth": True}, "grad_cam", False, False) == ()
    assert options({}, "grad_cam", aug_smooth=True, eigen_smooth=True) == both
