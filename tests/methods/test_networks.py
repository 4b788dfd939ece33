"""The shared gradient function and CAM on every registered network; every method on a
paper network. Each network at the smallest input (from a short list) whose maps are at
least 2 x 2, found with ``jax.eval_shape``; weights random (conftest.filled_model)."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import camjax
from camjax import methods
from camjax.methods.base import logits_features_gradients

SIZES = (16, 24, 32, 48, 64, 96, 128, 160, 224)
NUM_CLASSES = 5
FAST_COMPILE = {"xla_backend_optimization_level": 0}  # as tests/models/test_zoo.py


def fast(fn, *args):
    """``jax.jit(fn)(*args)`` compiled without backend optimisation (much quicker to
    compile a paper network; the same values within float rounding)."""
    return jax.jit(fn).lower(*args).compile(FAST_COMPILE)(*args)


def run_method(name, model, x, classes, **options):
    # fully optimised: unoptimised code makes Score-CAM's 128 passes slower than compiling
    return methods.get(name)(model, x, classes, **options)


def feature_size(model, size: int) -> int:
    """The smaller side of the network's maps at a size x size input (0 if it fails)."""
    try:
        _, f = nnx.eval_shape(lambda m, x: m(x), model,
                              jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32))
    except (ValueError, TypeError):          # too small for a pooling or a valid conv
        return 0
    return min(f.shape[1:3])


@functools.cache
def smallest_input(name: str) -> int:
    """The smallest size in SIZES giving maps of at least 2 x 2. A trace of a big network
    costs seconds, so the search starts where the stride at 224 px says it should."""
    model = network(name)
    stride = 224 / max(feature_size(model, 224), 1)
    for size in [s for s in SIZES if s >= 2 * stride] + [s for s in SIZES if s < 2 * stride]:
        if feature_size(model, size) >= 2:
            return size
    raise AssertionError(f"{name}: no input in {SIZES} gives maps of at least 2 x 2")


@functools.cache
def network(name: str, **kwargs):
    from tests.methods.conftest import filled_model
    return filled_model(name, num_classes=NUM_CLASSES, gain=1.0, head_std=0.05, **kwargs)


def images_for(name, batch=2, seed=0):
    size = smallest_input(name)
    return jax.random.normal(jax.random.key(seed), (batch, size, size, 3))


# One network per family (the suite's time budget): the paper's networks and the first eight
# classifiers as before, and the smallest member of every torchvision / timm family; each
# family's numerics against PyTorch are in tests/models/. inception_v3_gap is checked by
# shapes only (tests/models/test_wsol_networks.py).
EXACT_CAM = ("alexnet_gap", "alexnet_star_gap", "vgg16_gap", "googlenet_gap", "googlenet_gmp",
             "nin", "resnet50_gap", "tiny_gap", "resnet18", "resnet34", "resnet50",
             "densenet121", "mobilenet_v2", "resnext50_32x4d", "efficientnet_b0",
             "efficientnet_v2_s", "regnet_y_400mf", "regnet_x_400mf", "mnasnet0_5",
             "googlenet", "inception_v3", "shufflenet_v2_x0_5", "squeezenet1_1",
             "convnext_tiny", "swin_t")
NO_CAM = ("mobilenet_v3_small", "vit_b_32", "deit_small_patch16_224")


def family(name: str) -> str:
    """The module that builds ``name`` (a family: resnet.py builds the ResNeXts too)."""
    build = camjax.models.registry.factory(name)
    return getattr(build, "func", build).__module__


def test_every_family_is_listed():
    """A new family (a new module of camjax.models) adds its smallest member above."""
    listed = set(EXACT_CAM) | set(NO_CAM) | {"inception_v3_gap"}
    assert {family(n) for n in camjax.models.available()} == {family(n) for n in listed}


# a second member of a family already listed (same module, same code path): run by
# ``make test-all`` only (pytest -m exhaustive), to keep ``make test`` in its time budget
SECOND_MEMBERS = ("alexnet_star_gap", "googlenet_gmp", "resnet34", "resnet50",
                  "efficientnet_v2_s", "regnet_x_400mf")


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.exhaustive)
                                  if n in SECOND_MEMBERS else n for n in EXACT_CAM + NO_CAM])
