"""wsolevaluation's networks, layer by layer: camjax's vgg16_gap, resnet50_gap and
inception_v3_gap for CAM, ACoL and SPG against a PyTorch transcription of wsolevaluation's
code (``wsolevaluation_nets``, on the meta device): the parameter count of every
top-level module and the output shape of every stage at 224 px. Shapes only: the camjax
side runs under ``nnx.eval_shape`` / ``jax.eval_shape``, nothing is compiled."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from camjax import models

torch = pytest.importorskip("torch")
from tests.models import wsolevaluation_nets as ref  # noqa: E402

CLASSES = 200
# camjax's options that give wsolevaluation's network (its fc / SPG_A4 have a bias; its
# VGG conv6 has no groups and no dropout follows)
OPTIONS = {"vgg16": ("vgg16_gap", {"cam_groups": 1, "classifier_bias": True,
                                   "dropout_rate": 0.0}),
           "resnet50": ("resnet50_gap", {"classifier_bias": True}),
           "inception_v3": ("inception_v3_gap", {})}
# wsolevaluation top-level module -> camjax's (the rest have the same name)
RENAMES = {"conv6": "cam_conv", "fc": "head", "SPG_A_4": "head", "SPG_A4": "head",
           "SPG_A_1": "features", "SPG_A_2": "features", "SPG_A1": "layer3",
           "SPG_A2": "layer3"}
# the module whose output is camjax's ``features`` (the CAM layer), per (arch, method)
FEATURES = {("vgg16", "cam"): "conv6", ("resnet50", "cam"): "layer4",
            ("inception_v3", "cam"): "SPG_A3_2b", ("vgg16", "spg"): "SPG_A_3",
            ("resnet50", "spg"): "layer4", ("inception_v3", "spg"): "SPG_A3_2b"}
CASES = [(arch, method, res) for arch, res in (("vgg16", 14), ("resnet50", 28),
                                              ("inception_v3", 14))
         for method in ("cam", "acol", "spg")]
CASES += [("vgg16", "cam", 28), ("resnet50", "cam", 14)]


def camjax_net(arch, method, res):
    name, options = OPTIONS[arch]
    return models.create_abstract(name, num_classes=CLASSES, wsol_method=method,
                                  mapping_resolution=res, **options)


def camjax_counts(net) -> dict:
    counts = {}
    for path, value in nnx.to_flat_state(nnx.state(net, nnx.Param)):
        counts[str(path[0])] = counts.get(str(path[0]), 0) + value.size
    return counts


def camjax_shapes(net, size=224):
    graphdef, state = nnx.split(net)
    x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
    call = jax.eval_shape(lambda s, x: nnx.merge(graphdef, s)(x), state, x)
    train = jax.eval_shape(lambda s, x: nnx.merge(graphdef, s).wsol_outputs(
        x, jnp.zeros((1,), jnp.int32)), state, x)
    return call, train


def nhwc(shape):
    n, c, h, w = shape
    return (n, h, w, c)


@pytest.mark.parametrize("arch,method,res", CASES)
def test_layer_by_layer(arch, method, res):
    theirs = ref.build(arch, method, CLASSES, res)
    net = camjax_net(arch, method, res)
    expected = {}
    for name, count in ref.group_counts(theirs).items():
        key = RENAMES.get(name, name)
        expected[key] = expected.get(key, 0) + count
    assert camjax_counts(net) == expected
    assert models.parameter_count(net) == sum(p.numel() for p in theirs.parameters())

    (logits, features), train = camjax_shapes(net)
    assert logits.shape == (1, CLASSES)
    if method == "acol":           # features: the fused class maps, one per class
        got = ref.outputs(theirs, ["classifier_A", "classifier_B"])
        assert features.shape == nhwc(got["classifier_A"]) == nhwc(got["classifier_B"])
        assert train["maps_b"].shape == features.shape
        return
    got = ref.outputs(theirs, [FEATURES[(arch, method)]])
    assert features.shape == nhwc(got[FEATURES[(arch, method)]])
    assert features.shape[1] == res
    if method == "spg":            # the class map and the three foreground maps
        with torch.no_grad():
            class_maps, c, b1, b2 = theirs(torch.empty(1, 3, 224, 224, device="meta"))
        assert train["label_map"].shape == tuple(class_maps.shape[:1] + class_maps.shape[2:])
        for key, theirs_map in (("logits_b1", b1), ("logits_b2", b2), ("logits_c", c)):
            assert theirs_map.shape[1] == 1
            assert train[key].shape == (1, *theirs_map.shape[2:]), key


@pytest.mark.parametrize("arch,res", [("vgg16", 14), ("resnet50", 28)])
def test_adl_positions(arch, res, monkeypatch):
    """ADL layers where wsolevaluation puts them: the shapes they see, in order, match
    its network's (a recorder in place of ADL on both sides); ADL adds no parameter."""
    from camjax.models.wsol.adl import ADL
    seen = []
    monkeypatch.setattr(ADL, "__call__", lambda self, x: seen.append(x.shape) or x)
    net = camjax_net(arch, "adl", res)
    net.train()
    camjax_shapes(net)
    ref.ADLShape.seen = []
    ref.outputs(ref.build(arch, "adl", CLASSES, res), [])
    assert len(seen) == 3 * 2            # the call and the training forward
    assert seen[:3] == [nhwc(s) for s in ref.ADLShape.seen]
    assert camjax_counts(net) == camjax_counts(camjax_net(arch, "cam", res))


