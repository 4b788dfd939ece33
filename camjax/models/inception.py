"""torchvision's Inception v3 (``inception_v3``, its ``Inception3``) as it is.

Module and parameter names are torchvision's (``Conv2d_1a_3x3``, ``Mixed_5b.branch5x5_2``,
``Mixed_7c.branch3x3dbl_3b``, ``AuxLogits.conv1``), each conv a ``BasicConv2d`` (conv without
bias, BatchNorm eps 1e-3, ReLU; shared with GoogLeNet), ``fc`` as ``head.classifier``.
Pools follow torch: 3x3/2 max pools (floor), the branch pools are 3x3/1 average pools with
padding 1 counting the padding (``count_include_pad``). ``features`` = ``Mixed_7c`` (2048
channels, 8x8 at 299), then global average pooling, dropout 0.5 and ``fc``.
``transform_input=True`` by default, as torchvision sets it with its weights.

``AuxLogits`` (the auxiliary classifier on ``Mixed_6e``) is in torchvision's weights file and
in its parameter count, so camjax builds and loads it; it is used only in training
(``model.AuxLogits(mixed_6e_output)``) and never in ``model(images)``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.models.googlenet import BasicConv2d, transform_input
from camjax.models.heads import PoolingClassifier, PoolingHead
from camjax.models.layers import MaxPool2d, avg_pool2d, max_pool2d
from camjax.models.registry import register
from camjax.models.torch_layout import TorchLayout


def _chain(block: nnx.Module, prefix: str, count: int, x: jax.Array) -> jax.Array:
    """``block.{prefix}_1`` ... ``block.{prefix}_{count}`` applied in turn."""
    for i in range(1, count + 1):
        x = getattr(block, f"{prefix}_{i}")(x)
    return x


def _branch_pool(x: jax.Array) -> jax.Array:
    return avg_pool2d(x, 3, 1, 1)


class InceptionA(nnx.Module):
    """35x35: 1x1 | 1x1, 5x5 | 1x1, 3x3, 3x3 | avg pool, 1x1."""

    def __init__(self, cin: int, pool_features: int, *, rngs: nnx.Rngs):
        self.branch1x1 = BasicConv2d(cin, 64, 1, rngs=rngs)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1, rngs=rngs)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2, rngs=rngs)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1, rngs=rngs)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1, rngs=rngs)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1, rngs=rngs)
        self.branch_pool = BasicConv2d(cin, pool_features, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.concatenate([self.branch1x1(x), _chain(self, "branch5x5", 2, x),
                                _chain(self, "branch3x3dbl", 3, x),
                                self.branch_pool(_branch_pool(x))], axis=-1)


class InceptionB(nnx.Module):
    """35x35 -> 17x17: 3x3/2 | 1x1, 3x3, 3x3/2 | max pool 3x3/2."""

    def __init__(self, cin: int, *, rngs: nnx.Rngs):
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2, rngs=rngs)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1, rngs=rngs)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1, rngs=rngs)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.concatenate([self.branch3x3(x), _chain(self, "branch3x3dbl", 3, x),
                                max_pool2d(x, 3, 2)], axis=-1)


class InceptionC(nnx.Module):
    """17x17 with factorised 7x7 convs (1x7 and 7x1): 1x1 | 7x7 | double 7x7 | avg pool, 1x1."""

    def __init__(self, cin: int, channels_7x7: int, *, rngs: nnx.Rngs):
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(cin, 192, 1, rngs=rngs)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1, rngs=rngs)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3), rngs=rngs)
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0), rngs=rngs)
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1, rngs=rngs)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0), rngs=rngs)
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3), rngs=rngs)
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0), rngs=rngs)
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3), rngs=rngs)
        self.branch_pool = BasicConv2d(cin, 192, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.concatenate([self.branch1x1(x), _chain(self, "branch7x7", 3, x),
                                _chain(self, "branch7x7dbl", 5, x),
                                self.branch_pool(_branch_pool(x))], axis=-1)


class InceptionD(nnx.Module):
    """17x17 -> 8x8: 1x1, 3x3/2 | 1x1, 1x7, 7x1, 3x3/2 | max pool 3x3/2."""

    def __init__(self, cin: int, *, rngs: nnx.Rngs):
        self.branch3x3_1 = BasicConv2d(cin, 192, 1, rngs=rngs)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2, rngs=rngs)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1, rngs=rngs)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3), rngs=rngs)
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0), rngs=rngs)
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.concatenate([_chain(self, "branch3x3", 2, x), _chain(self, "branch7x7x3", 4, x),
                                max_pool2d(x, 3, 2)], axis=-1)


class InceptionE(nnx.Module):
    """8x8: 1x1 | 1x1, (1x3 | 3x1) | 1x1, 3x3, (1x3 | 3x1) | avg pool, 1x1."""

    def __init__(self, cin: int, *, rngs: nnx.Rngs):
        self.branch1x1 = BasicConv2d(cin, 320, 1, rngs=rngs)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1, rngs=rngs)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1), rngs=rngs)
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0), rngs=rngs)
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1, rngs=rngs)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1, rngs=rngs)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1), rngs=rngs)
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0), rngs=rngs)
        self.branch_pool = BasicConv2d(cin, 192, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        b3 = self.branch3x3_1(x)
        d3 = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        return jnp.concatenate([self.branch1x1(x), self.branch3x3_2a(b3), self.branch3x3_2b(b3),
                                self.branch3x3dbl_3a(d3), self.branch3x3dbl_3b(d3),
                                self.branch_pool(_branch_pool(x))], axis=-1)


class InceptionAux(nnx.Module):
    """The auxiliary classifier: avg pool 5x5/3, 1x1 (128), 5x5 (768), global mean, fc."""

    def __init__(self, cin: int, num_classes: int, *, rngs: nnx.Rngs):
        self.conv0 = BasicConv2d(cin, 128, 1, rngs=rngs)
        self.conv1 = BasicConv2d(128, 768, 5, rngs=rngs)
        self.fc = nnx.Linear(768, num_classes, kernel_init=nnx.initializers.normal(0.001),
                             rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.conv1(self.conv0(avg_pool2d(x, 5, 3)))
        return self.fc(x.mean(axis=(1, 2)))


@register("inception_v3")
class Inception3(TorchLayout, PoolingClassifier, nnx.Module):
    """torchvision's ``inception_v3``: stem, Mixed_5b ... Mixed_7c, pooling, dropout, fc."""
    arch = "inception_v3"
    torchvision_head = True
    features_layer = "Mixed_7c"
    imagenet_eval = (342, 299, "bilinear")
    torch_renames = {"fc.": "head.classifier."}
    layer_aliases = {"fc": "head.classifier"}
    # another dataset's number of classes leaves this one fresh too (load_pretrained)
    aux_classifier_paths = (("AuxLogits", "fc"),)

    def __init__(self, *, num_classes: int, pooling: str = "gap", transform_input: bool = True,
                 dropout: float = 0.5, rngs: nnx.Rngs):
        self.transform_input = transform_input
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2, rngs=rngs)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3, rngs=rngs)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1, rngs=rngs)
        self.maxpool1 = MaxPool2d(3, 2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1, rngs=rngs)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3, rngs=rngs)
        self.maxpool2 = MaxPool2d(3, 2)
        self.Mixed_5b = InceptionA(192, 32, rngs=rngs)
        self.Mixed_5c = InceptionA(256, 64, rngs=rngs)
        self.Mixed_5d = InceptionA(288, 64, rngs=rngs)
        self.Mixed_6a = InceptionB(288, rngs=rngs)
        self.Mixed_6b = InceptionC(768, 128, rngs=rngs)
        self.Mixed_6c = InceptionC(768, 160, rngs=rngs)
        self.Mixed_6d = InceptionC(768, 160, rngs=rngs)
        self.Mixed_6e = InceptionC(768, 192, rngs=rngs)
        self.AuxLogits = InceptionAux(768, num_classes, rngs=rngs)
        self.Mixed_7a = InceptionD(768, rngs=rngs)
        self.Mixed_7b = InceptionE(1280, rngs=rngs)
        self.Mixed_7c = InceptionE(2048, rngs=rngs)
        self.head = PoolingHead(2048, num_classes, pooling=pooling, dropout_rate=dropout,
                                use_bias=True, rngs=rngs)

    _ORDER = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
              "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
              "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = transform_input(images) if self.transform_input else images
        for name in self._ORDER:
            x = getattr(self, name)(x)
        return self.head(x), x
