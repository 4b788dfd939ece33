"""torchvision's classifiers as they are (resnet18 ... mobilenet_v2): parameter counts against
torchvision's published numbers, feature maps, name maps, loading whole state dicts (the
classifier included), errors that name the architecture a file looks like. No torch needed."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import camjax
from camjax.models import class_weights, load_pretrained, parameter_count
from camjax.models.identify import identify_architecture
from camjax.models.layers import make_divisible
from camjax.models.torchvision_names import densenet_path, mobilenet_v2_path, resnet_path

from .test_zoo import abstract

# torchvision's documented num_params (ImageNet, 1000 classes, fc/classifier bias included)
PUBLISHED = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
             "resnet101": 44_549_160, "resnet152": 60_192_808, "densenet121": 7_978_856,
             "densenet161": 28_681_000, "mobilenet_v2": 3_504_872}
# name: (channels of the CAM features, their h x w at 224, at 200 x 168 (h x w))
FEATURES = {"resnet18": (512, (7, 7), (7, 6)), "resnet34": (512, (7, 7), (7, 6)),
            "resnet50": (2048, (7, 7), (7, 6)), "resnet101": (2048, (7, 7), (7, 6)),
            "resnet152": (2048, (7, 7), (7, 6)), "densenet121": (1024, (7, 7), (6, 5)),
            "densenet161": (2208, (7, 7), (6, 5)), "mobilenet_v2": (1280, (7, 7), (7, 6))}


@functools.lru_cache(maxsize=None)
def classifier(name):
    """Abstract (shapes only), built once per test process: the deep ones take seconds."""
    return abstract(name)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_parameter_count_is_torchvisions(name):
    assert parameter_count(classifier(name)) == PUBLISHED[name]


@pytest.mark.parametrize("name", list(FEATURES))
def test_features_and_class_weights(name):
    model = classifier(name)
    model.eval()  # tracing BatchNorm's statistics updates (train mode) takes seconds
    channels, at_224, at_200x168 = FEATURES[name]
    for (h, w), out in [((224, 224), at_224), ((200, 168), at_200x168)]:
        images = jax.ShapeDtypeStruct((2, h, w, 3), jnp.float32)
        logits, features = nnx.eval_shape(lambda m, x: m(x), model, images)
        assert (logits.shape, features.shape) == ((2, 1000), (2, *out, channels))
    assert model.head.classifier.kernel.shape == (channels, 1000)  # what class_weights gives
    assert model.head.classifier.bias.shape == (1000,)  # torchvision's fc keeps its bias


def test_registry_has_the_classifiers_and_the_paper_networks():
    assert set(PUBLISHED) | {"resnet50_gap", "vgg16_gap", "googlenet_gap"} <= set(
        camjax.models.available())


def test_resnet50_gap_keeps_its_bias_free_head():
    gap = abstract("resnet50_gap")
    assert gap.head.classifier.bias is None
    assert parameter_count(gap) == PUBLISHED["resnet50"] - 1000  # the same, less fc.bias


def test_gmp_is_supported_with_the_same_parameters():
    gap, gmp = abstract("resnet18"), abstract("resnet18", "gmp")
    assert gmp.head.pooling == "gmp"
    shapes = [jax.tree.map(lambda v: v.shape, nnx.state(m, nnx.Param)) for m in (gap, gmp)]
    assert shapes[0] == shapes[1]


@pytest.mark.parametrize("value, expected", [
    (32, 32), (1280, 1280), (16, 16), (24, 24),
    (20, 24),  # to the nearest multiple of 8 (halves round up)
    (12, 16),
    (10, 16),  # 8 would be more than 10% below 10
    (3, 8),    # at least the divisor
])
def test_make_divisible(value, expected):
    assert make_divisible(value) == expected


@pytest.mark.parametrize("fn, name, path", [
    (resnet_path, "fc.weight", ("head", "classifier", "kernel")),
    (resnet_path, "fc.bias", ("head", "classifier", "bias")),
    (resnet_path, "layer1.1.bn2.running_var", ("layer1", 1, "bn2", "var")),
    (densenet_path, "features.conv0.weight", ("conv0", "kernel")),
    (densenet_path, "features.norm5.running_mean", ("norm5", "mean")),
    (densenet_path, "features.denseblock3.denselayer24.conv2.weight",
     ("denseblock3", 23, "conv2", "kernel")),
    (densenet_path, "features.denseblock1.denselayer1.norm.1.weight",  # the download's names
     ("denseblock1", 0, "norm1", "scale")),
    (densenet_path, "features.transition2.norm.bias", ("transition2", "norm", "bias")),
    (densenet_path, "classifier.bias", ("head", "classifier", "bias")),
    (densenet_path, "features.norm5.num_batches_tracked", None),
    (mobilenet_v2_path, "features.0.0.weight", ("features", 0, "conv", "kernel")),
    (mobilenet_v2_path, "features.18.1.running_mean", ("features", 18, "bn", "mean")),
    (mobilenet_v2_path, "features.1.conv.0.1.weight", ("features", 1, "conv", 0, "bn", "scale")),
    (mobilenet_v2_path, "features.1.conv.1.weight", ("features", 1, "conv", 1, "kernel")),
    (mobilenet_v2_path, "features.1.conv.2.bias", ("features", 1, "conv", 2, "bias")),
    (mobilenet_v2_path, "features.5.conv.1.0.weight",
     ("features", 5, "conv", 1, "conv", "kernel")),
    (mobilenet_v2_path, "features.5.conv.2.weight", ("features", 5, "conv", 2, "kernel")),
    (mobilenet_v2_path, "features.5.conv.3.running_var", ("features", 5, "conv", 3, "var")),
    (mobilenet_v2_path, "classifier.1.weight", ("head", "classifier", "kernel")),
])
def test_classifier_name_maps(fn, name, path):
    assert fn(name) == path


@pytest.mark.parametrize("fn, name", [
    (resnet_path, "fc.running_mean"),
    (densenet_path, "features.denseblock1.denselayer1.norm3.weight"),
    (densenet_path, "features.conv0.bias"),
    (mobilenet_v2_path, "features.5.conv.1.weight"),   # a ConvBNReLU6, not a bare conv
    (mobilenet_v2_path, "features.1.conv.3.weight"),   # t = 1: the block ends at conv.2
    (mobilenet_v2_path, "classifier.0.weight"),        # the dropout
])
def test_classifier_name_maps_reject_unknown_names(fn, name):
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        fn(name)


# --- whole state dicts, written by hand from torchvision's layout (numpy, no torch) ------

RESNET_BLOCKS = {18: (False, (2, 2, 2, 2)), 34: (False, (3, 4, 6, 3)),
                 50: (True, (3, 4, 6, 3)), 101: (True, (3, 4, 23, 3)),
                 152: (True, (3, 8, 36, 3))}


def resnet_shapes(depth, num_classes=1000):
    """torchvision ``resnet{depth}``'s state-dict names and shapes, by its construction."""
    bottleneck, counts = RESNET_BLOCKS[depth]
    shapes = {"conv1.weight": (64, 3, 7, 7)}

    def bn(prefix, n):
        shapes.update({f"{prefix}.{leaf}": (n,) for leaf in
                       ("weight", "bias", "running_mean", "running_var")})
        shapes[f"{prefix}.num_batches_tracked"] = ()

    bn("bn1", 64)
    cin = 64
    for i, (planes, n) in enumerate(zip((64, 128, 256, 512), counts), start=1):
        cout = planes * (4 if bottleneck else 1)
        for b in range(n):
            p = f"layer{i}.{b}"
            convs = ([(cin, planes, 1), (planes, planes, 3), (planes, cout, 1)] if bottleneck
                     else [(cin, planes, 3), (planes, planes, 3)])
            for j, (ci, co, k) in enumerate(convs, start=1):
                shapes[f"{p}.conv{j}.weight"] = (co, ci, k, k)
                bn(f"{p}.bn{j}", co)
            if b == 0 and (i > 1 or cin != cout):
                shapes[f"{p}.downsample.0.weight"] = (cout, cin, 1, 1)
                bn(f"{p}.downsample.1", cout)
            cin = cout
    shapes.update({"fc.weight": (num_classes, cin), "fc.bias": (num_classes,)})
    return shapes


