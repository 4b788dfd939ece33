"""``layer=`` on a user's own NNX module (no camjax base class, no edit): the docs'
custom-CNN example runs as written and its Grad-CAM at ``conv2`` equals a hand
computation, a loss on the maps at an inner layer has the finite-difference gradient
(second order), ``jax.vmap`` agrees with the batch, bad names are named, and
torchvision's names resolve on camjax's networks."""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import camjax
from camjax import cam, methods
from camjax.errors import ModelError, UserError
from camjax.models import taps
from tests.conftest import ROOT
from tests.random_weights import fill


class SmallCNN(nnx.Module):
    """A user's network: its call returns logits alone; an unused module on the side."""

    def __init__(self, dtype=jnp.float32, *, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(3, 4, (3, 3), param_dtype=dtype, rngs=rngs)
        self.conv2 = nnx.Conv(4, 6, (3, 3), strides=2, param_dtype=dtype, rngs=rngs)
        self.unused = nnx.Linear(2, 2, param_dtype=dtype, rngs=rngs)
        self.dense = nnx.Linear(6, 5, param_dtype=dtype, rngs=rngs)

    def __call__(self, x):
        x = jax.nn.relu(self.conv1(x))
        x = jax.nn.relu(self.conv2(x))
        return self.dense(x.mean(axis=(1, 2)))


def small_cnn(dtype=jnp.float32, seed=0):
    """Built abstractly and filled from numpy: nothing compiled (eager init would)."""
    return fill(nnx.eval_shape(lambda: SmallCNN(dtype, rngs=nnx.Rngs(0))), seed, gain=2.0)


@pytest.fixture(scope="module")
def docs_example():
    """docs/methods.md's custom-CNN example, run as written (its names, after the run)."""
    text = (ROOT / "docs" / "methods.md").read_text()
    block = re.search(r"## Your own model.*?```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(block, "docs/methods.md", "exec"), namespace)       # noqa: S102
    return namespace


def test_the_docs_example_is_grad_cam_at_conv2_by_hand(docs_example):
    model, images, result = (docs_example[k] for k in ("model", "images", "result"))
    assert result.maps.shape == (4, 2, 32, 32) and result.classes.shape == (4, 2)
    # by hand: logits = W^T mean_yx ReLU(A) + b with A = conv2's output, so
    # d logit_c / d A_K(y, x) = W[K, c] [A_K(y, x) > 0] / (h w); alpha = its spatial mean
    a = np.asarray(model.conv2(jax.nn.relu(model.conv1(images))), np.float64)  # (B, h, w, K)
    w = np.asarray(model.dense.kernel[...], np.float64)                        # (K, C)
    logits = a.clip(0).mean(axis=(1, 2)) @ w + np.asarray(model.dense.bias[...])
    classes = np.argsort(-logits, axis=1)[:, :2]
    np.testing.assert_array_equal(result.classes, classes)
    h, wd = a.shape[1:3]
    hand = np.zeros((4, 2, h, wd))
    for b in range(4):
        for j, c in enumerate(classes[b]):
            alpha = (w[:, c] * (a[b] > 0) / (h * wd)).mean(axis=(0, 1))
            hand[b, j] = np.maximum((a[b] * alpha).sum(-1), 0)
    assert np.all(hand.max(axis=(2, 3)) > 0)
    want = cam.normalize(cam.upsample(hand.astype(np.float32), (32, 32)))
    np.testing.assert_allclose(result.maps, want, atol=2e-5)
    assert isinstance(model.conv2, nnx.Conv)        # the user's model is left as it was


def test_vmap_over_images_equals_the_batch(docs_example):
    graphdef, state = nnx.split(docs_example["model"])
    images = docs_example["images"][:3]
    classes = jnp.array([[1], [0], [4]])
    batched = methods.layer_cam_fn(graphdef, state, images, classes, layer="conv1")
    one = jax.vmap(lambda x, c: methods.layer_cam_fn(graphdef, state, x[None], c[None],
                                                     layer="conv1")[0])(images, classes)
    assert float(batched.max()) > 0
    np.testing.assert_allclose(one, batched, rtol=1e-5, atol=1e-6)


def test_a_loss_on_maps_at_an_inner_layer_has_the_finite_difference_gradient():
    with jax.enable_x64(True):
        graphdef, state = nnx.split(small_cnn(jnp.float64, seed=1))
        rng = np.random.default_rng(2)
        images = jnp.asarray(rng.normal(0, 1, (2, 8, 8, 3)))
        classes = jnp.array([[0, 3], [4, 4]])
        target = jnp.asarray(rng.normal(0, 1, (2, 2, 8, 8)))

        @jax.jit
        def loss(s):    # through the perturbation: second order in the network
            maps = methods.grad_cam_fn(graphdef, s, images, classes, layer="conv1",
                                       relu=False)
            return (maps * target).sum()

        grads = jax.jit(jax.grad(loss))(state)
        direction = jax.tree.map(lambda x: jnp.asarray(rng.normal(0, 1, x.shape)), state)
        eps = 1e-6
        shift = lambda sign: jax.tree.map(lambda x, d: x + sign * eps * d,  # noqa: E731
                                          state, direction)
        fd = (loss(shift(1)) - loss(shift(-1))) / (2 * eps)
        analytic = sum(float((g * d).sum()) for g, d in zip(jax.tree.leaves(grads),
                                                            jax.tree.leaves(direction)))
        assert abs(analytic) > 1e-6
        np.testing.assert_allclose(analytic, float(fd), rtol=1e-5)


def test_bad_layers_are_named_with_the_nearest_valid_names():
    model, images = small_cnn(), np.zeros((3, 8, 8, 3), np.float32)   # traced, not run
    with pytest.raises(ModelError, match=r"'conv3' is not a module.*conv1, conv2"):
        methods.grad_cam(model, images, [0, 1, 2], layer="conv3")
    with pytest.raises(ModelError, match="'unused' is not called"):
        methods.grad_cam(model, images, [0, 1, 2], layer="unused")
    with pytest.raises(ModelError, match="features_layer.*layer="):
        methods.grad_cam(model, images, [0, 1, 2])            # logits alone: name a layer
    with pytest.raises(UserError, match="'cam' has no option 'layer'"):
        methods.cam(model, images, [0, 1, 2], layer="conv2")
    assert taps.module_paths(model) == ["conv1", "conv2", "dense", "unused"]


def test_torchvision_names_resolve_on_the_networks():
    from tests.models.test_classifiers import classifier     # abstract, cached
    resnet, dense, mobile = (classifier(n) for n in ("resnet18", "densenet121",
                                                      "mobilenet_v2"))
    cases = [(resnet, "layer4", ("layer4", 1)), (resnet, "layer4.1.conv2", ("layer4", 1, "conv2")),
             (resnet, "fc", ("head", "classifier")),
             (dense, "features", ("norm5",)), (dense, "features.transition2", ("transition2",)),
             (dense, "features.denseblock3.denselayer5.conv2", ("denseblock3", 4, "conv2")),
             (mobile, "features", ("features", 18)), (mobile, "features.6", ("features", 6)),
             (mobile, "features.2.conv.1.0", ("features", 2, "conv", 1, "conv")),
             (mobile, "classifier.1", ("head", "classifier"))]
    for model, name, path in cases:
        assert taps.resolve(model, name)[0] == path, name

    class Encoder(nnx.Module):       # torch's encoder's output is its final norm's
        def __init__(self, rngs):
            self.block, self.ln = nnx.Linear(2, 2, rngs=rngs), nnx.LayerNorm(2, rngs=rngs)

    class Net(nnx.Module):
        layer_aliases = {"encoder": "encoder.ln"}

        def __init__(self, rngs):
            self.encoder = Encoder(rngs)

    net = nnx.eval_shape(lambda: Net(nnx.Rngs(0)))
    assert taps.resolve(net, "encoder")[0] == ("encoder", "ln")
    assert taps.resolve(net, "encoder.block")[0] == ("encoder", "block")  # not captured
    assert [m for m in camjax.models.registry.classifiers() if m.startswith("dense")] == [
        "densenet121", "densenet161"]
