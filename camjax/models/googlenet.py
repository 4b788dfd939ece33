"""GoogLeNet (Inception v1) on torchvision's layout: the paper's GoogLeNet-GAP/GMP and
torchvision's classifier ``googlenet`` as it is. Both share the trunk up to ``inception4e``.

torchvision's blocks: ``BasicConv2d`` = conv without bias + BatchNorm (eps 1e-3) + ReLU, max
pools with ``ceil_mode=True``, and the 3x3 (not 5x5) conv in the third inception branch, a
known deviation of torchvision's port that its weights rely on.

- ``googlenet_gap`` / ``googlenet_gmp`` (paper section 3.1): the trunk, the CAM conv (3x3,
  1024, ``groups=2`` as in the released model), global pooling, a dense layer. 14x14 at 224.
  ``load_pretrained`` fills the trunk only.
- ``googlenet``: torchvision's network whole (``maxpool4``, ``inception5a/5b``, pooling,
  dropout 0.2, ``fc`` as ``head.classifier``); features = ``inception5b`` (1024 ch, 7x7 at
  224). torchvision's weights file also holds the auxiliary heads ``aux1``/``aux2``, which
  only training uses and torchvision drops after loading: they are skipped.

torch's ``branch4`` is (max pool, BasicConv2d); camjax's ``branch4`` is the BasicConv2d
(``branch4.1``), the pool being a function (``layer_aliases`` names the correspondence).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from camjax.models.heads import CamConv, PoolingClassifier, PoolingHead
from camjax.models.layers import MaxPool2d, max_pool2d
from camjax.models.registry import register
from camjax.models.torch_layout import TorchLayout

__all__ = ["BasicConv2d", "GoogLeNet", "GoogLeNetGAP", "Inception", "max_pool2d",
           "transform_input"]

# torchvision's ``_transform_input``: ImageNet-normalised input -> the (x - 0.5) / 0.5 scaling
# its ported GoogLeNet and Inception v3 weights expect (torchvision sets it when it loads them).
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
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}
OUT_CHANNELS = 832  # inception4e: 256 + 320 + 128 + 128
_TRUNK = tuple(name for name in INCEPTIONS if not name.startswith("inception5"))


def transform_input(images: jax.Array) -> jax.Array:
    """torchvision's ``_transform_input`` on NHWC images."""
    return images * _TRANSFORM_SCALE + _TRANSFORM_SHIFT


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class BasicConv2d(nnx.Module):
    """torchvision's ``BasicConv2d``: conv (no bias), BatchNorm (eps 1e-3), ReLU.

    ``kernel``, ``stride`` and ``padding`` are an int or an (h, w) pair, as in torch.
    """

    def __init__(self, cin: int, cout: int, kernel, *, stride: int = 1, padding=0,
                 rngs: nnx.Rngs):
        ph, pw = _pair(padding)
        self.conv = nnx.Conv(cin, cout, _pair(kernel), strides=stride,
                             padding=((ph, ph), (pw, pw)), use_bias=False,
                             kernel_init=nnx.initializers.normal(0.01), rngs=rngs)
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


class InceptionV1(nnx.Module):
    """torchvision's GoogLeNet from ``conv1`` to ``inception4e`` (built by ``_build_trunk``),
    the part both GoogLeNets share."""
    # torch path -> camjax path where they differ (the engine resolves layer names with it)
    layer_aliases = {f"{name}.branch4.1": f"{name}.branch4" for name in _TRUNK}

    def _build_trunk(self, transform: bool, rngs: nnx.Rngs) -> None:
        self.transform_input = transform
        self.conv1 = BasicConv2d(3, 64, 7, stride=2, padding=3, rngs=rngs)
        self.maxpool1 = MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, 1, rngs=rngs)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1, rngs=rngs)
        self.maxpool2 = MaxPool2d(3, 2, ceil_mode=True)
        self.maxpool3 = MaxPool2d(3, 2, ceil_mode=True)
        for name in _TRUNK:
            setattr(self, name, Inception(*INCEPTIONS[name], rngs=rngs))

    def trunk(self, images: jax.Array) -> jax.Array:
        """inception4e output (B, h, w, 832)."""
        x = transform_input(images) if self.transform_input else images
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for name in _TRUNK[2:]:
            x = getattr(self, name)(x)
        return x


@register("googlenet_gap")
class GoogLeNetGAP(PoolingClassifier, InceptionV1):
    """Inception v1 up to inception4e, CAM conv (groups 2), global pooling, dense.

    ``transform_input=True`` applies torchvision's input re-scaling; use it with torchvision's
    ImageNet weights and ImageNet-normalised images, as torchvision does.
    """
    features_layer = "cam_conv"

    def __init__(self, *, num_classes: int, pooling: str = "gap", transform_input: bool = False,
                 cam_channels: int = 1024, rngs: nnx.Rngs):
        self._build_trunk(transform_input, rngs)
        self.cam_conv = CamConv(OUT_CHANNELS, cam_channels, groups=2, rngs=rngs)
        self.head = PoolingHead(cam_channels, num_classes, pooling=pooling, rngs=rngs)

    def backbone(self, images: jax.Array) -> jax.Array:
        """inception4e output (B, h, w, 832): the part torchvision weights fill."""
        return self.trunk(images)

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


@register("googlenet")
class GoogLeNet(TorchLayout, PoolingClassifier, InceptionV1):
    """torchvision's ``googlenet`` whole: trunk, maxpool4, inception5a/5b, pooling, dropout,
    fc. ``transform_input=True`` by default, as torchvision sets it with its weights."""
    arch = "googlenet"
    torchvision_head = True
    features_layer = "inception5b"
    imagenet_eval = (256, 224, "bilinear")
    torch_renames = {"fc.": "head.classifier.",
                     **{f"{name}.branch4.1.": f"{name}.branch4." for name in INCEPTIONS}}
    layer_aliases = {**{f"{name}.branch4.1": f"{name}.branch4" for name in INCEPTIONS},
                     "fc": "head.classifier"}

    def __init__(self, *, num_classes: int, pooling: str = "gap", transform_input: bool = True,
                 dropout: float = 0.2, rngs: nnx.Rngs):
        self._build_trunk(transform_input, rngs)
        self.maxpool4 = MaxPool2d(2, 2, ceil_mode=True)
        self.inception5a = Inception(*INCEPTIONS["inception5a"], rngs=rngs)
        self.inception5b = Inception(*INCEPTIONS["inception5b"], rngs=rngs)
        self.head = PoolingHead(1024, num_classes, pooling=pooling, dropout_rate=dropout,
                                use_bias=True, rngs=rngs)

    def torch_path(self, name: str, paths=None):
        if name.startswith(("aux1.", "aux2.")):
            return None  # training-only heads, dropped by torchvision after loading too
        return super().torch_path(name, paths)

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = self.maxpool4(self.trunk(images))
        features = self.inception5b(self.inception5a(x))
        return self.head(features), features
