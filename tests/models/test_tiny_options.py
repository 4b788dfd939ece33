"""tiny_gap's head options: the pooled-feature centring (``center_pooled``) against numpy on
hand-worked and random inputs, and the CAM conv without BatchNorm (``cam_batch_norm``)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import camjax
from camjax.models.tiny import PooledMean


def tiny(pooling, **kwargs):
    return camjax.models.create("tiny_gap", num_classes=5, pooling=pooling,
                                rngs=nnx.Rngs(0), widths=(8, 8, 8), strides=(2, 2, 2),
                                cam_channels=6, **kwargs)


def numpy_pool(features, pooling):
    features = np.asarray(features, np.float64)
    return features.mean(axis=(1, 2)) if pooling == "gap" else features.max(axis=(1, 2))


@pytest.mark.parametrize("pooling, batch_mean", [("gap", 4.0), ("gmp", 5.0)])
def test_pooled_mean_hand_worked(pooling, batch_mean):
    # two images, one channel, 1x2 maps: [1, 3] and [5, 7]
    # GAP pools to 2 and 6 (mean 4); GMP to 3 and 7 (mean 5)
    features = jnp.array([[[[1.0], [3.0]]], [[[5.0], [7.0]]]])
    layer = PooledMean(1, pooling=pooling, momentum=0.9)
    np.testing.assert_allclose(layer(features), [batch_mean])
    np.testing.assert_allclose(layer.mean[...], [0.1 * batch_mean], rtol=1e-6)
    layer(features)                                  # running mean: 0.9 * 0.1 m + 0.1 m
    np.testing.assert_allclose(layer.mean[...], [0.19 * batch_mean], rtol=1e-6)
    layer.eval()
    np.testing.assert_allclose(layer(features + 100.0), [0.19 * batch_mean], rtol=1e-6)
    np.testing.assert_allclose(layer.mean[...], [0.19 * batch_mean], rtol=1e-6)  # frozen


@pytest.mark.parametrize("pooling", ["gap", "gmp"])
def test_centred_logits_match_numpy(pooling):
    model = tiny(pooling, center_pooled=True)
    images = jax.random.normal(jax.random.key(1), (4, 32, 32, 3))
    kernel = np.asarray(model.head.classifier.kernel[...], np.float64)

    model.train()
    logits, features = model(images)
    pooled = numpy_pool(features, pooling)
    assert np.abs(pooled.std(axis=0)).max() > 1e-3       # a non-trivial input
    expected = (pooled - pooled.mean(axis=0)) @ kernel
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(logits).sum(axis=0), 0.0, atol=1e-4)
    running = 0.1 * pooled.mean(axis=0)                  # zeros -> one momentum-0.9 step
    np.testing.assert_allclose(model.pooled_mean.mean[...], running, rtol=1e-4, atol=1e-6)

    model.eval()
    logits, features = model(images[:1])                 # one image: the running mean
    expected = (numpy_pool(features, pooling) - running) @ kernel
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)


def test_centring_is_invisible_to_a_batch_wide_shift():
    """Adding a constant to a channel of every image's map moves no train-mode logit:
    the gradient cannot chase what the whole batch shares."""
    model = tiny("gmp", center_pooled=True)
    model.train()
    features = jax.random.uniform(jax.random.key(2), (3, 4, 4, 6))
    shifted = features.at[..., 2].add(7.5)

    def logits_of(f):
        return model.head(f - model.pooled_mean(f))

    np.testing.assert_allclose(logits_of(shifted), logits_of(features), atol=1e-5)


def test_options_off_by_default_and_add_no_parameters():
    default, centred = tiny("gap"), tiny("gap", center_pooled=True)
    assert default.pooled_mean is None and default.cam_conv.norm is not None
    a = jax.tree.leaves(nnx.state(default, nnx.Param))
    b = jax.tree.leaves(nnx.state(centred, nnx.Param))
    assert len(a) == len(b)
    for x, y in zip(a, b):                    # same initial weights for the same seed
        np.testing.assert_array_equal(x, y)
    images = jax.random.normal(jax.random.key(3), (2, 32, 32, 3))
    default.eval()
    logits, features = default(images)
    expected = numpy_pool(features, "gap") @ np.asarray(default.head.classifier.kernel[...])
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-6)


def test_cam_conv_without_batch_norm_is_the_papers_head():
    model = tiny("gmp", cam_batch_norm=False)
    assert model.cam_conv.norm is None and model.cam_conv.conv.bias is not None
    _, features = model(jnp.ones((1, 32, 32, 3)))
    assert features.shape == (1, 4, 4, 6) and float(features.min()) >= 0.0   # ReLU
