"""Conv and BatchNorm as torchvision builds them, shared by ResNet, DenseNet and MobileNetV2.

Convs have no bias (a BatchNorm follows) and torch's padding ``kernel // 2`` on both sides;
BatchNorm uses torch's eps 1e-5 and momentum 0.1 (flax momentum 0.9).
"""
from __future__ import annotations

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
