"""torchvision parameter names -> paths in camjax's NNX state, one explicit map per network.

A map returns the path (``("layer1", 0, "conv2", "kernel")``), ``None`` for a name that is
deliberately not loaded (``num_batches_tracked``; the classifier of a paper network), or
raises ``ValueError`` for a name the torchvision network does not have. Leaves: conv
``weight`` -> ``kernel``; BatchNorm ``weight/bias/running_mean/running_var`` ->
``scale/bias/mean/var``; linear ``weight/bias`` -> ``kernel/bias`` under ``head.classifier``.
timm's ResNets use torchvision's names, so ``resnet_path`` reads them too.
"""
from __future__ import annotations

import re

from camjax.models.mobilenet import INVERTED_RESIDUALS

Path = tuple  # a path in the NNX state, e.g. ("features", 0, "kernel")

_CONV = {"weight": "kernel", "bias": "bias"}
_CONV_NO_BIAS = {"weight": "kernel"}  # ResNet, DenseNet, MobileNetV2: BN follows every conv
_BN = {"weight": "scale", "bias": "bias", "running_mean": "mean", "running_var": "var"}
HEAD = ("head", "classifier")

ALEXNET_CONV_INDICES = (0, 3, 6, 8, 10)  # torchvision alexnet.features index of conv1..conv5
VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)  # conv1_1 .. conv5_3
# MobileNetV2 blocks without the 1x1 expansion (t = 1): their projection conv is conv.1
_MOBILENET_T1_BLOCKS = frozenset(
    1 + sum(n for _, _, n, _ in INVERTED_RESIDUALS[:row]) + i
    for row, (t, _, n, _) in enumerate(INVERTED_RESIDUALS) if t == 1 for i in range(n))


def _unknown(arch: str, name: str) -> ValueError:
    return ValueError(f"{name!r} is not a parameter of torchvision's {arch}")


def _leaf(table: dict, arch: str, name: str, leaf: str) -> str:
    if leaf not in table:
        raise _unknown(arch, name)
    return table[leaf]


def _classifier(name: str, arch: str, prefix: str, load: bool) -> Path | None:
    leaf = name[len(prefix):]
    return HEAD + (_leaf(_CONV, arch, name, leaf),) if load else None


def _features_path(arch: str, name: str, conv_indices) -> Path | None:
    """``features.<i>.<leaf>`` of a torchvision plain-conv stack -> ``features[k]``, k the
    position of i among the conv layers; the torch classifier is not loaded."""
    if name.startswith("classifier."):
        return None
    m = re.fullmatch(r"features\.(\d+)\.(\w+)", name)
    if not m or int(m[1]) not in conv_indices:
        raise _unknown(arch, name)
    return ("features", conv_indices.index(int(m[1])), _leaf(_CONV, arch, name, m[2]))


def alexnet_path(name: str) -> Path | None:
    """torchvision ``alexnet``: ``features.{0,3,6,8,10}`` -> ``features[0..4]``."""
    return _features_path("alexnet", name, ALEXNET_CONV_INDICES)


def vgg16_path(name: str) -> Path | None:
    """torchvision ``vgg16``: ``features.{0,2,...,28}`` -> ``features[0..12]``."""
    return _features_path("vgg16", name, VGG16_CONV_INDICES)


def googlenet_path(name: str) -> Path | None:
    """torchvision ``googlenet``; inception5*, aux1/aux2 and fc lie beyond inception4e.

    torch's ``branch4`` is (max pool, BasicConv2d): ``branch4.1`` -> camjax ``branch4``.
    """
    if re.match(r"(inception5[ab]|aux[12]|fc)\.", name) or name.endswith(".num_batches_tracked"):
        return None
    if m := re.fullmatch(r"(conv[123])\.(conv|bn)\.(\w+)", name):
        block, kind, leaf = m.groups()
        path: tuple = (block,)
    elif m := re.fullmatch(r"(inception(?:3[ab]|4[a-e]))\.(branch1|branch[23]\.[01]|branch4\.1)"
                           r"\.(conv|bn)\.(\w+)", name):
        block, branch, kind, leaf = m.groups()
        branch, _, index = branch.partition(".")
        path = (block, branch) if branch in ("branch1", "branch4") else (block, branch, int(index))
    else:
        raise _unknown("googlenet", name)
    return path + (kind, _leaf(_CONV if kind == "conv" else _BN, "googlenet", name, leaf))


