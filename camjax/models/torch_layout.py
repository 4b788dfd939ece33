"""A network that mirrors torch's module tree loads a torch state dict by one rule.

:class:`TorchLayout` (mixin) and :func:`mirror_path` map a torch parameter name to the NNX
path of the same module; :func:`convert` turns a torch array into flax's layout.
:func:`camjax.models.load_pretrained` uses them; networks import the mixin from here (this
module imports no network, so any network module may).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
from flax import nnx

from camjax.models.torchvision_names import HEAD, Path


def convert(array: np.ndarray) -> np.ndarray:
    """torch layout -> flax layout: conv OIHW -> HWIO, linear (out, in) -> (in, out);
    vectors unchanged."""
    array = np.asarray(array)
    if array.ndim == 4:
        return array.transpose(2, 3, 1, 0)
    return array.T if array.ndim == 2 else array


class TorchLayout:
    """Mixin for a network built with torchvision's (or timm's) module names exactly.

    Its NNX attribute path is the torch module path (``features.3.block.1.0`` ->
    ``features[3].block[1][0]``), so one rule maps every parameter
    (:func:`mirror_path`): ``weight`` -> ``kernel`` (conv, linear) or ``scale`` (norm
    layers), ``running_mean/var`` -> ``mean/var``, ``num_batches_tracked`` skipped, any
    other leaf (``class_token``, ``pos_embedding``, ``layer_scale``) kept by name. A class
    sets ``arch`` (torchvision's name), ``classifier_path`` (the NNX path of the dense
    layer after pooling, e.g. ``("head", "classifier")``), optionally ``torch_renames``
    (torch prefix -> NNX prefix, e.g. ``{"fc.": "head.classifier."}``) and ``torch_new``
    (top-level attributes a torch file does not fill), ``aux_classifier_paths`` (other
    layers as wide as the classes, kept fresh with the classifier when the classes differ),
    and may override ``from_torch`` for a parameter whose layout is not conv/linear (the
    default is :func:`convert`) or ``torch_path`` to skip names (GoogLeNet's ``aux1``).
    """
    arch: str = ""
    classifier_path: tuple = HEAD
    torch_renames: dict = {}
    torch_new: tuple = ()

    def torch_path(self, name: str, paths=None) -> "Path | None":
        return mirror_path(self, name, self.arch, self.torch_renames, paths)

    def from_torch(self, name: str, array: np.ndarray) -> np.ndarray:
        return convert(array)


_MIRROR_LEAVES = {"running_mean": "mean", "running_var": "var"}


def variable_paths(model: nnx.Module) -> frozenset:
    """The paths of ``model``'s parameters and BatchNorm statistics in its NNX state."""
    state = nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat))
    return frozenset(p for p, _ in nnx.to_flat_state(state))


def mirror_path(model: nnx.Module, name: str, arch: str,
                renames: Mapping[str, str] | None = None,
                paths: frozenset | None = None) -> "Path | None":
    """The NNX path of torch parameter ``name`` in a network that mirrors torch's module
    tree (:class:`TorchLayout`); ``None`` for ``num_batches_tracked``; ``ValueError`` for a
    name the network does not have. ``paths``: :func:`variable_paths` of the model, when
    the caller has it (``load_pretrained`` passes it, so each name costs a set lookup)."""
    if name.endswith("num_batches_tracked"):
        return None
    for old, new in (renames or {}).items():
        if name.startswith(old):
            name = new + name[len(old):]
            break
    *modules, leaf = name.split(".")
    prefix = tuple(int(m) if m.isdigit() else m for m in modules)
    paths = variable_paths(model) if paths is None else paths
    candidates = {"weight": ("kernel", "scale")}.get(leaf, (_MIRROR_LEAVES.get(leaf, leaf),))
    for candidate in candidates:
        if prefix + (candidate,) in paths:
            return prefix + (candidate,)
    raise ValueError(f"{name!r} is not a parameter of torchvision's {arch}")
