"""Fill a camjax backbone from a torchvision state dict (ImageNet weights).

``load_pretrained(model, path)`` reads ``.safetensors`` (numpy API, no torch needed) or
``.pth`` (needs torch) holding a torchvision-format state dict (``features.0.weight``,
``layer1.0.downsample.1.running_var``, ...). Each architecture has an explicit name map,
torch name -> path in the NNX state, below. Conversions: conv weight OIHW -> HWIO; linear
layers are never loaded (the torchvision classifier is skipped); BatchNorm
weight/bias/running_mean/running_var -> scale/bias/mean/var; ``num_batches_tracked`` is
skipped. Layers the torchvision network does not have (the CAM conv, AlexNet*'s extra
convs, the dense layer) keep their fresh initialisation and are reported as ``new``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

import jax.numpy as jnp
import numpy as np
from flax import nnx

from camjax.models import weights_file
from camjax.models.alexnet import AlexNetGAP
from camjax.models.googlenet import GoogLeNetGAP
from camjax.models.resnet import ResNet50GAP
from camjax.models.vgg import VGG16GAP

Path = tuple  # a path in the NNX state, e.g. ("features", 0, "kernel")

_CONV = {"weight": "kernel", "bias": "bias"}
_BN = {"weight": "scale", "bias": "bias", "running_mean": "mean", "running_var": "var"}

ALEXNET_CONV_INDICES = (0, 3, 6, 8, 10)  # torchvision alexnet.features index of conv1..conv5
VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)  # conv1_1 .. conv5_3


@dataclass
class LoadReport:
    """What ``load_pretrained`` did: torch names loaded and skipped, NNX paths left new."""
    loaded: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _unknown(arch: str, name: str) -> ValueError:
    return ValueError(f"{name!r} is not a parameter of torchvision's {arch}")


def _leaf(table: dict, arch: str, name: str, leaf: str) -> str:
    if leaf not in table:
        raise _unknown(arch, name)
    return table[leaf]


def alexnet_path(name: str) -> Path | None:
    """torchvision ``alexnet``: ``features.{0,3,6,8,10}`` -> ``features[0..4]``."""
    if name.startswith("classifier."):
        return None
    m = re.fullmatch(r"features\.(\d+)\.(\w+)", name)
    if not m or int(m[1]) not in ALEXNET_CONV_INDICES:
        raise _unknown("alexnet", name)
    return ("features", ALEXNET_CONV_INDICES.index(int(m[1])), _leaf(_CONV, "alexnet", name, m[2]))


def vgg16_path(name: str) -> Path | None:
    """torchvision ``vgg16``: ``features.{0,2,...,28}`` -> ``features[0..12]``."""
    if name.startswith("classifier."):
        return None
    m = re.fullmatch(r"features\.(\d+)\.(\w+)", name)
    if not m or int(m[1]) not in VGG16_CONV_INDICES:
        raise _unknown("vgg16", name)
    return ("features", VGG16_CONV_INDICES.index(int(m[1])), _leaf(_CONV, "vgg16", name, m[2]))


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


def resnet50_path(name: str) -> Path | None:
    """torchvision ``resnet50``: names map one to one; ``fc`` is skipped."""
    if name.startswith("fc.") or name.endswith(".num_batches_tracked"):
        return None
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
        raise _unknown("resnet50", name)
    if not is_bn and leaf != "weight":  # torchvision's ResNet convs have no bias
        raise _unknown("resnet50", name)
    return path + (_leaf(_BN if is_bn else _CONV, "resnet50", name, leaf),)


# camjax class -> (torchvision architecture, name map, top-level attributes left new)
ARCHITECTURES: dict[type, tuple[str, Callable[[str], Path | None], tuple[str, ...]]] = {
    AlexNetGAP: ("alexnet", alexnet_path, ("extra", "cam_conv", "head")),
    VGG16GAP: ("vgg16", vgg16_path, ("cam_conv", "head")),
    GoogLeNetGAP: ("googlenet", googlenet_path, ("cam_conv", "head")),
    ResNet50GAP: ("resnet50", resnet50_path, ("head",)),
}


def convert(array: np.ndarray) -> np.ndarray:
    """torch layout -> flax layout: conv OIHW -> HWIO; vectors unchanged."""
    array = np.asarray(array)
    return array.transpose(2, 3, 1, 0) if array.ndim == 4 else array


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A torchvision state dict from ``.safetensors`` (numpy) or ``.pth`` (needs torch)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no weights file at {path!r}")
    if path.endswith(".safetensors"):
        from safetensors.numpy import load_file
        try:
            return load_file(path)
        except Exception as err:   # SafetensorError, OSError: name the file
            raise weights_file.unreadable(path, err) from err
    if path.endswith((".pth", ".pt")):
        try:
            import torch
        except ImportError as err:
            raise weights_file.TorchMissingError(
                f"reading {path!r} needs PyTorch: install torch, or convert the file to "
                ".safetensors (safetensors.torch.save_file)") from err
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state) if isinstance(state, dict) else state
            return {k: v.detach().float().numpy() if v.is_floating_point() else v.numpy()
                    for k, v in state.items()}
        except Exception as err:   # not a pickle, not a dict of tensors
            raise weights_file.unreadable(path, err) from err
    raise weights_file.WeightsFileError(f"{path!r}: expected a .safetensors or .pth file")


def _dotted(path: Path) -> str:
    return ".".join(str(k) for k in path)


def load_pretrained(model: nnx.Module,
                    weights: str | os.PathLike | Mapping[str, np.ndarray]) -> LoadReport:
    """Fill ``model``'s backbone, in place, from a torchvision state dict.

    ``weights`` is a ``.safetensors``/``.pth`` path or a mapping of torch names to arrays.
    Raises ``ValueError`` naming the first parameter whose name or shape does not match,
    or the first backbone parameter the state dict lacks; nothing is changed then.
    """
    entry = next((v for k, v in ARCHITECTURES.items() if isinstance(model, k)), None)
    if entry is None:
        supported = ", ".join(c.__name__ for c in ARCHITECTURES)
        raise ValueError(f"no torchvision weights for {type(model).__name__}; "
                         f"supported: {supported}")
    arch, to_path, new_prefixes = entry
    state = dict(weights) if isinstance(weights, Mapping) else read_state_dict(weights)
    weights_file.warn_non_finite(state, "state dict" if isinstance(weights, Mapping) else weights)
    if state and all(k.startswith("module.") for k in state):  # saved from DataParallel
        state = {k[len("module."):]: v for k, v in state.items()}
    variables = dict(nnx.to_flat_state(nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat))))

    report, updates, filled = LoadReport(), [], set()
    for name, array in state.items():
        path = to_path(name)
        if path is None:
            report.skipped.append(name)
            continue
        if path not in variables:
            raise ValueError(f"{name!r} maps to {_dotted(path)!r}, which {type(model).__name__} "
                             f"does not have (is this a torchvision {arch} state dict?)")
        value, target = convert(array), variables[path]
        if value.shape != tuple(target.shape):
            raise ValueError(f"{name!r}: shape {tuple(np.shape(array))} (as flax "
                             f"{value.shape}) does not match {_dotted(path)!r} of shape "
                             f"{tuple(target.shape)}")
        updates.append((target, value))
        filled.add(path)
        report.loaded.append(name)
    for path in variables:
        if path in filled:
            continue
        if path[0] not in new_prefixes:
            raise ValueError(f"the state dict has no weights for {_dotted(path)!r}: "
                             f"not a complete torchvision {arch} state dict")
        report.new.append(_dotted(path))
    for target, value in updates:
        target.set_value(jnp.asarray(value, dtype=target.dtype))
    return report
