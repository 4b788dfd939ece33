"""Which torchvision (or timm) network a state dict holds, from its names and shapes alone.

Used in ``load_pretrained``'s errors: "the file looks like resnet18" tells a user that the
file and ``--model`` disagree, and which one to use.
"""
from __future__ import annotations

import re
from typing import Mapping

import numpy as np

# blocks per layer -> depth, for torchvision's BasicBlock and Bottleneck ResNets
_RESNET_BASIC = {(2, 2, 2, 2): "resnet18", (3, 4, 6, 3): "resnet34"}
_RESNET_BOTTLENECK = {(3, 4, 6, 3): "resnet50", (3, 4, 23, 3): "resnet101",
                      (3, 8, 36, 3): "resnet152"}
# (growth rate, layers per block) -> name
_DENSENETS = {(32, (6, 12, 24, 16)): "densenet121", (48, (6, 12, 36, 24)): "densenet161",
              (32, (6, 12, 32, 32)): "densenet169", (32, (6, 12, 48, 32)): "densenet201"}
# number of 3x3 convs in ``features`` -> name
_VGGS = {8: "vgg11", 10: "vgg13", 13: "vgg16", 16: "vgg19"}
# ShuffleNet V2: stage2's width -> name
_SHUFFLENETS = {48: "shufflenet_v2_x0_5", 116: "shufflenet_v2_x1_0", 176: "shufflenet_v2_x1_5",
                244: "shufflenet_v2_x2_0"}
# SqueezeNet: the first conv's (out, in, kh, kw) -> name
_SQUEEZENETS = {(96, 3, 7, 7): "squeezenet1_0", (64, 3, 3, 3): "squeezenet1_1"}
# ConvNeXt: (stem width, blocks in the third stage) -> name
_CONVNEXTS = {(96, 9): "convnext_tiny", (96, 27): "convnext_small", (128, 27): "convnext_base",
              (192, 27): "convnext_large"}


def _indices(names, pattern: str) -> set[int]:
    """The distinct integers that ``pattern``'s first group matches at the start of names."""
    return {int(m[1]) for n in names if (m := re.match(pattern, n))}


def _shape(state: Mapping, name: str) -> tuple:
    return tuple(np.shape(state[name])) if name in state else ()


def _resnet(state: Mapping) -> str:
    blocks = tuple(len(_indices(state, rf"layer{i}\.(\d+)\.")) for i in range(1, 5))
    bottleneck = "layer1.0.conv3.weight" in state
    name = (_RESNET_BOTTLENECK if bottleneck else _RESNET_BASIC).get(blocks)
    width = _shape(state, "layer1.0.conv1.weight")[:1]
    if name and (not bottleneck or width == (64,)):
        return name
    kind = "bottleneck" if bottleneck else "basic"
    return (f"a ResNet with {kind} blocks {blocks} and layer1 width {width[0] if width else '?'}"
            " (a ResNeXt or wide ResNet?), which camjax does not build")


def _densenet(state: Mapping) -> str:
    blocks = tuple(len(_indices(state, rf"features\.denseblock{i}\.denselayer(\d+)\."))
                   for i in range(1, 5))
    conv2 = [v for k, v in state.items()
             if re.fullmatch(r"features\.denseblock1\.denselayer1\.conv\.?2\.weight", k)]
    growth = int(np.shape(conv2[0])[0]) if conv2 else 0
    return _DENSENETS.get((growth, blocks),
                          f"a DenseNet with growth {growth} and blocks {blocks}")


def _shufflenet(state: Mapping) -> str:
    width = 2 * _shape(state, "stage2.0.branch2.0.weight")[0]  # two branches of half width
    return _SHUFFLENETS.get(width, f"a ShuffleNet V2 with stage2 width {width}")


def _convnext(state: Mapping) -> str:
    key = (_shape(state, "features.0.0.weight")[0],
           len(_indices(state, r"features\.5\.(\d+)\.layer_scale")))
    return _CONVNEXTS.get(key, f"a ConvNeXt with stem width {key[0]} and {key[1]} blocks in "
                               "its third stage")


def _family(state: Mapping) -> str | None:
    """The families identified by a name only they have (before the generic checks below,
    which some of their names would also match)."""
    if "Mixed_5b.branch1x1.conv.weight" in state:
        return "inception_v3"
    if "stage2.0.branch2.0.weight" in state:
        return _shufflenet(state)
    if "features.3.squeeze.weight" in state:
        shape = _shape(state, "features.0.weight")
        return _SQUEEZENETS.get(shape, f"a SqueezeNet with first conv {shape}")
    if "features.1.0.layer_scale" in state:
        return _convnext(state)
    return None


def identify_architecture(state: Mapping[str, object]) -> str | None:
    """``"resnet18"``, ``"densenet121"``, ``"mobilenet_v2"``, ... or a short description;
    ``None`` when the names match no family camjax knows."""
    names = list(state)
    if family := _family(state):
        return family
    if "conv1.0.weight" in state:
        return "a timm ResNet with a deep stem (resnet*c/d), which camjax does not build"
    if "layer1.0.conv1.weight" in state:
        return _resnet(state)
    if any(n.startswith("features.denseblock") for n in names):
        return _densenet(state)
    if "features.1.conv.0.0.weight" in state:
        last = max(_indices(names, r"features\.(\d+)\."))
        return "mobilenet_v2" if last == 18 else f"a MobileNetV2 with {last + 1} feature layers"
    if any(re.match(r"features\.\d+\.block\.", n) for n in names):
        return "a MobileNetV3 or EfficientNet, which camjax does not build"
    if "inception3a.branch1.conv.weight" in state:
        return "googlenet"
    if _shape(state, "features.0.weight")[1:] == (3, 11, 11):
        return "alexnet"
    if _shape(state, "features.0.weight")[1:] == (3, 3, 3):
        convs = [n for n in names if re.fullmatch(r"features\.\d+\.weight", n)
                 and len(_shape(state, n)) == 4]
        batch_norm = any(re.fullmatch(r"features\.\d+\.running_mean", n) for n in names)
        name = _VGGS.get(len(convs), f"a VGG with {len(convs)} convs")
        return name + "_bn" if batch_norm and name in _VGGS.values() else name
    return None


def looks_like(state: Mapping[str, object]) -> str:
    """The clause that errors end with."""
    guess = identify_architecture(state)
    if guess is None:
        return "the file matches none of the torchvision networks camjax knows"
    return f"the file looks like {guess}"