def resnet_state_dict(depth, num_classes=1000, seed=0, batches_tracked=True):
    rng = np.random.default_rng(seed)
    return {k: (np.array(7, np.int64) if k.endswith("num_batches_tracked")
                else rng.normal(size=s).astype(np.float32))
            for k, s in resnet_shapes(depth, num_classes).items()
            if batches_tracked or not k.endswith("num_batches_tracked")}


def test_hand_written_layout_has_torchvisions_parameter_count():
    # an independent check of resnet_shapes itself
    for depth, name in [(18, "resnet18"), (50, "resnet50")]:
        shapes = resnet_shapes(depth)
        total = sum(int(np.prod(s)) for k, s in shapes.items()
                    if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
        assert total == PUBLISHED[name]


@pytest.mark.parametrize("batches_tracked", [True, False], ids=["torchvision", "timm"])
def test_resnet18_loads_whole_classifier_included(batches_tracked):
    # timm's ResNet checkpoints use torchvision's names; its hub files may lack the
    # num_batches_tracked buffers that torchvision's have
    state = resnet_state_dict(18, batches_tracked=batches_tracked)
    model = abstract("resnet18")
    report = load_pretrained(model, state)
    assert report.classifier_loaded and report.new == []
    assert {"fc.weight", "fc.bias"} <= set(report.loaded)
    assert sorted(report.skipped) == sorted(k for k in state if k.endswith("tracked"))
    np.testing.assert_array_equal(class_weights(model), state["fc.weight"].T)
    np.testing.assert_array_equal(model.head.classifier.bias[...], state["fc.bias"])
    np.testing.assert_array_equal(model.layer3[1].bn2.var[...], state["layer3.1.bn2.running_var"])
    np.testing.assert_array_equal(model.layer2[0].downsample[0].kernel[...],
                                  state["layer2.0.downsample.0.weight"].transpose(2, 3, 1, 0))


def test_another_datasets_classifier_stays_fresh_and_is_reported():
    model = abstract("resnet18", num_classes=10)
    report = load_pretrained(model, resnet_state_dict(18))
    assert not report.classifier_loaded
    assert sorted(report.skipped) == sorted(
        ["fc.bias", "fc.weight"] + [k for k in resnet_shapes(18) if k.endswith("tracked")])
    assert sorted(report.new) == ["head.classifier.bias", "head.classifier.kernel"]


def test_resnet50_gap_fills_its_backbone_only():
    state = resnet_state_dict(50)
    report = load_pretrained(abstract("resnet50_gap"), state)
    assert not report.classifier_loaded and report.new == ["head.classifier.kernel"]
    assert {"fc.weight", "fc.bias"} <= set(report.skipped)
    assert load_pretrained(abstract("resnet50"), state).classifier_loaded


def test_resnet18_file_into_resnet50_names_parameter_shapes_and_architecture():
    with pytest.raises(ValueError) as info:
        load_pretrained(abstract("resnet50"), resnet_state_dict(18))
    message = str(info.value)
    assert message.startswith("'layer1.0.conv1.weight': shape (64, 64, 3, 3) in the file")
    assert "expects (64, 64, 1, 1)" in message and "(1, 1, 64, 64)" in message
    assert message.endswith("the file looks like resnet18")


@pytest.mark.parametrize("depth, into, first", [
    (50, "resnet101", "no weights for 'layer3.6.bn1.bias'"),
    (101, "resnet50", "'layer3.6.conv1.weight' maps to 'layer3.6.conv1.kernel', which"),
])
def test_missing_and_extra_blocks_name_the_architecture(depth, into, first):
    with pytest.raises(ValueError, match=rf"{first}.*looks like resnet{depth}$"):
        load_pretrained(abstract(into), resnet_state_dict(depth))


def zeros(shape):
    return np.broadcast_to(np.float32(0), shape)  # a shape without memory


def densenet_names(growth, blocks, legacy=False):
    state = {"features.conv0.weight": zeros((2 * growth, 3, 7, 7))}
    for b, layers in enumerate(blocks, start=1):
        for j in range(1, layers + 1):
            conv2 = "conv.2" if legacy else "conv2"
            state[f"features.denseblock{b}.denselayer{j}.{conv2}.weight"] = zeros(
                (growth, 4 * growth, 3, 3))
    return state


@pytest.mark.parametrize("state, expected", [
    ({k: zeros(s) for k, s in resnet_shapes(d).items()}, f"resnet{d}")
    for d in RESNET_BLOCKS] + [
    (densenet_names(32, (6, 12, 24, 16)), "densenet121"),
    (densenet_names(48, (6, 12, 36, 24), legacy=True), "densenet161"),
    (densenet_names(32, (6, 12, 32, 32)), "densenet169"),
    ({"features.1.conv.0.0.weight": zeros((32, 1, 3, 3)),
      "features.18.0.weight": zeros((1280, 320, 1, 1))}, "mobilenet_v2"),
    ({"inception3a.branch1.conv.weight": zeros((64, 192, 1, 1))}, "googlenet"),
    ({"features.0.weight": zeros((64, 3, 11, 11))}, "alexnet"),
    ({f"features.{i}.weight": zeros((64, 3, 3, 3)) for i in range(13)}, "vgg16"),
    ({"conv1.0.weight": zeros((32, 3, 3, 3))}, "a timm ResNet with a deep stem"),
    ({"blocks.0.weight": zeros((1,))}, None),
])
def test_identify_architecture(state, expected):
    guess = identify_architecture(state)
    assert guess == expected or (expected is not None and guess.startswith(expected))
