"""A network small enough to write out by hand, and a tiny_gap with fixed statistics.

``Toy``: a p x p patchify conv (stride p, no padding) + ReLU gives the features at 1/p of
the image; the head pools them (GAP of f, or of f^2 for a score that is not linear in the
features) and applies a dense layer without bias. Its numpy twin, :func:`toy_forward`,
computes the same thing with einsums, so tests compare the methods with hand computations.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import camjax
from tests.random_weights import fill


class ToyHead(nnx.Module):
    def __init__(self, weights, square: bool, dtype):
        k, c = weights.shape
        self.square = square
        self.classifier = nnx.Linear(k, c, use_bias=False, param_dtype=dtype, rngs=nnx.Rngs(0))
        self.classifier.kernel.set_value(jnp.asarray(weights, dtype))

    def __call__(self, features):
        pooled = (features * features if self.square else features).mean(axis=(1, 2))
        return self.classifier(pooled)


class Toy(nnx.Module):
    def __init__(self, kernel, bias, weights, *, square: bool = False, dtype=jnp.float32):
        p, _, _, k = kernel.shape
        self.conv = nnx.Conv(3, k, (p, p), strides=p, padding="VALID", param_dtype=dtype,
                             rngs=nnx.Rngs(0))
        self.conv.kernel.set_value(jnp.asarray(kernel, dtype))
        self.conv.bias.set_value(jnp.asarray(bias, dtype))
        self.head = ToyHead(weights, square, dtype)

    def __call__(self, images):
        features = jax.nn.relu(self.conv(images))
        return self.head(features), features


_forward = nnx.jit(lambda model, images: model(images))


def forward(model, images):
    """``model(images)`` as one compiled call (eager NNX compiles op by op)."""
    return _forward(model, jnp.asarray(images))


def toy_params(seed=0, patch=2, channels=2, classes=3):
    rng = np.random.default_rng(seed)
    return {"kernel": rng.normal(0, 0.5, (patch, patch, 3, channels)),
            "bias": rng.normal(0.2, 0.1, channels),
            "weights": rng.normal(0, 1.0, (channels, classes))}


def toy_features(images, kernel, bias):
    """numpy: (B, H, W, 3) -> ReLU(patch conv) (B, H/p, W/p, K)."""
    x = np.asarray(images, np.float64)
    b, hh, ww, _ = x.shape
    p = kernel.shape[0]
    patches = x.reshape(b, hh // p, p, ww // p, p, 3)
    return np.maximum(np.einsum("byixjc,ijck->byxk", patches, kernel) + bias, 0)


def toy_forward(images, kernel, bias, weights, square=False):
    """numpy: logits (B, C) and features (B, h, w, K) of the Toy network."""
    f = toy_features(images, kernel, bias)
    pooled = (f * f if square else f).mean(axis=(1, 2))
    return pooled @ weights, f


def filled_model(name, *, num_classes=6, seed=5, calibrate=None, gain=2.0,
                 head_std=0.5, **kwargs):
    """A registered network at random weights with BatchNorm statistics that are not the
    identity, in eval mode. Built abstractly and filled from numpy: eager flax
    initialisation compiles one random op per parameter shape, which costs more than the
    tests that use it. ``calibrate`` (images): BatchNorm statistics from one train-mode
    pass over them instead (activations of a sensible scale)."""
    model = camjax.models.create_abstract(name, num_classes=num_classes, **kwargs)
    fill(model, seed, bn="random" if calibrate is None else "zero_unit", gain=gain,
         head_std=head_std)
    if calibrate is not None:
        model.train()
        nnx.jit(lambda m, x: m(x))(model, calibrate)     # one compile, not one per op
    model.eval()
    return model


@pytest.fixture(scope="session")
def tiny_gap():
    """tiny_gap (6 classes) at flax's initial scales (LeCun-normal kernels, classifier
    N(0, 0.01)), BatchNorm statistics from one train-mode pass over random images."""
    batch = jax.random.normal(jax.random.key(9), (8, 32, 32, 3)) * 2 + 0.5
    return filled_model("tiny_gap", gain=1.0, head_std=0.01, calibrate=batch)
