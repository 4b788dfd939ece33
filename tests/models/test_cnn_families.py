"""torchvision's googlenet, inception_v3, shufflenet_v2_*, squeezenet1_* and convnext_* as
camjax builds them, without torch: parameter counts against torchvision's published ones
(``nnx.eval_shape``, nothing compiled), mapping resolutions, the contract attributes
(``arch``, ``features_layer`` resolving by attributes, ``imagenet_eval``), torch names to NNX
paths, and the CAM identities of SqueezeNet and ConvNeXt checked by hand on random features.
The numerical comparison with PyTorch is ``test_cnn_families_torch.py``."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from camjax.models import parameter_count
from camjax.models.layers import GlobalPool
from camjax.models.shufflenet import channel_shuffle

from .test_zoo import abstract
from tests.random_weights import fill

# torchvision's documented num_params (its models' _meta["num_params"], 1000 classes)
PUBLISHED = {"inception_v3": 27_161_264, "googlenet": 6_624_904,
             "shufflenet_v2_x0_5": 1_366_792, "shufflenet_v2_x1_0": 2_278_604,
             "shufflenet_v2_x1_5": 3_503_624, "shufflenet_v2_x2_0": 7_393_996,
             "squeezenet1_0": 1_248_424, "squeezenet1_1": 1_235_496,
             "convnext_tiny": 28_589_128, "convnext_small": 50_223_688,
             "convnext_base": 88_591_464, "convnext_large": 197_767_336}
# name: (features channels, h x w at the standard input, at 200 x 168 (h x w)); torchvision's
# DEFAULT weights' eval transform (resize, crop, interpolation)
FEATURES = {"inception_v3": (2048, (8, 8), (4, 3)), "googlenet": (1024, (7, 7), (6, 5)),
            "shufflenet_v2_x0_5": (1024, (7, 7), (7, 6)),
            "shufflenet_v2_x1_0": (1024, (7, 7), (7, 6)),
            "shufflenet_v2_x1_5": (1024, (7, 7), (7, 6)),
            "shufflenet_v2_x2_0": (2048, (7, 7), (7, 6)),
            "squeezenet1_0": (1000, (13, 13), (12, 10)),
            "squeezenet1_1": (1000, (13, 13), (12, 10)),
            "convnext_tiny": (768, (7, 7), (6, 5)), "convnext_small": (768, (7, 7), (6, 5)),
            "convnext_base": (1024, (7, 7), (6, 5)), "convnext_large": (1536, (7, 7), (6, 5))}
EVAL = {"inception_v3": (342, 299), "googlenet": (256, 224), "shufflenet_v2_x0_5": (256, 224),
        "shufflenet_v2_x1_0": (256, 224), "shufflenet_v2_x1_5": (232, 224),
        "shufflenet_v2_x2_0": (232, 224), "squeezenet1_0": (256, 224),
        "squeezenet1_1": (256, 224), "convnext_tiny": (236, 224), "convnext_small": (230, 224),
        "convnext_base": (232, 224), "convnext_large": (232, 224)}
FAMILIES = ("inception_v3", "googlenet", "shufflenet_v2_x0_5", "squeezenet1_0", "squeezenet1_1",
            "convnext_tiny")
FEATURES_LAYER = {"inception_v3": "Mixed_7c", "googlenet": "inception5b",
                  "squeezenet1_0": "classifier.2", "squeezenet1_1": "classifier.2"}


@functools.lru_cache(maxsize=None)
def network(name, pooling="gap", num_classes=1000):
    """Abstract (shapes only), built once per test process and shared with the torch tests."""
    model = abstract(name, pooling, num_classes)
    model.eval()  # tracing BatchNorm's statistics updates (train mode) takes seconds
    return model


def resolve(model, path):
    """The module at a torchvision ``named_modules()`` path, by attributes (the contract)."""
    path = getattr(model, "layer_aliases", {}).get(path, path)
    for part in path.split("."):
        model = model[int(part)] if part.isdigit() else getattr(model, part)
    return model


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_parameter_count_is_torchvisions(name):
    assert parameter_count(network(name)) == PUBLISHED[name]


@pytest.mark.parametrize("name", list(FEATURES))
def test_contract_attributes_and_mapping_resolution(name):
    model = network(name)
    channels, standard, non_square = FEATURES[name]
    size = 299 if name == "inception_v3" else 224
    assert (model.arch, model.torchvision_head) == (name, True)
    assert model.imagenet_eval == (*EVAL[name], "bilinear")
    layer = FEATURES_LAYER.get(name, "features" if "convnext" in name else "conv5")
    assert model.features_layer == layer and isinstance(resolve(model, layer), nnx.Module)
    # the non-square size for one network per family (the torch tests compile those)
    sizes = [((size, size), standard)] + [((200, 168), non_square)] * (name in FAMILIES)
    for (h, w), out in sizes:
        images = jax.ShapeDtypeStruct((2, h, w, 3), jnp.float32)
        logits, features = nnx.eval_shape(lambda m, x: m(x), model, images)
        assert (logits.shape, features.shape) == ((2, 1000), (2, *out, channels))


def test_layer_aliases_name_torch_paths_camjax_builds_elsewhere():
    model = network("googlenet")
    assert resolve(model, "fc") is model.head.classifier
    assert resolve(model, "inception4e.branch4.1") is model.inception4e.branch4
    assert resolve(model, "inception5b.branch2.1.bn") is model.inception5b.branch2[1].bn
    assert resolve(network("shufflenet_v2_x0_5"), "stage3.0.branch2.3").feature_group_count == 48
    assert resolve(network("convnext_tiny"), "features.5.8.block.3").out_features == 4 * 384


@pytest.mark.parametrize("name, torch_name, path", [
    ("googlenet", "inception4e.branch4.1.conv.weight", ("inception4e", "branch4", "conv",
                                                        "kernel")),
    ("googlenet", "inception5b.branch3.0.bn.running_var", ("inception5b", "branch3", 0, "bn",
                                                           "var")),
    ("googlenet", "fc.bias", ("head", "classifier", "bias")),
    ("googlenet", "aux1.fc1.weight", None),             # training-only: skipped
    ("googlenet", "aux2.conv.bn.num_batches_tracked", None),
    ("inception_v3", "Mixed_7c.branch3x3dbl_3b.bn.running_mean",
     ("Mixed_7c", "branch3x3dbl_3b", "bn", "mean")),
    ("inception_v3", "AuxLogits.fc.weight", ("AuxLogits", "fc", "kernel")),
    ("inception_v3", "fc.weight", ("head", "classifier", "kernel")),
    ("shufflenet_v2_x1_0", "stage2.0.branch1.2.weight", ("stage2", 0, "branch1", 2, "kernel")),
    ("shufflenet_v2_x1_0", "conv5.1.weight", ("conv5", 1, "scale")),
    ("squeezenet1_1", "features.3.expand3x3.bias", ("features", 3, "expand3x3", "bias")),
    ("squeezenet1_1", "classifier.1.weight", ("classifier", 1, "kernel")),
    ("convnext_tiny", "features.1.0.layer_scale", ("features", 1, 0, "layer_scale")),
    ("convnext_tiny", "features.6.1.weight", ("features", 6, 1, "kernel")),
    ("convnext_tiny", "classifier.0.weight", ("classifier", 0, "scale")),
])
def test_torch_names_map_to_the_same_modules(name, torch_name, path):
    assert network(name).torch_path(torch_name) == path


@pytest.mark.parametrize("name, torch_name", [
    ("googlenet", "inception4e.branch4.0.conv.weight"),   # branch4.0 is the pool
    ("inception_v3", "Mixed_5b.branch7x7_1.conv.weight"),  # an InceptionC branch
    ("shufflenet_v2_x0_5", "stage2.1.branch1.0.weight"),   # stride 1: branch1 is empty
    ("squeezenet1_0", "features.2.weight"),                 # the max pool
])
def test_names_torchvision_does_not_have_are_refused(name, torch_name):
    with pytest.raises(ValueError, match=torch_name.replace(".", r"\.")):
        network(name).torch_path(torch_name)


def test_channel_shuffle_is_torchvisions_permutation():
    # channel g * (C / groups) + j of the input is channel j * groups + g of the output
    x = np.arange(12, dtype=np.float32).reshape(1, 1, 1, 12)
    out = np.asarray(channel_shuffle(jnp.asarray(x), 2)).ravel()
    expected = [g * 6 + j for j in range(6) for g in range(2)]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("name, pool", [("squeezenet1_1", lambda m: m.classifier[3]),
                                        ("shufflenet_v2_x0_5", lambda m: m.head)])
def test_gmp_is_just_the_pooling(name, pool):
    gap, gmp = network(name), network(name, "gmp")
    shapes = [jax.tree.map(lambda v: v.shape, nnx.state(m, nnx.Param)) for m in (gap, gmp)]
    assert shapes[0] == shapes[1]
    assert (pool(gap).pooling, pool(gmp).pooling) == ("gap", "gmp")


def with_head(name, pooling):
    """A copy of the abstract network whose classifier (all these tests run) has random
    weights, pooling by ``pooling``."""
    model = nnx.merge(*nnx.split(network(name)))
    pool = GlobalPool(pooling)
    if name.startswith("squeezenet"):
        model.classifier[3] = pool
    else:
        model.avgpool = pool
    fill(model.classifier, seed=3)
    return model


@pytest.mark.parametrize("pooling", ["gap", "gmp"])
def test_squeezenet_cam_is_the_class_maps(pooling):
    model = with_head("squeezenet1_1", pooling)
    maps = jnp.asarray(np.random.default_rng(0).uniform(0, 2, (2, 5, 4, 1000)), jnp.float32)
    logits = np.asarray(model.classify(maps))
    np.testing.assert_array_equal(model.cam_weights(maps), np.eye(1000))
    cams = np.einsum("bhwk,kc->bchw", maps, model.cam_weights(maps))
    pool = np.mean if pooling == "gap" else np.max
    np.testing.assert_allclose(pool(cams, axis=(2, 3)), logits, rtol=1e-6)


@pytest.mark.parametrize("pooling", ["gap", "gmp"])
def test_convnext_folded_weights_give_the_logits(pooling):
    model = with_head("convnext_tiny", pooling)
    rng = np.random.default_rng(1)
    features = rng.normal(size=(3, 5, 4, 768)).astype(np.float32) + rng.normal(size=768)
    logits = np.asarray(model.classify(jnp.asarray(features)), np.float64)
    weights = np.asarray(model.cam_weights(jnp.asarray(features)), np.float64)
    assert weights.shape == (3, 768, 1000)
    # by hand: the pooled vector through LayerNorm and the linear layer, in float64
    norm, linear = model.classifier[0], model.classifier[2]
    pooled = features.mean((1, 2)) if pooling == "gap" else features.max((1, 2))
    pooled = pooled.astype(np.float64)
    normed = (pooled - pooled.mean(1, keepdims=True)) / np.sqrt(pooled.var(1, keepdims=True)
                                                                + 1e-6)
    gamma, beta = np.asarray(norm.scale[...]), np.asarray(norm.bias[...])
    kernel, bias = np.asarray(linear.kernel[...]), np.asarray(linear.bias[...])
    np.testing.assert_allclose(logits, (normed * gamma + beta) @ kernel + bias, rtol=1e-4,
                               atol=1e-4 * np.abs(logits).max())
    # the CAM's pooled value is the logit less a constant that no image changes
    cams = np.einsum("bhwk,bkc->bchw", features, weights)
    pooled_cams = cams.mean((2, 3)) if pooling == "gap" else None
    constant = beta @ kernel + bias
    if pooling == "gap":
        np.testing.assert_allclose(pooled_cams, logits - constant, rtol=0,
                                   atol=1e-4 * np.abs(logits).max())
    np.testing.assert_allclose(np.einsum("bk,bkc->bc", pooled, weights), logits - constant,
                               rtol=0, atol=1e-4 * np.abs(logits).max())
