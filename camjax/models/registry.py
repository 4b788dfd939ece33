"""Model registry: build a network by name, read its class weights.

Every registered network is an NNX module whose ``__call__(images)`` returns
``(logits, features)``; ``features`` are the output of its ``features_layer`` (B, h, w, K)
the CAM family uses by default, ``classify(features)`` gives the logits from them and
``cam_weights(features)`` the exact CAM weights (the network contract,
docs/architecture.md). ``classifiers()`` lists the ImageNet classifiers loaded whole
(``torchvision_head``), the networks ``camjax localize --model`` takes.
"""
from __future__ import annotations

import numbers
from typing import Callable

import jax
from flax import nnx

from camjax.errors import ModelError, did_you_mean

_REGISTRY: dict[str, Callable[..., nnx.Module]] = {}
POOLINGS = ("gap", "gmp")
CLASSIFIER_PATH = ("head", "classifier")


def register(name: str):
    """Class or factory decorator: ``@register("vgg16_gap")``."""
    def wrap(factory):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = factory
        return factory
    return wrap


def available() -> list[str]:
    return sorted(_REGISTRY)


def factory(name: str) -> Callable[..., nnx.Module]:
    """The class or function registered as ``name`` (its signature lists the model's
    constructor arguments)."""
    if name not in _REGISTRY:
        raise ModelError(f"unknown model {name!r}; available: {', '.join(available())}"
                         f"{did_you_mean(name, available())}")
    return _REGISTRY[name]


def create(name: str, *, num_classes: int, pooling: str = "gap",
           rngs: nnx.Rngs, **kwargs) -> nnx.Module:
    """Build the registered network ``name`` with a fresh initialisation.

    ``num_classes``: any integral number >= 1 (``int``, ``np.int64``, ...), not a bool.
    Raises :class:`camjax.errors.ModelError` naming the bad argument.
    """
    build = factory(name)
    if pooling not in POOLINGS:
        raise ModelError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) \
            or num_classes < 1:
        raise ModelError(f"num_classes must be a positive integer, got {num_classes!r}")
    return build(num_classes=int(num_classes), pooling=pooling, rngs=rngs, **kwargs)


def classifiers() -> list[str]:
    """The registered ImageNet classifiers loaded whole from torchvision (or timm) weights,
    classifier included (``torchvision_head``): what ``camjax localize --model`` takes."""
    def marked(build) -> bool:    # a class, a partial of one, or a marked function
        return bool(getattr(build, "torchvision_head", False)
                    or getattr(getattr(build, "func", None), "torchvision_head", False))
    return [name for name in available() if marked(_REGISTRY[name])]


def class_weights(model: nnx.Module) -> jax.Array:
    """The (K, C) kernel of the dense layer after global pooling: the CAM weights of a
    network whose head is pooling + linear. The layer is ``model.classifier_path``
    (default ``head.classifier``); :class:`ModelError` when there is none."""
    node = model
    for key in tuple(getattr(model, "classifier_path", None) or CLASSIFIER_PATH):
        node = (node[key] if isinstance(key, int) or isinstance(node, (list, dict, nnx.List))
                else getattr(node, key, None))
        if node is None:
            break
    kernel = getattr(node, "kernel", None)
    if kernel is None or kernel.ndim != 2:
        raise ModelError(f"{getattr(model, 'arch', '') or type(model).__name__} has no dense "
                         "layer after pooling (classifier_path), so no class weights")
    return kernel[...]


def parameter_count(model: nnx.Module) -> int:
    """Number of trainable parameters (BatchNorm statistics excluded)."""
    state = nnx.state(model, nnx.Param)
    return sum(x.size for x in jax.tree.leaves(state))
