"""VGGnet-GAP (paper section 3.1) on torchvision's VGG16 layout (no BatchNorm).

conv1_1 .. conv5_3 with torchvision's ``features`` layout; pool5 and the classifier are
removed, so 14x14 maps at 224. On top, as in the released model: the CAM conv (3x3, 1024,
``groups=2``), global pooling, dropout 0.5 and the dense layer.
"""
from __future__ import annotations

import jax
from flax import nnx

from camjax.models.googlenet import max_pool2d
from camjax.models.heads import CamConv, PoolingClassifier, PoolingHead
from camjax.models.registry import register

# torchvision's configuration "D" without its last "M" (pool5): channels, "M" = max pool 2x2/2
CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)

_he_init = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")


@register("vgg16_gap")
class VGG16GAP(PoolingClassifier, nnx.Module):
    """VGG16 conv1_1..conv5_3 (3x3, pad 1, ReLU), CAM conv (groups 2), pooling, dropout, dense."""
    features_layer = "cam_conv"

    def __init__(self, *, num_classes: int, pooling: str = "gap", dropout_rate: float = 0.5,
                 cam_channels: int = 1024, rngs: nnx.Rngs):
        convs, cin = [], 3
        for item in CFG:
            if item != "M":
                convs.append(nnx.Conv(cin, item, (3, 3), padding=1, kernel_init=_he_init,
                                      rngs=rngs))
                cin = item
        self.features = nnx.List(convs)
        self.cam_conv = CamConv(cin, cam_channels, groups=2, rngs=rngs)
        self.head = PoolingHead(cam_channels, num_classes, pooling=pooling,
                                dropout_rate=dropout_rate, rngs=rngs)

    def backbone(self, images: jax.Array) -> jax.Array:
        """conv5_3 output after ReLU (B, h, w, 512): the part torchvision weights fill."""
        x, convs = images, iter(self.features)
        for item in CFG:
            x = max_pool2d(x, 2, 2) if item == "M" else jax.nn.relu(next(convs)(x))
        return x

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        features = self.cam_conv(self.backbone(images))
        return self.head(features), features
