"""GoogLeNet-GAP and GoogLeNet-GMP (paper section 3.1) on torchvision's Inception v1 layout.

The backbone is torchvision's ``GoogLeNet`` up to ``inception4e`` (layers after it removed),
so a torchvision state dict loads into it (:func:`camjax.models.load_pretrained`):
``BasicConv2d`` = conv without bias + BatchNorm (eps 1e-3) + ReLU, max pools with
``ceil_mode=True``, and the 3x3 (not 5x5) conv in the third inception branch, a known
deviation of torchvision's port that its weights rely on. On top: the CAM conv (3x3, 1024,
``groups=2`` as in the released model), global pooling and a dense layer. 14x14 maps at 224.

``max_pool2d`` here reproduces ``torch.nn.MaxPool2d`` exactly (implicit -inf padding and
``ceil_mode``); the other paper networks use it too.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from flax import nnx

from camjax.models.heads import CamConv, PoolingClassifier, PoolingHead
from camjax.models.registry import register

# torchvision's ``_transform_input``: ImageNet-normalised input -> the (x - 0.5) / 0.5 scaling
# its ported GoogLeNet weights expect (torchvision sets it when it loads those weights).
# numpy, not jnp: importing camjax must not start JAX before jax.distributed.initialize
_TRANSFORM_SCALE = np.array([0.229, 0.224, 0.225], np.float32) / 0.5
_TRANSFORM_SHIFT = (np.array([0.485, 0.456, 0.406], np.float32) - 0.5) / 0.5

# name: (in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj), torchvision's table
INCEPTIONS = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
}
OUT_CHANNELS = 832  # inception4e: 256 + 320 + 128 + 128


def max_pool2d(x: jax.Array, kernel: int, stride: int, padding: int = 0, *,
               ceil_mode: bool = False) -> jax.Array:
    """``torch.nn.MaxPool2d(kernel, stride, padding, ceil_mode=...)`` on NHWC input.

    Padding counts as -inf. In ceil mode the output size is ``ceil((L + 2p - k) / s) + 1``,
    less one when the last window would start beyond the input and left padding (torch's
    rule); the extra right/bottom window positions are padded with -inf.
    """
    pads = []
    for size in x.shape[1:3]:
        span = size + 2 * padding - kernel
        if span < 0:
            raise ValueError(f"max pool {kernel}x{kernel}: input {x.shape[1:3]} is too small")
        out = (-(-span // stride) if ceil_mode else span // stride) + 1
        if ceil_mode and (out - 1) * stride >= size + padding:
            out -= 1
        extra = (out - 1) * stride + kernel - (size + 2 * padding)
        pads.append((padding, padding + max(extra, 0)))
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, kernel, kernel, 1),
                             (1, stride, stride, 1), ((0, 0), *pads, (0, 0)))


class BasicConv2d(nnx.Module):
    """torchvision's ``BasicConv2d``: conv (no bias), BatchNorm (eps 1e-3), ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, *, stride: int = 1, padding: int = 0,
                 rngs: nnx.Rngs):
        self.conv = nnx.Conv(cin, cout, (kernel, kernel), strides=stride, padding=padding,
                             use_bias=False, kernel_init=nnx.initializers.normal(0.01), rngs=rngs)
        self.bn = nnx.BatchNorm(cout, momentum=0.9, epsilon=1e-3, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.relu(self.bn(self.conv(x)))


class Inception(nnx.Module):
    """Four branches concatenated: 1x1 | 1x1, 3x3 | 1x1, 3x3 | max pool 3x3/1, 1x1.

    ``branch4`` is torch's ``branch4.1`` (``branch4.0`` is the parameter-free pool).
    """

    def __init__(self, cin: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int, *, rngs: nnx.Rngs):
        self.branch1 = BasicConv2d(cin, ch1x1, 1, rngs=rngs)
        self.branch2 = nnx.List([BasicConv2d(cin, ch3x3red, 1, rngs=rngs),
                                 BasicConv2d(ch3x3red, ch3x3, 3, padding=1, rngs=rngs)])
        self.branch3 = nnx.List([BasicConv2d(cin, ch5x5red, 1, rngs=rngs),
                                 BasicConv2d(ch5x5red, ch5x5, 3, padding=1, rngs=rngs)])
        self.branch4 = BasicConv2d(cin, pool_proj, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        b2, b3 = x, x
        for layer in self.branch2:
            b2 = layer(b2)
        for layer in self.branch3:
            b3 = layer(b3)
        b4 = self.branch4(max_pool2d(x, 3, 1, 1, ceil_mode=True))
        return jnp.concatenate([self.branch1(x), b2, b3, b4], axis=-1)


@register("googlenet_gap")
class GoogLeNetGAP(PoolingClassifier, nnx.Module):
    """Inception v1 up to inception4e, CAM conv (groups 2), global pooling, dense.

    ``transform_input=True`` applies torchvision's input re-scaling; use it with torchvision's
    ImageNet weights and ImageNet-normalised images, as torchvision does.
    """
    features_layer = "cam_conv"

    def __init__(self, *, num_classes: int, pooling: str = "gap", transform_input: bool = False,
                 cam_channels: int = 1024, rngs: nnx.Rngs):
        self.transform_input = transform_input
        self.conv1 = BasicConv2d(3, 64, 7, stride=2, padding=3, rngs=rngs)
        self.conv2 = BasicConv2d(64, 64, 1, rngs=rngs)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1, rngs=rngs)
        self.inception3a = Inception(*INCEPTIONS["inception3a"], rngs=rngs)
        self.inception3b = Inception(*INCEPTIONS["inception3b"], rngs=rngs)
        self.inception4a = Inception(*INCEPTIONS["inception4a"], rngs=rngs)
        self.inception4b = Inception(*INCEPTIONS["inception4b"], rngs=rngs)
        self.inception4c = Inception(*INCEPTIONS["inception4c"], rngs=rngs)
        self.inception4d = Inception(*INCEPTIONS["inception4d"], rngs=rngs)
        self.inception4e = Inception(*INCEPTIONS["inception4e"], rngs=rngs)
        self.cam_conv = CamConv(OUT_CHANNELS, cam_channels, groups=2, rngs=rngs)
        self.head = PoolingHead(cam_channels, num_classes, pooling=pooling, rngs=rngs)

    def backbone(self, images: jax.Array) -> jax.Array:
        """inception4e output (B, h, w, 832): the part torchvision weights fill."""
        x = images
        if self.transform_input:
            x = x * _TRANSFORM_SCALE + _TRANSFORM_SHIFT
        x = max_pool2d(self.conv1(x), 3, 2, ceil_mode=True)
        x = max_pool2d(self.conv3(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.inception3b(self.inception3a(x))
        x = max_pool2d(x, 3, 2, ceil_mode=True)
        for block in (self.inception4a, self.inception4b, self.inception4c, self.inception4d,
                      self.inception4e):
            x = block(x)
        return x

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        features = self.cam_conv(self.backbone(images))
        return self.head(features), features


@register("googlenet_gmp")
def googlenet_gmp(*, num_classes: int, pooling: str = "gmp", rngs: nnx.Rngs,
                  **kwargs) -> GoogLeNetGAP:
    """GoogLeNet-GMP: GoogLeNet-GAP with global max pooling.

    The name fixes the pooling: ``pooling`` is accepted for the registry's signature but
    ignored (``create`` always passes one, ``"gap"`` by default).
    """
    del pooling
    return GoogLeNetGAP(num_classes=num_classes, pooling="gmp", rngs=rngs, **kwargs)
