"""The paper's networks: shapes and parameter counts without compiling (``nnx.eval_shape``),
one small compiled forward + backward pass each, and torch's max-pool semantics."""
from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import camjax
from tests.random_weights import fill
from camjax.models import class_weights, parameter_count
from camjax.models.googlenet import max_pool2d

C = 1000
FAST_COMPILE = {"xla_backend_optimization_level": 0}  # ~40% less compile time; same values
PAPER_NETWORKS = ("alexnet_gap", "alexnet_star_gap", "vgg16_gap", "googlenet_gap",
                  "googlenet_gmp", "nin", "resnet50_gap")


def abstract(name, pooling="gap", num_classes=C, **kwargs):
    """The model with ShapeDtypeStruct leaves: nothing is initialised or compiled."""
    return camjax.models.create_abstract(name, num_classes=num_classes, pooling=pooling,
                                         **kwargs)


def materialize(model, seed=0):
    """Concrete values from numpy (He-normal kernels, BatchNorm scales and variances 1)."""
    return fill(model, seed, bn="unit", other_std=0.01)


def output_shapes(model, size):
    images = jax.ShapeDtypeStruct((2, size, size, 3), jnp.float32)
    logits, features = nnx.eval_shape(lambda m, x: m(x), model, images)
    return logits.shape, features.shape


# --- mapping resolution at the standard input -------------------------------------------

@pytest.mark.parametrize("name, size, kwargs, hw, channels", [
    ("alexnet_gap", 227, {}, 13, 1024),
    ("alexnet_gap", 227, {"conv1_padding": 0}, 13, 1024),  # Caffe's conv1
    ("alexnet_gap", 224, {}, 13, 1024),
    ("alexnet_star_gap", 227, {}, 13, 1024),
    ("vgg16_gap", 224, {}, 14, 1024),
    ("googlenet_gap", 224, {}, 14, 1024),
    ("googlenet_gmp", 224, {}, 14, 1024),
    ("nin", 224, {}, 6, 1024),
    ("nin", 227, {}, 6, 1024),
    ("resnet50_gap", 224, {}, 7, 2048),
    ("resnet50_gap", 224, {"mapping_resolution": 14}, 14, 2048),
])
def test_mapping_resolution(name, size, kwargs, hw, channels):
    model = abstract(name, **kwargs)
    assert output_shapes(model, size) == ((2, C), (2, hw, hw, channels))
    assert model.head.classifier.kernel.shape == (channels, C)  # what class_weights returns


@pytest.mark.parametrize("kwargs, hw, rf", [
    ({}, 14, 55),                                                   # the demo's tiny_gap
    ({"strides": (2, 2, 1, 1, 1)}, 28, 39),
    ({"strides": (2, 2, 2, 1, 1), "kernels": (3, 3, 3, 1, 1)}, 14, 31),
    ({"widths": (32, 48, 64), "strides": (4, 1, 1), "kernels": (4, 3, 3)}, 28, 28),
])
def test_tiny_gap_resolution_and_receptive_field(kwargs, hw, rf):
    model = abstract("tiny_gap", **kwargs)
    assert output_shapes(model, 112)[1][1:3] == (hw, hw)
    # Receptive field by hand: each k x k layer adds (k - 1) * (product of earlier
    # strides); the CAM conv is 3x3 at the final stride.
    kernels = kwargs.get("kernels", (3,) * len(kwargs.get("strides", (2, 2, 1, 2, 1))))
    strides = kwargs.get("strides", (2, 2, 1, 2, 1))
    jumps = np.cumprod((1, *strides))
    assert 1 + sum((k - 1) * j for k, j in zip((*kernels, 3), jumps)) == rf
    assert 112 // jumps[-1] == hw


def test_tiny_gap_layer_lists_must_match():
    with pytest.raises(ValueError, match="differ in length"):
        abstract("tiny_gap", strides=(2, 2, 1), kernels=(3, 3))


def test_fully_convolutional_input_size():
    # a non-square input that is not a standard size
    assert output_shapes(abstract("vgg16_gap"), 160)[1] == (2, 10, 10, 1024)
    model = abstract("googlenet_gap")
    images = jax.ShapeDtypeStruct((1, 200, 300, 3), jnp.float32)
    # conv1 /2: 100x150; ceil pools: 50x75, 25x37, 12x18
    assert nnx.eval_shape(lambda m, x: m(x), model, images)[1].shape == (1, 12, 18, 1024)


def test_registry_lists_the_paper_networks():
    assert set(PAPER_NETWORKS) <= set(camjax.models.available())


def test_resnet_mapping_resolution_is_checked():
    with pytest.raises(ValueError, match="mapping_resolution"):
        abstract("resnet50_gap", mapping_resolution=10)


