"""SmoothGrad and Integrated Gradients against plain per-image jax.grad and the paper's
completeness axiom."""
import jax
import numpy as np
import pytest

from camjax import methods
from tests.methods.conftest import forward


@pytest.fixture(scope="module")
def images():
    return jax.random.normal(jax.random.key(2), (2, 32, 32, 3))


@pytest.fixture(scope="module")
def one_image_grad(tiny_gap):
    """d logit_c / d image for one image, plain jax.grad (the independent computation)."""
    return jax.jit(jax.grad(lambda x, c: tiny_gap(x[None])[0][0, c]))


def test_smooth_grad_averages_gradients_at_the_documented_noise(tiny_gap, images,
                                                                 one_image_grad):
    classes = np.array([[1, 4], [3, 3]])
    key, sigma, n = jax.random.key(11), 0.2, 5
    got = methods.smooth_grad(tiny_gap, images, classes, samples=n, sigma=sigma, key=key,
                              batch_size=2)                            # 3 chunks, 1 padded
    assert got.shape == (2, 2, 32, 32)
    x = np.asarray(images)
    span = x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3))
    for b in range(2):
        for j in range(2):
            total = 0
            for s in range(n):
                noise = np.asarray(jax.random.normal(jax.random.fold_in(key, s), x.shape))
                total = total + np.asarray(one_image_grad(x[b] + sigma * span[b] * noise[b],
                                                          classes[b, j]))
            want = np.abs(total / n).max(axis=-1)
            np.testing.assert_allclose(got[b, j], want, rtol=1e-4, atol=1e-6 * want.max())


def test_smooth_grad_without_noise_is_the_saliency_map(tiny_gap, images):
    classes = np.array([2, 0])
    sal = methods.saliency(tiny_gap, images, classes)
    smooth = methods.smooth_grad(tiny_gap, images, classes, samples=3, sigma=0.0)
    np.testing.assert_allclose(smooth, sal, rtol=1e-5, atol=1e-9)


def score(model, x, classes):
    logits, _ = forward(model, x)
    return np.take_along_axis(np.asarray(logits, np.float64), classes, axis=1)


@pytest.mark.parametrize("rule", ["trapezoid", "midpoint"])
def test_integrated_gradients_are_complete_on_tiny_gap(tiny_gap, images, rule):
    classes = np.array([[0, 5], [4, 1]])
    baseline = np.asarray(jax.random.normal(jax.random.key(8), (32, 32, 3))) * 0.5
    for base in (None, baseline):
        ig = methods.integrated_gradients(tiny_gap, images, classes, steps=64, rule=rule,
                                          baseline=base, batch_size=16)
        assert ig.shape == (2, 2, 32, 32)
        ref = np.zeros_like(np.asarray(images)) if base is None else baseline[None] + 0 * images
        want = score(tiny_gap, images, classes) - score(tiny_gap, ref, classes)
        total = np.asarray(ig, np.float64).sum(axis=(2, 3))
        # a piecewise-linear network: at 64 steps the Riemann error is ~0.3% of the score
        # difference from the zero image, ~2% from the noisy baseline (0.3% at 256 steps)
        np.testing.assert_allclose(total, want, rtol=0.03, atol=0.03 * np.abs(want).max())
        assert (np.asarray(ig) < 0).any() and (np.asarray(ig) > 0).any()    # signed


def test_integrated_gradients_of_a_linear_model_are_exact():
    from tests.methods.conftest import Toy, toy_params
    params = toy_params(seed=4, patch=1, channels=2, classes=2)
    params["kernel"] = np.abs(params["kernel"])       # all positive, bias positive:
    params["bias"] = np.array([0.3, 0.2])             # ReLU never cuts on [0, 1] x
    model = Toy(**params)
    x = np.random.default_rng(0).uniform(0, 1, (1, 3, 3, 3)).astype(np.float32)
    ig = methods.integrated_gradients(model, x, [1], steps=3)
    # F(x) = mean_yx relu(x P + p) W: linear on the path, so IG = x * grad exactly
    want = (x[0] * (params["kernel"][0, 0] @ params["weights"][:, 1]) / 9).sum(-1)
    np.testing.assert_allclose(ig[0, 0], want, rtol=1e-5, atol=1e-7)


def test_pixel_methods_reject_bad_options(tiny_gap, images):
    with pytest.raises(ValueError, match="rule"):
        methods.integrated_gradients(tiny_gap, images, [0, 1], rule="simpson")
    with pytest.raises(ValueError, match="baseline"):
        methods.integrated_gradients(tiny_gap, images, [0, 1], baseline=np.zeros((5, 5, 3)))
    with pytest.raises(ValueError, match="samples"):
        methods.smooth_grad(tiny_gap, images, [0, 1], samples=0)
    with pytest.raises(ValueError, match="classes must lie"):
        methods.saliency(tiny_gap, images, [0, 6])
