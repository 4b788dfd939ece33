"""Layers as torchvision builds them, shared by the torchvision networks.

Convs have no bias (a BatchNorm follows) and torch's padding ``kernel // 2`` on both sides;
BatchNorm uses torch's eps 1e-5 and momentum 0.1 (flax momentum 0.9). ``max_pool2d`` and
``avg_pool2d`` reproduce torch's pooling rules exactly. ``Sequential``, ``NamedSequential`` and the
parameter-free modules (``Activation``, ``MaxPool2d``, ``GlobalPool``, ``Flatten``,
``Identity``) let a network mirror an ``nn.Sequential`` index for index, so ``features.3``
or ``classifier.2`` is the same module in camjax as in torchvision.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax
from flax import nnx

# torchvision's kaiming_normal_ (ResNet, MobileNetV2: fan_out; DenseNet: fan_in)
HE_FAN_OUT = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")
HE_FAN_IN = nnx.initializers.variance_scaling(2.0, "fan_in", "normal")


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """torchvision's ``_make_divisible`` (from TF's slim): ``value`` rounded to the nearest
    multiple of ``divisor``, at least ``min_value`` (default ``divisor``), and never more
    than 10% below ``value``."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv2d(cin: int, cout: int, kernel: int, *, stride: int = 1, groups: int = 1,
           kernel_init=HE_FAN_OUT, rngs: nnx.Rngs) -> nnx.Conv:
    """``nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=False)``."""
    return nnx.Conv(cin, cout, (kernel, kernel), strides=stride, padding=kernel // 2,
                    feature_group_count=groups, use_bias=False, kernel_init=kernel_init,
                    rngs=rngs)


def batch_norm(features: int, rngs: nnx.Rngs, *, eps: float = 1e-5,
               momentum: float = 0.1) -> nnx.BatchNorm:
    """``nn.BatchNorm2d(features, eps, momentum)`` (eps 1e-5, momentum 0.1 unless a
    torchvision builder says otherwise); torch's momentum weighs the new batch, flax's the
    running average, hence ``1 - momentum``."""
    return nnx.BatchNorm(features, momentum=1.0 - momentum, epsilon=eps, rngs=rngs)


def _pool_padding(x: jax.Array, kernel: int, stride: int, padding: int,
                  ceil_mode: bool) -> list[tuple[int, int]]:
    """Per spatial axis (low, high) padding giving torch's output size: ``floor`` (or, in ceil
    mode, ``ceil``) of ``(L + 2p - k) / s`` plus one, less one in ceil mode when the last
    window would start beyond the input and its left padding (torch's rule)."""
    pads = []
    for size in x.shape[1:3]:
        span = size + 2 * padding - kernel
        if span < 0:
            raise ValueError(f"pool {kernel}x{kernel}: input {x.shape[1:3]} is too small")
        out = (-(-span // stride) if ceil_mode else span // stride) + 1
        if ceil_mode and (out - 1) * stride >= size + padding:
            out -= 1
        extra = (out - 1) * stride + kernel - (size + 2 * padding)
        pads.append((padding, padding + max(extra, 0)))
    return pads


def max_pool2d(x: jax.Array, kernel: int, stride: int, padding: int = 0, *,
               ceil_mode: bool = False) -> jax.Array:
    """``torch.nn.MaxPool2d(kernel, stride, padding, ceil_mode=...)`` on NHWC input.

    Padding counts as -inf; the extra right/bottom window positions of ceil mode too.
    """
    pads = _pool_padding(x, kernel, stride, padding, ceil_mode)
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, kernel, kernel, 1),
                             (1, stride, stride, 1), ((0, 0), *pads, (0, 0)))


def avg_pool2d(x: jax.Array, kernel: int, stride: int, padding: int = 0) -> jax.Array:
    """``F.avg_pool2d(x, kernel, stride, padding)`` on NHWC input (floor mode and
    ``count_include_pad=True``, torch's defaults: every window divides by ``kernel**2``)."""
    pads = _pool_padding(x, kernel, stride, padding, ceil_mode=False)
    summed = lax.reduce_window(x, 0.0, lax.add, (1, kernel, kernel, 1),
                               (1, stride, stride, 1), ((0, 0), *pads, (0, 0)))
    return summed / (kernel * kernel)


class Sequential(nnx.List):
    """``nn.Sequential``: the layers in order, indexed as torch indexes them."""

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self:
            x = layer(x)
        return x


class NamedSequential(nnx.Module):
    """``nn.Sequential(OrderedDict(...))``: children under their own names (RegNet's
    ``trunk_output.block1.block1-0``, ViT's ``encoder.layers.encoder_layer_0``), in order."""

    def __init__(self, layers: dict[str, nnx.Module]):
        self.order = tuple(layers)
        for name, layer in layers.items():
            setattr(self, name, layer)

    def children(self) -> list[nnx.Module]:
        return [getattr(self, name) for name in self.order]

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.children():
            x = layer(x)
        return x


ACTIVATIONS = {"relu": jax.nn.relu, "relu6": jax.nn.relu6, "silu": jax.nn.silu,
               "sigmoid": jax.nn.sigmoid, "hardswish": jax.nn.hard_swish,
               "hardsigmoid": jax.nn.hard_sigmoid,
               # nn.GELU is the exact (erf) form, not jax's default tanh approximation
               "gelu": lambda x: jax.nn.gelu(x, approximate=False)}


class Activation(nnx.Module):
    """A parameterless torch activation module (``nn.ReLU``, ``nn.SiLU``, ``nn.GELU``, ...):
    a position of its own in a mirrored ``nn.Sequential``."""

    def __init__(self, name: str):
        if name not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
        self.name = name

    def __call__(self, x: jax.Array) -> jax.Array:
        return ACTIVATIONS[self.name](x)


class Identity(nnx.Module):
    """A torch module that is the identity at inference on NHWC arrays: ``nn.Dropout``,
    ``StochasticDepth``, and torchvision's ``Permute`` to and from channels-last (camjax is
    channels-last already)."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return x


class MaxPool2d(nnx.Module):
    """``nn.MaxPool2d(kernel, stride, padding, ceil_mode=...)``."""

    def __init__(self, kernel: int, stride: int, padding: int = 0, *, ceil_mode: bool = False):
        self.kernel, self.stride, self.padding, self.ceil_mode = kernel, stride, padding, ceil_mode

    def __call__(self, x: jax.Array) -> jax.Array:
        return max_pool2d(x, self.kernel, self.stride, self.padding, ceil_mode=self.ceil_mode)


class GlobalPool(nnx.Module):
    """``nn.AdaptiveAvgPool2d(1)`` (``"gap"``) or its max counterpart (``"gmp"``):
    (B, h, w, K) -> (B, 1, 1, K), the 1x1 grid torch keeps before ``flatten``."""

    def __init__(self, pooling: str = "gap"):
        if pooling not in ("gap", "gmp"):
            raise ValueError(f"pooling must be 'gap' or 'gmp', got {pooling!r}")
        self.pooling = pooling

    def __call__(self, x: jax.Array) -> jax.Array:
        reduce = jnp.mean if self.pooling == "gap" else jnp.max
        return reduce(x, axis=(1, 2), keepdims=True)


class Flatten(nnx.Module):
    """``nn.Flatten(1)`` of a 1x1 grid: (B, 1, 1, K) -> (B, K)."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return x.reshape(x.shape[0], -1)
