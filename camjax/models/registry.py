"""Model registry: build a network by name, read its class weights.

Every registered network is an NNX module whose ``__call__(images)`` returns
``(logits, features)``; ``features`` are the final conv maps (B, h, w, K) the
CAM is computed from, and ``model.head`` is a :class:`camjax.models.heads.PoolingHead`.
"""
from __future__ import annotations

from typing import Callable

import jax
from flax import nnx

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


def create(name: str, *, num_classes: int, pooling: str = "gap",
           rngs: nnx.Rngs, **kwargs) -> nnx.Module:
    """Build the registered network ``name`` with a fresh initialisation."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    return _REGISTRY[name](num_classes=num_classes, pooling=pooling, rngs=rngs, **kwargs)


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
