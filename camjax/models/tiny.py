"""tiny_gap: a small GAP network for tests and the demo (stride 8: 14x14 maps at 112)."""
from __future__ import annotations

import jax
from flax import nnx

from camjax.models.heads import CamConv, PoolingHead
from camjax.models.registry import register


class ConvBNReLU(nnx.Module):
    def __init__(self, cin: int, cout: int, *, kernel: int = 3, stride: int = 1,
                 rngs: nnx.Rngs):
        self.conv = nnx.Conv(cin, cout, (kernel, kernel), strides=stride,
                             padding=kernel // 2 if kernel % 2 else 0,  # even: patchify
                             use_bias=False, rngs=rngs)
        self.norm = nnx.BatchNorm(cout, momentum=0.9, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.relu(self.norm(self.conv(x)))


@register("tiny_gap")
class TinyGAP(nnx.Module):
    """Five 3x3 conv + BN + ReLU layers (three with stride 2), the CAM conv, pooling, dense.

    Stride 8: 14x14 maps at 112 px. Sized to train in minutes on 2 CPU cores.
    """

    def __init__(self, *, num_classes: int, pooling: str = "gap",
                 widths: tuple[int, ...] = (24, 32, 48, 64, 96),
                 strides: tuple[int, ...] = (2, 2, 1, 2, 1),
                 kernels: tuple[int, ...] | None = None, cam_channels: int = 128,
                 rngs: nnx.Rngs):
        kernels = kernels or (3,) * len(widths)
        if not len(widths) == len(strides) == len(kernels):
            raise ValueError(f"widths {widths}, strides {strides} and kernels {kernels} "
                             "differ in length")
        chans = (3, *widths)
        self.backbone = nnx.List([ConvBNReLU(cin, cout, kernel=k, stride=st, rngs=rngs)
                                  for cin, cout, k, st
                                  in zip(chans[:-1], chans[1:], kernels, strides)])
        self.cam_conv = CamConv(widths[-1], cam_channels, batch_norm=True, rngs=rngs)
        self.head = PoolingHead(cam_channels, num_classes, pooling=pooling, rngs=rngs)

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = images
        for layer in self.backbone:
            x = layer(x)
        features = self.cam_conv(x)
        return self.head(features), features
