"""Modules torchvision's newer classifiers share, built with torchvision's module names.

Each module's NNX attribute path is its torch ``named_modules()`` path: ``Sequential`` is an
``nnx.List`` (``features.1.0.block.2`` -> ``features[1][0].block[2]``) and its parameterless
children (ReLU, SiLU, Hardswish, Dropout) are kept as modules so the indices agree;
``NamedSequential`` is ``nn.Sequential(OrderedDict(...))`` (RegNet's ``f.a``, ``f.se``,
``trunk_output.block1.block1-0``); both live in :mod:`camjax.models.layers`. Every child
is called as one unit, so a layer named by its torch path can be looked at on its own.
(Their pooling + linear head is :class:`camjax.models.heads.PoolingClassifier`.)
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.errors import ModelError
from camjax.models.layers import Activation, Sequential, batch_norm, conv2d


def conv_norm_act(cin: int, cout: int, kernel: int, *, stride: int = 1, groups: int = 1,
                  activation: str | None = "relu", eps: float = 1e-5, momentum: float = 0.1,
                  rngs: nnx.Rngs) -> Sequential:
    """torchvision's ``Conv2dNormActivation``: ``.0`` conv (no bias, padding (k - 1) // 2),
    ``.1`` BatchNorm(eps, momentum), ``.2`` the activation (absent when ``None``)."""
    layers = [conv2d(cin, cout, kernel, stride=stride, groups=groups, rngs=rngs),
              batch_norm(cout, rngs, eps=eps, momentum=momentum)]
    return Sequential(layers + ([Activation(activation)] if activation else []))


class SqueezeExcitation(nnx.Module):
    """``torchvision.ops.SqueezeExcitation``: ``x * scale_activation(fc2(activation(fc1(
    mean over space of x))))``; ``fc1``/``fc2`` are 1x1 convs with bias."""

    def __init__(self, channels: int, squeeze: int, *, activation: str = "relu",
                 scale_activation: str = "sigmoid", rngs: nnx.Rngs):
        conv = functools.partial(nnx.Conv, kernel_size=(1, 1), use_bias=True,
                                 kernel_init=nnx.initializers.variance_scaling(
                                     2.0, "fan_out", "normal"), rngs=rngs)
        self.fc1, self.fc2 = conv(channels, squeeze), conv(squeeze, channels)
        self.activation = Activation(activation)
        self.scale_activation = Activation(scale_activation)

    def __call__(self, x: jax.Array) -> jax.Array:
        scale = jnp.mean(x, axis=(1, 2), keepdims=True)
        return x * self.scale_activation(self.fc2(self.activation(self.fc1(scale))))


def stochastic_depth(rate: float, rngs: nnx.Rngs) -> nnx.Dropout:
    """torchvision's ``StochasticDepth(rate, "row")``: in training, each image's residual
    branch is dropped with probability ``rate`` and kept ones scaled by 1 / (1 - rate);
    the identity in eval mode. That is dropout broadcast over (h, w, channels)."""
    return nnx.Dropout(rate, broadcast_dims=(1, 2, 3), rngs=rngs)


def check_pooling(pooling: str) -> str:
    if pooling not in ("gap", "gmp"):
        raise ModelError(f"pooling must be 'gap' or 'gmp', got {pooling!r}")
    return pooling
