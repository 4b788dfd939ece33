"""CAM, Grad-CAM++, Score-CAM, LayerCAM and the shared gradient function, by hand.

The Toy network of conftest.py (patch conv + ReLU, GAP or GAP of squares, dense without
bias) has closed-form gradients: for GAP, d logit_c / d f[y, x, K] = W[K, c] / (h w); for
the squared head, 2 f[y, x, K] W[K, c] / (h w). Every expected map below is computed
from those formulas with numpy, never from camjax's output.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import camjax
from camjax import methods
from camjax.methods.base import logits_features_gradients
from tests.methods.conftest import Toy, forward, toy_forward, toy_params

CLASSES = np.array([[0, 2], [1, 0]])


def relu(x):
    return np.maximum(x, 0)


@pytest.fixture(scope="module")
def toy():
    params = toy_params(channels=3)
    params["weights"][1, 2] = 0.0          # a zero gradient: Grad-CAM++'s 0/0 guard
    return params, Toy(**params)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).normal(0, 1, (2, 8, 8, 3)).astype(np.float32)


def shared(model, images, classes):
    graphdef, state = nnx.split(model)
    return logits_features_gradients(graphdef, state, jnp.asarray(images), jnp.asarray(classes))


def test_shared_gradients_are_the_closed_form_of_a_gap_head(toy, images):
    params, model = toy
    logits, features, grads = shared(model, images, CLASSES)
    want_logits, f = toy_forward(images, **params)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(features, f, rtol=1e-5, atol=1e-6)
    h, w = f.shape[1:3]
    want = params["weights"].T[CLASSES][:, :, None, None, :] / (h * w)      # (B, k, 1, 1, K)
    assert grads.shape == (2, 2, h, w, 3)
    np.testing.assert_allclose(grads, np.broadcast_to(want, grads.shape), rtol=1e-5, atol=1e-8)


def test_shared_gradients_of_a_nonlinear_head_vary_per_position(images):
    params = toy_params(seed=3, channels=3)
    model = Toy(**params, square=True)
    _, features, grads = shared(model, images, CLASSES)
    _, f = toy_forward(images, **params, square=True)
    h, w = f.shape[1:3]
    wc = params["weights"].T[CLASSES]                                       # (B, k, K)
    want = 2 * f[:, None] * wc[:, :, None, None, :] / (h * w)
    np.testing.assert_allclose(grads, want, rtol=1e-5, atol=1e-7)
    assert np.ptp(np.asarray(grads)[0, 0, :, :, 0]) > 0


def test_cam_is_the_class_weights_times_the_features(toy, images):
    params, model = toy
    maps = methods.cam(model, images, CLASSES)
    _, f = toy_forward(images, **params)
    want = np.einsum("byxk,kbc->bcyx", f, params["weights"][:, CLASSES])
    np.testing.assert_allclose(maps, want, rtol=1e-5, atol=1e-6)
    assert float(maps.min()) < 0            # raw: the paper's CAM has no ReLU


def test_cam_averages_to_the_logit_on_tiny_gap(tiny_gap):
    x = jax.random.normal(jax.random.key(3), (2, 32, 32, 3))
    classes = np.array([[0, 5, 3], [2, 2, 1]])
    maps = methods.cam(tiny_gap, x, classes)
    logits, _ = forward(tiny_gap, x)
    # GAP and a dense layer without bias: the mean of the CAM over space is the logit
    np.testing.assert_allclose(maps.mean(axis=(2, 3)), np.take_along_axis(
        np.asarray(logits), classes, axis=1), rtol=1e-4, atol=1e-7)


def plus_plus_closed_form(features, weights, classes):
    """Linear-in-features score: w_K = ReLU(W[K, c]) / (2 + pooled_K W[K, c])."""
    pooled = features.mean(axis=(1, 2))[:, None, :]                         # (B, 1, K)
    wc = weights.T[classes]                                                 # (B, k, K)
    channel = relu(wc) / (2 + pooled * wc)
    return relu(np.einsum("byxk,bck->bcyx", features, channel))


def test_grad_cam_plus_plus_reduces_to_its_closed_form_on_a_linear_score(toy, images):
    params, model = toy
    maps = methods.grad_cam_plus_plus(model, images, CLASSES)
    _, f = toy_forward(images, **params)
    assert np.all(np.isfinite(maps))
    want = plus_plus_closed_form(f, params["weights"], CLASSES)
    np.testing.assert_allclose(maps, want, rtol=1e-5, atol=1e-7)
    # the zero-gradient channel (W[1, 2] = 0) contributes nothing, without a NaN
    without = plus_plus_closed_form(f[..., [0, 2]], params["weights"][[0, 2]], CLASSES)
    np.testing.assert_allclose(maps[0, 1], without[0, 1], rtol=1e-5, atol=1e-7)


def test_grad_cam_plus_plus_closed_form_on_tiny_gap(tiny_gap):
    x = jax.random.normal(jax.random.key(4), (2, 32, 32, 3))
    classes = np.array([[1, 4], [0, 3]])
    maps = methods.grad_cam_plus_plus(tiny_gap, x, classes)
    _, f = forward(tiny_gap, x)
    want = plus_plus_closed_form(np.asarray(f, np.float64),
                                 np.asarray(camjax.models.class_weights(tiny_gap)), classes)
    assert float(np.max(want)) > 0
    np.testing.assert_allclose(maps, want, rtol=1e-4, atol=1e-6 * float(np.max(want)))


def test_layer_cam_is_relu_gradient_times_activation(images):
    params = toy_params(seed=3, channels=3)
    model = Toy(**params, square=True)
    maps = methods.layer_cam(model, images, CLASSES)
    _, f = toy_forward(images, **params, square=True)
    h, w = f.shape[1:3]
    wc = params["weights"].T[CLASSES]
    g = 2 * f[:, None] * wc[:, :, None, None, :] / (h * w)                  # (B, k, h, w, K)
    want = relu((relu(g) * f[:, None]).sum(axis=-1))
    assert (g < 0).any() and (g > 0).any()
    np.testing.assert_allclose(maps, want, rtol=1e-5, atol=1e-8)


# --------------------------------------------------------------------------- Score-CAM
# bilinear 2 -> 4 with half-pixel centres (torch align_corners=False): output u samples
# input coordinate u / 2 - 1/4, clamped at the borders
UP = np.array([[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]])


def softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_score_cam_weights_by_hand_on_two_channels():
    rng = np.random.default_rng(7)
    params = toy_params(seed=2, channels=2, classes=3)
    params["bias"][:] = 0.6            # both channels alive and varying
    model = Toy(**params)
    image = rng.normal(0, 1, (1, 4, 4, 3)).astype(np.float32)       # 2 x 2 features
    _, f = toy_forward(image, **params)
    assert np.ptp(f[0, ..., 0]) > 0 and np.ptp(f[0, ..., 1]) > 0
    logits_on, probs_on = [], []
    for k in range(2):                  # the two masked images, one at a time, in numpy
        up = UP @ f[0, :, :, k] @ UP.T                                  # (4, 4)
        mask = (up - up.min()) / (up.max() - up.min() + 1e-8)
        logits, _ = toy_forward(image * mask[None, :, :, None], **params)
        logits_on.append(logits[0])
        probs_on.append(softmax(logits[0]))
    logits_on, probs_on = np.array(logits_on), np.array(probs_on)     # (K=2, C)
    classes = np.array([[2, 0]])
    for mode, weights in (("softmax", softmax(logits_on[:, classes[0]], axis=0)),
                          ("probability", probs_on[:, classes[0]])):
        want = relu(np.einsum("yxk,kc->cyx", f[0], weights))[None]
        got = methods.score_cam(model, image, classes, weights=mode)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7, err_msg=mode)


def test_score_cam_constant_channel_follows_each_convention():
    params = toy_params(seed=2, channels=2, classes=3)
    params["kernel"][..., 1] = 0.0      # channel 1 = ReLU(bias): constant, mask all zero
    params["bias"][1] = 0.7
    model = Toy(**params)
    image = np.random.default_rng(8).normal(0, 1, (1, 4, 4, 3)).astype(np.float32)
    _, f = toy_forward(image, **params)
    up = UP @ f[0, :, :, 0] @ UP.T
    mask = (up - up.min()) / (up.max() - up.min() + 1e-8)
    on_0, _ = toy_forward(image * mask[None, :, :, None], **params)
    on_zero, _ = toy_forward(np.zeros_like(image), **params)          # the zero mask
    c = 1
    # softmax (torchcam, pytorch-grad-cam): the constant channel scores the zero image
    w = softmax(np.array([on_0[0, c], on_zero[0, c]]))
    np.testing.assert_allclose(methods.score_cam(model, image, [c]),
                               relu(np.einsum("yxk,k->yx", f[0], w))[None, None],
                               rtol=1e-5, atol=1e-7)
    # probability (the authors' loop skips it): weight 0
    w = np.array([softmax(on_0[0])[c], 0.0])
    np.testing.assert_allclose(methods.score_cam(model, image, [c], weights="probability"),
                               relu(np.einsum("yxk,k->yx", f[0], w))[None, None],
                               rtol=1e-5, atol=1e-7)


def test_score_cam_matches_a_channel_by_channel_loop_on_tiny_gap():
    from camjax.cam import upsample
    from tests.methods.conftest import filled_model
    model = filled_model("tiny_gap", cam_channels=7, gain=1.0, head_std=0.3)
    x = jax.random.normal(jax.random.key(5), (2, 24, 24, 3))
    classes = np.array([[3, 0], [5, 5]])
    _, f = forward(model, x)
    f = np.asarray(f)                                                   # (2, 3, 3, 7)
    scores = np.zeros((2, 7, 2))
    for k in range(7):                  # torchcam's loop: one masked batch per channel
        up = np.asarray(upsample(f[..., k], (24, 24)))                  # (2, 24, 24)
        lo, hi = up.min(axis=(1, 2), keepdims=True), up.max(axis=(1, 2), keepdims=True)
        masked = np.asarray(x) * ((up - lo) / (hi - lo + 1e-8))[..., None]
        logits, _ = forward(model, masked)
        scores[:, k] = np.take_along_axis(np.asarray(logits), classes, axis=1)
    weights = softmax(scores, axis=1)                                   # over channels
    want = relu(np.einsum("byxk,bkc->bcyx", f, weights))
    for batch_size in (3, 32):           # 7 channels: two chunks + padding, and one chunk
        got = methods.score_cam(model, x, classes, batch_size=batch_size)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * want.max(),
                                   err_msg=f"batch_size={batch_size}")


def test_score_cam_rejects_bad_options(toy, images):
    _, model = toy
    with pytest.raises(ValueError, match="weights must be"):
        methods.score_cam(model, images, CLASSES, weights="logit")
    with pytest.raises(ValueError, match="batch_size"):
        methods.score_cam(model, images, CLASSES, batch_size=0)


def test_layer_cam_closed_form_on_tiny_gap(tiny_gap):
    # GAP, no bias: g = W / (h w) everywhere, so LayerCAM = ReLU(sum_K ReLU(W[K, c]) A_K)
    # / (h w)
    x = jax.random.normal(jax.random.key(6), (2, 32, 32, 3))
    classes = np.array([[2, 3], [0, 5]])
    maps = methods.layer_cam(tiny_gap, x, classes)
    _, f = forward(tiny_gap, x)
    f = np.asarray(f, np.float64)
    wc = np.asarray(camjax.models.class_weights(tiny_gap), np.float64).T[classes]
    want = relu(np.einsum("byxk,bjk->bjyx", f, relu(wc))) / (f.shape[1] * f.shape[2])
    np.testing.assert_allclose(maps, want, rtol=1e-4, atol=1e-6 * want.max())


def test_methods_run_in_eval_mode_and_leave_the_model_as_it_was():
    from tests.methods.conftest import filled_model
    model = filled_model("tiny_gap", num_classes=4, gain=1.0, head_std=0.3, seed=9)
    model.train()                        # batch statistics would couple the images
    x = jax.random.normal(jax.random.key(7), (3, 16, 16, 3))
    both = methods.grad_cam(model, x, [0, 1, 2], relu=False)
    alone = [methods.grad_cam(model, x[i:i + 1], [i], relu=False) for i in range(3)]
    np.testing.assert_allclose(both, np.concatenate(alone), rtol=1e-5, atol=1e-7)
    assert model.backbone[0].norm.use_running_average is False       # still training
