"""Model registry: build a network by name, read its class weights.

Every registered network is an NNX module whose ``__call__(images)`` returns
``(logits, features)``; ``features`` are the final conv maps (B, h, w, K) the
CAM is computed from, and ``model.head`` is a :class:`camjax.models.heads.PoolingHead`.
"""
from __future__ import annotations

import numbers
from typing import Callable

import jax
from flax import nnx

from camjax.errors import ModelError, did_you_mean

_REGISTRY: dict[str, Callable[..., nnx.Module]] = {}
POOLINGS = ("gap", "gmp")


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


def class_weights(model: nnx.Module) -> jax.Array:
    """The (K, C) kernel of the dense layer after global pooling."""
    head = getattr(model, "head", None)
    if head is None or not hasattr(head, "classifier"):
        raise TypeError(f"{type(model).__name__} has no pooling head; "
                        "class_weights needs a camjax GAP/GMP network")
    return head.classifier.kernel[...]


def parameter_count(model: nnx.Module) -> int:
    """Number of trainable parameters (BatchNorm statistics excluded)."""
    state = nnx.state(model, nnx.Param)
    return sum(x.size for x in jax.tree.leaves(state))