def resnet_path(name: str, arch: str = "resnet50", classifier: bool = True) -> Path | None:
    """torchvision's (and timm's) ``resnet18`` ... ``resnet152``: names map one to one;
    ``fc`` -> ``head.classifier`` when ``classifier``, else skipped."""
    if name.endswith(".num_batches_tracked"):
        return None
    if name.startswith("fc."):
        return _classifier(name, arch, "fc.", classifier)
    if m := re.fullmatch(r"(conv1|bn1)\.(\w+)", name):
        module, leaf = m.groups()
        path: tuple = (module,)
        is_bn = module == "bn1"
    elif m := re.fullmatch(r"(layer[1-4])\.(\d+)\.(conv[123]|bn[123])\.(\w+)", name):
        layer, block, module, leaf = m.groups()
        path, is_bn = (layer, int(block), module), module.startswith("bn")
    elif m := re.fullmatch(r"(layer[1-4])\.(\d+)\.downsample\.([01])\.(\w+)", name):
        layer, block, index, leaf = m.groups()
        path, is_bn = (layer, int(block), "downsample", int(index)), index == "1"
    else:
        raise _unknown(arch, name)
    return path + (_leaf(_BN if is_bn else _CONV_NO_BIAS, arch, name, leaf),)


def resnet50_path(name: str) -> Path | None:
    """``resnet50_gap``'s backbone: torchvision ``resnet50`` without its ``fc``."""
    return resnet_path(name, "resnet50", classifier=False)


def densenet_path(name: str, arch: str = "densenet121", classifier: bool = True) -> Path | None:
    """torchvision ``densenet121``/``densenet161``: ``features.`` is dropped,
    ``denselayer{n}`` -> index n - 1. The names of torchvision's own download files
    (``denselayer1.norm.1``, which torchvision renames when it loads them) are read too."""
    if name.endswith(".num_batches_tracked"):
        return None
    if name.startswith("classifier."):
        return _classifier(name, arch, "classifier.", classifier)
    if m := re.fullmatch(r"features\.(conv0|norm0|norm5)\.(\w+)", name):
        module, leaf = m.groups()
        path: tuple = (module,)
    elif m := re.fullmatch(r"features\.denseblock(\d)\.denselayer(\d+)\.(norm|conv)\.?([12])"
                           r"\.(\w+)", name):
        block, layer, kind, number, leaf = m.groups()
        module = kind + number
        path = (f"denseblock{block}", int(layer) - 1, module)
    elif m := re.fullmatch(r"features\.(transition\d)\.(norm|conv)\.(\w+)", name):
        transition, module, leaf = m.groups()
        path = (transition, module)
    else:
        raise _unknown(arch, name)
    table = _CONV_NO_BIAS if module.startswith("conv") else _BN
    return path + (_leaf(table, arch, name, leaf),)


def mobilenet_v2_path(name: str, arch: str = "mobilenet_v2",
                      classifier: bool = True) -> Path | None:
    """torchvision ``mobilenet_v2``: ``features.i`` -> ``features[i]``; a ConvBNReLU6's ``.0``
    / ``.1`` -> ``conv`` / ``bn``; an inverted residual's bare ``conv.j`` is its projection
    conv (j = 2, or 1 without expansion) or the BatchNorm after it; ``classifier.1`` (after
    the dropout) -> ``head.classifier``."""
    if name.endswith(".num_batches_tracked"):
        return None
    if name.startswith("classifier.1."):
        return _classifier(name, arch, "classifier.1.", classifier)
    if m := re.fullmatch(r"features\.(\d+)\.(?:conv\.(\d+)\.)?([01])\.(\w+)", name):
        block, sub, index, leaf = m.groups()  # a ConvBNReLU6: the stem, the last, or in a block
        kind = "conv" if index == "0" else "bn"
        path: tuple = ("features", int(block)) + (("conv", int(sub)) if sub else ()) + (kind,)
    elif m := re.fullmatch(r"features\.(\d+)\.conv\.(\d+)\.(\w+)", name):
        block, index, leaf = int(m[1]), int(m[2]), m[3]
        projection = 1 if block in _MOBILENET_T1_BLOCKS else 2
        if index not in (projection, projection + 1):
            raise _unknown(arch, name)
        kind = "conv" if index == projection else "bn"
        path = ("features", block, "conv", index)
    else:
        raise _unknown(arch, name)
    return path + (_leaf(_CONV_NO_BIAS if kind == "conv" else _BN, arch, name, leaf),)
