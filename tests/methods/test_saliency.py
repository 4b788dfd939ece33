"""Backprop saliency and Grad-CAM (camjax.methods) against independent computations."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import camjax
from camjax import cam, methods
from tests.methods.conftest import filled_model


@pytest.fixture(scope="module")
def tiny(tiny_gap):
    # random weights, BatchNorm statistics not the identity (tests/methods/conftest.py)
    return tiny_gap


@pytest.fixture(scope="module")
def images():
    return jax.random.normal(jax.random.key(0), (3, 32, 32, 3))


def test_grad_cam_equals_relu_cam_up_to_a_positive_scale_on_gap(tiny, images):
    classes = jnp.array([[0, 3], [5, 1], [2, 2]])
    gc = methods.grad_cam(tiny, images, classes)
    _, features = tiny(images)
    h, w = features.shape[1:3]
    cams = cam.class_activation_maps(features, camjax.models.class_weights(tiny), classes)
    relu_cam = jax.nn.relu(cams)
    assert gc.shape == relu_cam.shape == (3, 2, h, w)
    assert float(relu_cam.max()) > 0 and float((relu_cam == 0).mean()) > 0   # both regimes
    # alpha_k = W[k, c] / (h w): the scale is exactly 1 / (h w), positive
    np.testing.assert_allclose(gc, relu_cam / (h * w), rtol=1e-4, atol=1e-7)
    # and the unrectified Grad-CAM is the CAM itself (same scale), negatives included
    raw = methods.grad_cam(tiny, images, classes, relu=False)
    np.testing.assert_allclose(raw * h * w, cams, rtol=1e-4, atol=1e-5)


def test_grad_cam_is_also_the_cam_under_gmp():
    # max pooling sends each channel's gradient W[k, c] to one position, so its spatial
    # mean is still W[k, c] / (h w): Grad-CAM = ReLU(CAM) / (h w) for GMP too
    model = filled_model("tiny_gap", num_classes=4, pooling="gmp", seed=2)
    x = jax.random.normal(jax.random.key(1), (2, 32, 32, 3))
    gc = methods.grad_cam(model, x, jnp.array([0, 1]))
    _, f = model(x)
    c = jax.nn.relu(cam.class_activation_maps(f, camjax.models.class_weights(model),
                                              jnp.array([0, 1])))
    np.testing.assert_allclose(gc * f.shape[1] * f.shape[2], c, rtol=1e-4, atol=1e-6)


def test_input_gradient_matches_finite_differences(tiny, images):
    classes = jnp.array([[1, 4], [0, 2], [5, 3]])
    grads = methods.input_gradients(tiny, images, classes)        # (B, k, H, W, 3)
    assert grads.shape == (3, 2, 32, 32, 3)
    v = jax.random.normal(jax.random.key(7), images.shape)
    eps = 1e-3

    def scores(x):
        logits, _ = tiny(x)
        return np.asarray(jnp.take_along_axis(logits, classes, axis=1), np.float64)

    # directional derivative per image (images are independent in eval mode)
    fd = (scores(images + eps * v) - scores(images - eps * v)) / (2 * eps)     # (B, k)
    analytic = np.einsum("bkyxc,byxc->bk", np.asarray(grads, np.float64), np.asarray(v))
    np.testing.assert_allclose(analytic, fd, rtol=2e-2, atol=2e-3)


def test_gradient_saliency_is_max_abs_over_channels_of_a_per_image_gradient(tiny, images):
    classes = jnp.array([[2], [0], [4]])
    sal = methods.saliency(tiny, images, classes)
    assert sal.shape == (3, 1, 32, 32)
    one_image = jax.jit(jax.grad(lambda x, c: tiny(x[None])[0][0, c]))
    for b in range(3):    # an independent computation: one image at a time, plain jax.grad
        g = one_image(images[b], classes[b, 0])
        np.testing.assert_allclose(sal[b, 0], jnp.abs(g).max(axis=-1), rtol=1e-4, atol=1e-7)
    assert float(sal.min()) >= 0


def test_saliency_rejects_bad_inputs(tiny, images):
    with pytest.raises(ValueError, match="classes must be"):
        methods.saliency(tiny, images, jnp.zeros((2, 1), jnp.int32))
    with pytest.raises(TypeError, match="integers"):
        methods.grad_cam(tiny, images, jnp.zeros((3, 1)))
    with pytest.raises(ValueError, match="images must be"):
        methods.saliency(tiny, images[..., :1], jnp.zeros((3, 1), jnp.int32))
