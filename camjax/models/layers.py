"""Conv and BatchNorm as torchvision builds them, shared by ResNet, DenseNet and MobileNetV2.

Convs have no bias (a BatchNorm follows) and torch's padding ``kernel // 2`` on both sides;
BatchNorm uses torch's eps 1e-5 and momentum 0.1 (flax momentum 0.9).
"""
from __future__ import annotations

from flax import nnx

# torchvision's kaiming_normal_ (ResNet, MobileNetV2: fan_out; DenseNet: fan_in)
HE_FAN_OUT = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")
HE_FAN_IN = nnx.initializers.variance_scaling(2.0, "fan_in", "normal")


def conv2d(cin: int, cout: int, kernel: int, *, stride: int = 1, groups: int = 1,
           kernel_init=HE_FAN_OUT, rngs: nnx.Rngs) -> nnx.Conv:
    """``nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=False)``."""
    return nnx.Conv(cin, cout, (kernel, kernel), strides=stride, padding=kernel // 2,
                    feature_group_count=groups, use_bias=False, kernel_init=kernel_init,
                    rngs=rngs)


def batch_norm(features: int, rngs: nnx.Rngs) -> nnx.BatchNorm:
    """``nn.BatchNorm2d(features)``: eps 1e-5, momentum 0.1."""
    return nnx.BatchNorm(features, momentum=0.9, epsilon=1e-5, rngs=rngs)
