"""torchvision's ResNeXts, wide ResNets, EfficientNets, RegNets, MNASNets and MobileNetV3s:
parameter counts of every size against torchvision's published numbers, the network
contract's attributes, torch paths that resolve, heads and their CAM weights. Shapes only
(``nnx.eval_shape``), nothing compiled; no torch needed."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

import camjax
from camjax.errors import ModelError
from camjax.models import class_weights, parameter_count
from camjax.models.heads import walk
from camjax.models.mnasnet import round_to_multiple_of

from .abstract_models import abstract

# one xdist worker runs this file and the torch comparisons: each network is built once
pytestmark = pytest.mark.xdist_group("torchvision_families")
# torchvision's weights enums' meta["num_params"] (1000 classes)
PUBLISHED = {
    "resnext50_32x4d": 25_028_904, "resnext101_32x8d": 88_791_336,
    "resnext101_64x4d": 83_455_272, "wide_resnet50_2": 68_883_240,
    "wide_resnet101_2": 126_886_696,
    "efficientnet_b0": 5_288_548, "efficientnet_b1": 7_794_184, "efficientnet_b2": 9_109_994,
    "efficientnet_b3": 12_233_232, "efficientnet_b4": 19_341_616,
    "efficientnet_b5": 30_389_784, "efficientnet_b6": 43_040_704,
    "efficientnet_b7": 66_347_960, "efficientnet_v2_s": 21_458_488,
    "efficientnet_v2_m": 54_139_356, "efficientnet_v2_l": 118_515_272,
    "regnet_y_400mf": 4_344_144, "regnet_y_800mf": 6_432_512, "regnet_y_1_6gf": 11_202_430,
    "regnet_y_3_2gf": 19_436_338, "regnet_y_8gf": 39_381_472, "regnet_y_16gf": 83_590_140,
    "regnet_y_32gf": 145_046_770, "regnet_y_128gf": 644_812_894,
    "regnet_x_400mf": 5_495_976, "regnet_x_800mf": 7_259_656, "regnet_x_1_6gf": 9_190_136,
    "regnet_x_3_2gf": 15_296_552, "regnet_x_8gf": 39_572_648, "regnet_x_16gf": 54_278_536,
    "regnet_x_32gf": 107_811_560,
    "mnasnet0_5": 2_218_512, "mnasnet0_75": 3_170_208, "mnasnet1_0": 4_383_312,
    "mnasnet1_3": 6_282_256,
    "mobilenet_v3_small": 2_542_856, "mobilenet_v3_large": 5_483_032,
}
# the representative of each family: (features layer, its channels, torch classifier path)
SMALLEST = {"resnext50_32x4d": ("layer4", 2048, "fc"),
            "efficientnet_b0": ("features", 1280, "classifier.1"),
            "efficientnet_v2_s": ("features", 1280, "classifier.1"),
            "regnet_y_400mf": ("trunk_output", 440, "fc"),
            "regnet_x_400mf": ("trunk_output", 400, "fc"),
            "mnasnet0_5": ("layers", 1280, "classifier.1"),
            "mobilenet_v3_small": ("features", 576, "classifier.3")}


@functools.lru_cache(maxsize=None)
def network(name, pooling="gap"):
    """Abstract, built once per test process; tests that fill one copy it first."""
    return abstract(name, pooling)


def test_every_size_has_torchvisions_parameter_count():
    counts = {name: parameter_count(network(name)) for name in PUBLISHED}
    assert counts == PUBLISHED


def test_registered_under_torchvisions_names_with_the_contract():
    assert set(PUBLISHED) <= set(camjax.models.available())
    for name in SMALLEST:
        model = network(name)
        assert model.arch == name and model.torchvision_head
        resize, crop, interpolation = model.imagenet_eval
        assert resize >= crop > 0 and interpolation in ("bilinear", "bicubic")


@pytest.mark.parametrize("name, expected", [
    ("efficientnet_b0", (256, 224, "bicubic")), ("efficientnet_v2_s", (384, 384, "bilinear")),
    ("regnet_y_400mf", (232, 224, "bilinear")), ("mnasnet0_5", (256, 224, "bilinear")),
    ("mobilenet_v3_small", (256, 224, "bilinear")), ("resnext50_32x4d", (232, 224, "bilinear")),
])
def test_eval_transform_is_the_default_weights(name, expected):
    assert network(name).imagenet_eval == expected


@pytest.mark.parametrize("name", list(SMALLEST))
def test_features_layer_and_head(name):
    layer, channels, classifier = SMALLEST[name]
    model = network(name)
    model.eval()
    assert model.features_layer == layer and isinstance(walk(model, [layer]), nnx.Module)
    images = jax.ShapeDtypeStruct((2, 224, 224, 3), jnp.float32)
    logits, features = nnx.eval_shape(lambda m, x: m(x), model, images)
    assert (logits.shape, features.shape) == ((2, 1000), (2, 7, 7, channels))
    path = [int(p) if p.isdigit() else p for p in classifier.split(".")]
    if name == "resnext50_32x4d":  # ResNet keeps torchvision's fc as head.classifier
        assert model.layer_aliases == {"fc": "head.classifier"}
        path = ["head", "classifier"]
    assert walk(model, path).kernel.shape[1] == 1000


@pytest.mark.parametrize("name", [n for n in SMALLEST if n.startswith(("eff", "reg", "mnas"))])
def test_cam_weights_are_the_classifier_kernel(name):
    model = network(name)
    channels = SMALLEST[name][1]
    weights = nnx.eval_shape(lambda m: m.cam_weights(None), model)
    assert weights.shape == (channels, 1000)
    features = jax.ShapeDtypeStruct((2, 7, 7, channels), jnp.float32)
    assert nnx.eval_shape(lambda m, f: m.classify(f), model, features).shape == (2, 1000)


def test_mobilenet_v3_has_no_exact_cam():
    model = network("mobilenet_v3_small")
    with pytest.raises(ModelError, match=r"hidden layer \(Linear \+ Hardswish\) after "
                                         r"pooling: no exact CAM; use grad_cam"):
        model.cam_weights(None)
    features = jax.ShapeDtypeStruct((1, 7, 7, 576), jnp.float32)
    assert nnx.eval_shape(lambda m, f: m.classify(f), model, features).shape == (1, 1000)
    # class_weights is classifier_path's kernel (classifier.3: what load_pretrained fills and
    # the class count comes from), after the hidden layer: the CAM goes by cam_weights only
    assert class_weights(model).shape == (1024, 1000)


@pytest.mark.parametrize("path, shape", [
    ("features.0.0", (3, 3, 3, 32)), ("features.1.0.block.1.fc1", (1, 1, 32, 8)),
    ("features.2.0.block.0.0", (1, 1, 16, 96)), ("features.8.0", (1, 1, 320, 1280)),
    ("classifier.1", (1280, 1000))])
def test_torch_paths_resolve_by_walking_attributes(path, shape):
    module = walk(network("efficientnet_b0"), [int(p) if p.isdigit() else p
                                                for p in path.split(".")])
    assert module.kernel.shape == shape


def test_regnet_block_names_keep_torchvisions_hyphen():
    stage = network("regnet_y_400mf").trunk_output.block2
    assert [k for k in stage.order] == ["block2-0", "block2-1", "block2-2"]
    block = getattr(stage, "block2-0")
    assert block.f.order == ("a", "b", "se", "c") and block.proj is not None
    assert block.f.b[0].kernel.shape == (3, 3, 8, 104)  # 104 channels in groups of 8


def test_gmp_is_the_pooling_only():
    for name in ("efficientnet_b0", "mnasnet0_5"):
        gap, gmp = network(name), network(name, "gmp")
        assert gmp.pooling == "gmp"
        shapes = [jax.tree.map(lambda v: v.shape, nnx.state(m, nnx.Param)) for m in (gap, gmp)]
        assert shapes[0] == shapes[1]
    with pytest.raises(ModelError, match="pooling"):
        camjax.models.create("regnet_x_400mf", num_classes=3, pooling="avg",
                             rngs=nnx.Rngs(0))


@pytest.mark.parametrize("value, expected", [(83, 80), (84, 88), (12, 16), (24, 24),
                                             (41.6, 40), (20.8, 24), (3, 8)])
def test_mnasnet_rounding(value, expected):
    # torchvision's docstring: (83, 8) -> 80, (84, 8) -> 88; never below 90% of the value
    assert round_to_multiple_of(value, 8) == expected
    assert expected >= 0.9 * value and expected % 8 == 0


def test_resnext_bottleneck_widths_and_groups():
    layer1 = network("resnext50_32x4d").layer1[0]
    assert layer1.conv1.kernel.shape == (1, 1, 64, 128)
    assert layer1.conv2.kernel.shape == (3, 3, 4, 128)  # 32 groups of 4 channels
    assert network("resnext50_32x4d").layer4[0].conv3.kernel.shape == (1, 1, 1024, 2048)
    wide = network("wide_resnet50_2").layer1[0]
    assert wide.conv2.kernel.shape == (3, 3, 128, 128)
    assert abstract("resnet50").layer1[0].conv2.kernel.shape == (3, 3, 64, 64)
