"""Network in Network (Lin et al. 2014), the ImageNet model of the paper's Table 1.

The released NIN ImageNet model (Caffe) is four mlpconv blocks, each a conv followed by
1x1 convs ("cccp"), all with ReLU::

    conv1 11x11/4 96,  cccp1 96,  cccp2 96,    max pool 3x3/2
    conv2 5x5 pad 2 256, cccp3 256, cccp4 256, max pool 3x3/2
    conv3 3x3 pad 1 384, cccp5 384, cccp6 384, max pool 3x3/2, dropout 0.5
    conv4 3x3 pad 1 1024, cccp7 1024, cccp8 1000, global average pool

NIN has no dense layer: cccp8 maps to one channel per class and is pooled. Here, so that
``model.head`` is a :class:`PoolingHead` and ``class_weights`` works like in every camjax
network, ``features`` are cccp7's output (1024 channels) and cccp8 + pooling becomes
pooling + dense (no bias). A 1x1 conv and global average pooling commute, so this is
cccp8 without its bias and final ReLU; the CAM of a class is cccp8's map for that class
(minus bias). No extra CAM conv is added. Pools use Caffe's ceil rounding, giving 6x6
maps at 224 and 227.
"""
from __future__ import annotations

import jax
from flax import nnx

from camjax.models.googlenet import max_pool2d
from camjax.models.heads import PoolingClassifier, PoolingHead
from camjax.models.registry import register

# (in, out, kernel, stride, padding, number of 1x1 "cccp" convs after it)
BLOCKS = ((3, 96, 11, 4, 0, 2), (96, 256, 5, 1, 2, 2), (256, 384, 3, 1, 1, 2),
          (384, 1024, 3, 1, 1, 1))

_he_init = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")


class MlpConv(nnx.Module):
    """A conv and its 1x1 convs, each followed by ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, padding: int,
                 cccp: int, *, rngs: nnx.Rngs):
        self.conv = nnx.Conv(cin, cout, (kernel, kernel), strides=stride, padding=padding,
                             kernel_init=_he_init, rngs=rngs)
        self.cccp = nnx.List([nnx.Conv(cout, cout, (1, 1), kernel_init=_he_init, rngs=rngs)
                              for _ in range(cccp)])

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jax.nn.relu(self.conv(x))
        for conv in self.cccp:
            x = jax.nn.relu(conv(x))
        return x


@register("nin")
class NIN(PoolingClassifier, nnx.Module):
    """NIN up to cccp7 (1024 channels, 6x6 at 224), then global pooling and dense."""
    features_layer = "blocks.3"

    def __init__(self, *, num_classes: int, pooling: str = "gap", dropout_rate: float = 0.5,
                 rngs: nnx.Rngs):
        self.blocks = nnx.List([MlpConv(*spec, rngs=rngs) for spec in BLOCKS])
        self.dropout = nnx.Dropout(dropout_rate, rngs=rngs)
        self.head = PoolingHead(BLOCKS[-1][1], num_classes, pooling=pooling, rngs=rngs)

    def backbone(self, images: jax.Array) -> jax.Array:
        x = images
        for i, block in enumerate(self.blocks):
            if i == len(BLOCKS) - 1:
                x = self.dropout(x)
            x = block(x)
            if i < len(BLOCKS) - 1:
                x = max_pool2d(x, 3, 2, ceil_mode=True)
        return x

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        features = self.backbone(images)
        return self.head(features), features