def torchvision_names(arch: str) -> dict:
    """torchvision's ImageNet state dict for ``arch`` (zero-stride arrays of its shapes):
    the transcription's backbone names (torchvision's), plus the classifier and, for
    InceptionV3, what lies beyond Mixed_6e."""
    import numpy as np
    zero = np.zeros((), np.float32)
    keep = {"vgg16": ("features",), "resnet50": ("conv1", "bn1", "layer", "fc"),
            "inception_v3": ("Conv2d_", "Mixed_")}[arch]
    state = {k: np.broadcast_to(zero, tuple(v.shape))
             for k, v in ref.build(arch, "cam", 1000, 14).state_dict().items()
             if k.startswith(keep)}
    extra = {"vgg16": {"classifier.0.weight": (4096, 25088), "classifier.6.bias": (1000,)},
             "inception_v3": {"Mixed_7a.branch3x3_1.conv.weight": (192, 768, 1, 1),
                              "AuxLogits.fc.weight": (1000, 768), "fc.weight": (1000, 2048)}}
    state.update({k: np.broadcast_to(zero, s) for k, s in extra.get(arch, {}).items()})
    return state


@pytest.mark.parametrize("arch,method", [("vgg16", m) for m in ("cam", "acol", "spg",
                                                                "fewshot")]
                         + [("resnet50", "spg"), ("inception_v3", "acol")])
def test_torchvision_weights_fill_every_methods_backbone(arch, method):
    """ImageNet weights load into each method's network: the backbone filled, exactly
    the method's own modules left new (shapes only)."""
    from camjax.models import load_pretrained
    report = load_pretrained(camjax_net(arch, method, 14), torchvision_names(arch))
    new = {n.split(".")[0] for n in report.new}
    added = {"cam": {"cam_conv", "head"}, "acol": {"classifier_A", "classifier_B"},
             "spg": {"SPG_B_1a", "SPG_B_2a", "SPG_B_shared", "SPG_C", "head"},
             "fewshot": {"cam_conv", "fewshot_classifier", "fewshot_foreground"}}[method]
    if arch == "vgg16" and method == "spg":
        added = added | {"SPG_A_3"}
    if arch == "resnet50":
        added = added - {"cam_conv"}
    assert new == added and report.loaded