def test_shared_gradients_and_cam_on_every_network(name):
    """The gradient at the features (through ``classify`` where the network has it, else
    through the tap at ``features_layer``) against a forward-mode derivative; CAM against
    the features contracted with ``cam_weights`` by hand, and the mean CAM = logit - bias
    for a GAP head; ``cam`` refused where the network has no exact CAM."""
    model = network(name)
    x = images_for(name)
    classes = jnp.array([[0, 4], [3, 3]])
    graphdef, state = nnx.split(model)
    exact = name in EXACT_CAM
    cam = (lambda s, x, c: methods.cam_fn(graphdef, s, x, c)) if exact else (lambda *a: None)
    # the shared function and CAM in one program: one compilation of the network
    (logits, features, grads), maps = fast(lambda s, x, c: (
        logits_features_gradients(graphdef, s, x, c), cam(s, x, c)), state, x, classes)
    b, h, w, k = features.shape
    assert min(h, w) >= 2 and grads.shape == (b, 2, h, w, k)
    v = jax.random.normal(jax.random.key(1), features.shape)
    if hasattr(model, "classify"):
        # forward-mode derivative of the rest of the network: an independent path
        head_logits, tangent = jax.jvp(model.classify, (features,), (v,))
        np.testing.assert_allclose(logits, head_logits, rtol=1e-5, atol=1e-6)
        directional = np.einsum("bjyxk,byxk->bj", np.asarray(grads, np.float64), np.asarray(v))
        want = np.take_along_axis(np.asarray(tangent), np.asarray(classes), axis=1)
        np.testing.assert_allclose(directional, want, rtol=1e-4,
                                   atol=1e-5 * np.abs(want).max())
    else:                 # a transformer: a finite difference along v at its features layer
        assert np.abs(np.asarray(grads)).max() > 0
    if not exact:
        with pytest.raises(camjax.errors.ModelError):
            methods.cam(model, x, classes)
        return
    weights = np.asarray(model.cam_weights(features), np.float64)
    weights = np.broadcast_to(weights, (b,) + weights.shape[-2:])        # (B, K, C)
    f = np.asarray(features, np.float64)
    want = np.einsum("byxk,bkj->bjyx", f, np.take_along_axis(
        weights, np.asarray(classes)[:, None, :], axis=2))
    np.testing.assert_allclose(maps, want, rtol=1e-4, atol=1e-5 * np.abs(maps).max())
    head = getattr(model, "head", None)
    if weights.shape[0] and getattr(head, "pooling", None) == "gap" and \
            hasattr(head, "classifier"):                 # mean CAM = logit - bias
        bias = getattr(head.classifier, "bias", None)
        bias = np.zeros(logits.shape[-1]) if bias is None else np.asarray(bias[...])
        want = np.take_along_axis(np.asarray(logits) - bias, np.asarray(classes), axis=1)
        np.testing.assert_allclose(maps.mean(axis=(2, 3)), want, rtol=1e-4,
                                   atol=1e-5 * np.abs(want).max())


@pytest.mark.slow
def test_every_method_on_a_paper_network():
    # AlexNet-GAP's layers with a 128-channel CAM conv instead of 1024: Score-CAM costs one
    # masked forward pass per channel, and the maths does not depend on their number
    name = "alexnet_gap"
    model = network(name, cam_channels=128)
    x = images_for(name, batch=1, seed=3)
    classes = jnp.array([[1, 2]])
    graphdef, state = nnx.split(model)
    logits, f = fast(lambda s, x: nnx.merge(graphdef, s)(x), state, jnp.concatenate([x, 0 * x]))
    f = np.asarray(f, np.float64)[:1]
    h, w = f.shape[1:3]
    wc = np.asarray(camjax.models.class_weights(model), np.float64).T[np.asarray(classes)]
    cam = np.einsum("byxk,bjk->bjyx", f, wc)
    relu = lambda a: np.maximum(a, 0)   # noqa: E731
    # GAP, no bias: the gradient is W / (h w) everywhere, so each map has a closed form
    closed = {"grad_cam": relu(cam) / (h * w),
              "layer_cam": relu(np.einsum("byxk,bjk->bjyx", f, relu(wc))) / (h * w),
              "grad_cam_plus_plus": relu(np.einsum(
                  "byxk,bjk->bjyx", f, relu(wc) / (2 + f.mean(axis=(1, 2))[:, None] * wc)))}
    for method, want in closed.items():
        got = run_method(method, model, x, classes)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * want.max(),
                                   err_msg=method)
    # Score-CAM: softmax weights are convex, and A >= 0: between the channels' min and max
    score = np.asarray(run_method("score_cam", model, x, classes, batch_size=64))
    assert score.shape == (1, 2, h, w) and np.isfinite(score).all()
    assert np.all(score <= f.max(axis=-1)[:, None] * (1 + 1e-5) + 1e-6)
    assert np.all(score >= f.min(axis=-1)[:, None] * (1 - 1e-5) - 1e-6) and score.max() > 0
    sal = run_method("saliency", model, x, classes)
    assert sal.shape == (1, 2) + x.shape[1:3] and float(sal.min()) >= 0
    np.testing.assert_allclose(run_method("smooth_grad", model, x, classes, samples=2,
                                          sigma=0.0), sal, rtol=1e-5, atol=1e-9)
    ig = np.asarray(run_method("integrated_gradients", model, x, classes, steps=32,
                               batch_size=33), np.float64)
    diff = np.asarray(logits)[0, np.asarray(classes[0])] - np.asarray(logits)[1, np.asarray(
        classes[0])]
    np.testing.assert_allclose(ig.sum(axis=(2, 3))[0], diff, rtol=0.05,
                               atol=0.05 * np.abs(diff).max())