# --- parameter counts by arithmetic -----------------------------------------------------

def conv(k, cin, cout, bias=True, groups=1):
    return k * k * (cin // groups) * cout + (cout if bias else 0)


def linear(cin, cout, bias=True):
    return cin * cout + (cout if bias else 0)


def basic(k, cin, cout):  # torchvision BasicConv2d: conv without bias + BN scale and bias
    return conv(k, cin, cout, bias=False) + 2 * cout


def inception(cin, c1, c3r, c3, c5r, c5, pool):
    return (basic(1, cin, c1) + basic(1, cin, c3r) + basic(3, c3r, c3) + basic(1, cin, c5r)
            + basic(3, c5r, c5) + basic(1, cin, pool))


def bottleneck(cin, planes, first=False):
    cout = 4 * planes
    count = (conv(1, cin, planes, False) + conv(3, planes, planes, False)
             + conv(1, planes, cout, False) + 2 * (planes + planes + cout))
    if first:  # projection shortcut: 1x1 conv + BN
        count += conv(1, cin, cout, False) + 2 * cout
    return count


ALEXNET = (conv(11, 3, 64) + conv(5, 64, 192) + conv(3, 192, 384) + conv(3, 384, 256)
           + conv(3, 256, 256))
VGG16 = (conv(3, 3, 64) + conv(3, 64, 64) + conv(3, 64, 128) + conv(3, 128, 128)
         + conv(3, 128, 256) + 2 * conv(3, 256, 256) + conv(3, 256, 512) + 5 * conv(3, 512, 512))
GOOGLENET = (basic(7, 3, 64) + basic(1, 64, 64) + basic(3, 64, 192)
             + inception(192, 64, 96, 128, 16, 32, 32) + inception(256, 128, 128, 192, 32, 96, 64)
             + inception(480, 192, 96, 208, 16, 48, 64) + inception(512, 160, 112, 224, 24, 64, 64)
             + inception(512, 128, 128, 256, 24, 64, 64) + inception(512, 112, 144, 288, 32, 64, 64)
             + inception(528, 256, 160, 320, 32, 128, 128))
RESNET50 = (conv(7, 3, 64, False) + 2 * 64
            + bottleneck(64, 64, first=True) + 2 * bottleneck(256, 64)
            + bottleneck(256, 128, first=True) + 3 * bottleneck(512, 128)
            + bottleneck(512, 256, first=True) + 5 * bottleneck(1024, 256)
            + bottleneck(1024, 512, first=True) + 2 * bottleneck(2048, 512))
NIN = (conv(11, 3, 96) + 2 * conv(1, 96, 96) + conv(5, 96, 256) + 2 * conv(1, 256, 256)
       + conv(3, 256, 384) + 2 * conv(1, 384, 384) + conv(3, 384, 1024) + conv(1, 1024, 1024))


def test_backbone_arithmetic_matches_torchvision_published_counts():
    # torchvision's documented totals = backbone + the layers camjax drops
    assert ALEXNET + linear(256 * 36, 4096) + linear(4096, 4096) + linear(4096, C) == 61_100_840
    assert VGG16 + linear(512 * 49, 4096) + linear(4096, 4096) + linear(4096, C) == 138_357_544
    assert (GOOGLENET + inception(832, 256, 160, 320, 32, 128, 128)
            + inception(832, 384, 192, 384, 48, 128, 128) + linear(1024, C)) == 6_624_904
    assert RESNET50 + linear(2048, C) == 25_557_032


@pytest.mark.parametrize("name, expected", [
    ("alexnet_gap", ALEXNET + conv(3, 256, 1024) + linear(1024, C, False)),
    ("alexnet_star_gap", ALEXNET + conv(3, 256, 512) + conv(3, 512, 512) + conv(3, 512, 1024)
     + linear(1024, C, False)),
    ("vgg16_gap", VGG16 + conv(3, 512, 1024, groups=2) + linear(1024, C, False)),
    ("googlenet_gap", GOOGLENET + conv(3, 832, 1024, groups=2) + linear(1024, C, False)),
    ("googlenet_gmp", GOOGLENET + conv(3, 832, 1024, groups=2) + linear(1024, C, False)),
    ("nin", NIN + linear(1024, C, False)),
    ("resnet50_gap", RESNET50 + linear(2048, C, False)),
])
def test_parameter_count(name, expected):
    assert parameter_count(abstract(name)) == expected


def test_resnet_large_map_has_the_same_parameters():
    assert parameter_count(abstract("resnet50_gap", mapping_resolution=14)) == RESNET50 + 2048 * C


# --- GAP and GMP ------------------------------------------------------------------------

def tree_of_shapes(model):
    return {path: (tuple(v.shape), v.dtype, type(v).__name__)
            for path, v in nnx.to_flat_state(nnx.state(model))}


@pytest.mark.parametrize("name", ["alexnet_gap", "alexnet_star_gap", "vgg16_gap",
                                  "googlenet_gap", "nin", "resnet50_gap"])
def test_gap_and_gmp_have_identical_parameter_trees(name):
    gap, gmp = abstract(name, "gap"), abstract(name, "gmp")
    assert (gap.head.pooling, gmp.head.pooling) == ("gap", "gmp")
    assert tree_of_shapes(gap) == tree_of_shapes(gmp)


def test_googlenet_gmp_is_googlenet_gap_with_max_pooling():
    gmp = abstract("googlenet_gmp")  # create's default pooling does not override the name
    assert gmp.head.pooling == "gmp"
    assert tree_of_shapes(gmp) == tree_of_shapes(abstract("googlenet_gap", "gmp"))


# --- one compiled forward and backward pass at a small input ----------------------------

def loss_and_grads(model, images, labels):
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    params, rest = nnx.as_pure(params), nnx.as_pure(rest)

    def loss_fn(params, rest):
        logits, features = nnx.merge(graphdef, params, rest)(images)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, (logits, features)

    step = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
    return step.lower(params, rest).compile(FAST_COMPILE)(params, rest), params


@pytest.mark.parametrize("name, size, pooling, hw", [
    ("alexnet_gap", 67, "gap", 3),
    ("alexnet_star_gap", 67, "gmp", 3),
    ("vgg16_gap", 64, "gap", 4),
    ("googlenet_gap", 64, "gap", 4),
    ("nin", 64, "gmp", 1),
    ("resnet50_gap", 64, "gap", 2),
])
def test_forward_backward_small_input(name, size, pooling, hw):
    model = materialize(abstract(name, pooling, num_classes=5))
    model.train()
    images = jax.random.normal(jax.random.key(1), (2, size, size, 3))
    ((loss, (logits, features)), grads), params = loss_and_grads(model, images,
                                                                 jnp.array([0, 3]))
    assert logits.shape == (2, 5)
    assert features.shape == (2, hw, hw, class_weights(model).shape[0])
    assert np.isfinite(float(loss)) and np.all(np.isfinite(logits))
    assert np.all(np.isfinite(features)) and np.all(features >= 0)  # after a ReLU
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    for path, grad in nnx.to_flat_state(grads):  # every layer gets a finite, nonzero gradient
        grad = np.asarray(grad)
        assert np.all(np.isfinite(grad)) and np.any(grad != 0), path


# --- torch's MaxPool2d semantics --------------------------------------------------------

def reference_max_pool(x, k, s, p, ceil_mode):
    """Brute force, following torch's documented output-size rule."""
    n, h, w, c = x.shape

    def out_size(size):
        span = size + 2 * p - k
        out = (math.ceil(span / s) if ceil_mode else span // s) + 1
        return out - 1 if ceil_mode and (out - 1) * s >= size + p else out

    padded = np.full((n, h + 2 * p + k, w + 2 * p + k, c), -np.inf, x.dtype)
    padded[:, p:p + h, p:p + w] = x
    oh, ow = out_size(h), out_size(w)
    out = np.empty((n, oh, ow, c), x.dtype)
    for i, j in itertools.product(range(oh), range(ow)):
        out[:, i, j] = padded[:, i * s:i * s + k, j * s:j * s + k].max(axis=(1, 2))
    return out


@pytest.mark.parametrize("h, w, k, s, p, ceil_mode", [
    (112, 112, 3, 2, 0, True),   # googlenet maxpool1: 56
    (14, 14, 2, 2, 0, True),
    (9, 10, 3, 2, 0, True),      # last window partly outside
    (7, 7, 3, 1, 1, True),       # inception branch4
    (56, 56, 3, 2, 1, False),    # resnet maxpool
    (55, 54, 3, 2, 0, False),    # alexnet
    (13, 13, 3, 2, 0, True),     # nin: 6
    (6, 5, 3, 2, 1, True),       # torch drops the window that would start in the padding
])
def test_max_pool2d_matches_torch_rule(h, w, k, s, p, ceil_mode):
    x = np.random.default_rng(0).normal(size=(2, h, w, 3)).astype(np.float32)
    got = np.asarray(max_pool2d(jnp.asarray(x), k, s, p, ceil_mode=ceil_mode))
    np.testing.assert_array_equal(got, reference_max_pool(x, k, s, p, ceil_mode))
