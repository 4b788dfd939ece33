"""Load a torchvision (or timm ResNet) state dict into a camjax network.

``load_pretrained(model, path)`` reads ``.safetensors`` (numpy API, no torch needed) or
``.pth`` (needs torch) holding a torchvision-format state dict (``features.0.weight``,
``layer1.0.downsample.1.running_var``, ``fc.bias``, ...). Each architecture has an explicit
name map, torch name -> path in the NNX state (:mod:`camjax.models.torchvision_names`).
Conversions: conv weight OIHW -> HWIO, linear weight (out, in) -> (in, out); BatchNorm
weight/bias/running_mean/running_var -> scale/bias/mean/var; ``num_batches_tracked`` is
skipped. Nothing is downloaded.

The classifiers as they are (``resnet18`` ... ``resnet152``, ``densenet121``, ``densenet161``,
``mobilenet_v2``, and every network built with torch's names, :class:`TorchLayout`) are
filled whole, classifier included, when the classifier's shape matches; when only its number
of classes differs (fine-tuning on another dataset) it keeps its fresh initialisation, as does
an auxiliary classifier (``aux_classifier_paths``: Inception v3's ``AuxLogits.fc``), and the
report says so. The paper's networks (``*_gap``) are filled up to
their backbone: layers torchvision does not have (the CAM conv, AlexNet*'s extra convs, the
dense layer) keep their fresh initialisation and are reported as ``new``.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Callable, Mapping

import jax.numpy as jnp
import numpy as np
from flax import nnx

from camjax.models import weights_file
from camjax.models.alexnet import AlexNetGAP
from camjax.models.densenet import DenseNet
from camjax.models.googlenet import GoogLeNetGAP
from camjax.models.identify import looks_like
from camjax.models.mobilenet import MobileNetV2
from camjax.models.resnet import ResNet, ResNet50GAP
# TorchLayout lives beside the networks that use it (they cannot import this module, which
# imports them); re-exported here, where it was first defined
from camjax.models.torch_layout import (TorchLayout, convert, mirror_path,  # noqa: F401
                                        variable_paths)
from camjax.models.torchvision_names import (HEAD, Path, alexnet_path, densenet_path,  # noqa: F401
                                             googlenet_path, mobilenet_v2_path, resnet50_path,
                                             resnet_path, vgg16_path)
from camjax.models.vgg import VGG16GAP

NameMap = Callable[[str], "Path | None"]


@dataclass
class LoadReport:
    """What ``load_pretrained`` did: torch names loaded and skipped, NNX paths left new, and
    whether the classifier (the dense layer after pooling) came from the file."""
    loaded: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    classifier_loaded: bool = False


# paper network -> (torchvision architecture, name map, top-level attributes left new)
ARCHITECTURES: dict[type, tuple[str, NameMap, tuple[str, ...]]] = {
    AlexNetGAP: ("alexnet", alexnet_path, ("extra", "cam_conv", "head")),
    VGG16GAP: ("vgg16", vgg16_path, ("cam_conv", "head")),
    GoogLeNetGAP: ("googlenet", googlenet_path, ("cam_conv", "head")),
    ResNet50GAP: ("resnet50", resnet50_path, ("head",)),
}
# torchvision classifier -> name map taking (name, arch); ``model.arch`` names the network
CLASSIFIERS: dict[type, Callable[..., "Path | None"]] = {
    ResNet: resnet_path, DenseNet: densenet_path, MobileNetV2: mobilenet_v2_path}


def _architecture(model: nnx.Module) -> tuple[str, NameMap, tuple[str, ...]]:
    # a network that carries its own name map (every network added after the first eight:
    # see TorchLayout below) needs no entry here
    if callable(getattr(model, "torch_path", None)):
        to_path = functools.partial(model.torch_path, paths=variable_paths(model))
        return model.arch, to_path, tuple(getattr(model, "torch_new", ()))
    for cls, (arch, name_map, new) in ARCHITECTURES.items():
        if isinstance(model, cls):   # with the modules a WSOL method adds (models.wsol)
            return arch, name_map, (*new, *getattr(model, "WSOL_MODULES", ()))
    for cls, name_map in CLASSIFIERS.items():
        if isinstance(model, cls) and getattr(model, "torchvision_head", False):
            return model.arch, functools.partial(name_map, arch=model.arch), ()
    supported = ", ".join(c.__name__ for c in (*ARCHITECTURES, *CLASSIFIERS))
    raise ValueError(f"no torchvision weights for {type(model).__name__}; "
                     f"supported: {supported}")


def torch_shape(flax_shape: tuple) -> tuple:
    """The inverse of ``convert`` on shapes: HWIO -> OIHW, (in, out) -> (out, in)."""
    if len(flax_shape) == 4:
        h, w, i, o = flax_shape
        return (o, i, h, w)
    return tuple(reversed(flax_shape)) if len(flax_shape) == 2 else tuple(flax_shape)


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
            # a training checkpoint: {"state_dict": ...}, or {"model": ...} (DeiT's releases)
            for key in ("state_dict", "model"):
                state = state.get(key, state) if isinstance(state, dict) else state
            return {k: v.detach().float().numpy() if v.is_floating_point() else v.numpy()
                    for k, v in state.items()}
        except Exception as err:   # not a pickle, not a dict of tensors
            raise weights_file.unreadable(path, err) from err
    raise weights_file.WeightsFileError(f"{path!r}: expected a .safetensors or .pth file")


def _dotted(path: Path) -> str:
    return ".".join(str(k) for k in path)


def _head(model: nnx.Module) -> Path:
    """The path prefix of the classifier (the dense layer after pooling) in the NNX state."""
    return tuple(getattr(model, "classifier_path", HEAD))


def _class_layers(model: nnx.Module) -> tuple[Path, ...]:
    """The classifier and any auxiliary one (``aux_classifier_paths``, Inception v3's
    ``AuxLogits.fc``): the layers whose width is the number of classes."""
    return (_head(model), *(tuple(p) for p in getattr(model, "aux_classifier_paths", ())))


def _only_classes_differ(path: Path, value_shape: tuple, target_shape: tuple,
                         head: Path = HEAD) -> bool:
    """A classifier whose input width matches but whose number of classes does not."""
    if path[:len(head)] != head or len(value_shape) != len(target_shape):
        return False
    return value_shape[:-1] == target_shape[:-1] and value_shape[-1] != target_shape[-1]


def load_pretrained(model: nnx.Module,
                    weights: str | os.PathLike | Mapping[str, np.ndarray]) -> LoadReport:
    """Fill ``model``, in place, from a torchvision state dict (timm's ResNets too).

    ``weights`` is a ``.safetensors``/``.pth`` path or a mapping of torch names to arrays.
    Raises ``ValueError`` naming the first parameter whose name or shape does not match, or
    the first parameter the state dict lacks, with the shapes and the architecture the file
    looks like; nothing is changed then.
    """
    arch, to_path, new_prefixes = _architecture(model)
    head, class_layers = _head(model), _class_layers(model)
    from_torch = getattr(model, "from_torch", None)
    from_torch = from_torch if callable(from_torch) else (lambda _name, array: convert(array))
    state = dict(weights) if isinstance(weights, Mapping) else read_state_dict(weights)
    weights_file.warn_non_finite(state, "state dict" if isinstance(weights, Mapping) else weights)
    if state and all(k.startswith("module.") for k in state):  # saved from DataParallel
        state = {k[len("module."):]: v for k, v in state.items()}
    variables = dict(nnx.to_flat_state(nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat))))
    owner = f"{type(model).__name__} (torchvision {arch})"

    report, updates, filled, fresh = LoadReport(), [], set(), set()
    for name, array in state.items():
        try:
            path = to_path(name)
        except ValueError as err:
            raise ValueError(f"{err}; {looks_like(state)}") from None
        if path is None:
            report.skipped.append(name)
            continue
        if path not in variables:
            raise ValueError(f"{name!r} maps to {_dotted(path)!r}, which {owner} does not "
                             f"have; {looks_like(state)}")
        value, target = from_torch(name, array), variables[path]
        if value.shape != tuple(target.shape):
            layer = next((h for h in class_layers if _only_classes_differ(
                path, value.shape, tuple(target.shape), h)), None)
            if layer is not None:
                fresh.add(layer)  # another dataset's classes: keep the fresh classifier
                report.skipped.append(name)
                continue
            raise ValueError(f"{name!r}: shape {tuple(np.shape(array))} in the file, but {owner} "
                             f"expects {torch_shape(tuple(target.shape))} (flax "
                             f"{_dotted(path)!r} of shape {tuple(target.shape)}); "
                             f"{looks_like(state)}")
        updates.append((target, value))
        filled.add(path)
        report.loaded.append(name)
    for path in variables:
        if path in filled:
            continue
        if path[0] not in new_prefixes and not any(path[:len(h)] == h for h in fresh):
            raise ValueError(f"the state dict has no weights for {_dotted(path)!r}: not a "
                             f"complete torchvision {arch} state dict; {looks_like(state)}")
        report.new.append(_dotted(path))
    for target, value in updates:
        target.set_value(jnp.asarray(value, dtype=target.dtype))
    report.classifier_loaded = any(p[:len(head)] == head for p in filled)
    return report
