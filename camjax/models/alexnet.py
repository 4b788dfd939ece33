"""AlexNet-GAP and AlexNet*-GAP (paper section 3.1) on torchvision's AlexNet layout.

Channels, kernels and strides are torchvision's (conv 64-192-384-256-256, max pools 3x3/2
after conv1 and conv2, no LRN, no groups), so torchvision's ``alexnet`` weights load into it
(:func:`camjax.models.load_pretrained`). Layers after conv5 (pool5 included) are removed.

Mapping resolution 13x13 at 227, as in the paper: torchvision's conv1 (11x11/4, pad 2)
gives 56 -> pool 27 -> pool 13 at 227 (and 55 -> 27 -> 13 at 224). ``conv1_padding=0`` is
Caffe's unpadded conv1 (55 -> 27 -> 13 at 227); kernel shapes do not depend on it, so
torchvision weights load either way, but they were trained with the default padding 2.
"""
from __future__ import annotations

import jax
from flax import nnx

from camjax.models.googlenet import max_pool2d
from camjax.models.heads import CamConv, PoolingClassifier, PoolingHead
from camjax.models.registry import register

# (in, out, kernel, stride, padding) of torchvision's features.0/3/6/8/10; conv1's padding
# is the ``conv1_padding`` option.
CONVS = ((3, 64, 11, 4, None), (64, 192, 5, 1, 2), (192, 384, 3, 1, 1),
         (384, 256, 3, 1, 1), (256, 256, 3, 1, 1))
POOL_AFTER = (0, 1)  # max pool 3x3/2 after conv1 and conv2
STAR_CHANNELS = (512, 512)  # AlexNet*-GAP: conv6, conv7 of the released model

_he_init = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")


@register("alexnet_gap")
class AlexNetGAP(PoolingClassifier, nnx.Module):
    """AlexNet conv1-conv5, optional extra 3x3 convs, CAM conv (3x3, 1024), pooling, dense.

    ``extra_channels`` adds 3x3 convs (pad 1, ReLU) between conv5 and the CAM conv; they
    are new layers, not filled by torchvision weights.
    """
    features_layer = "cam_conv"

    def __init__(self, *, num_classes: int, pooling: str = "gap", conv1_padding: int = 2,
                 extra_channels: tuple[int, ...] = (), cam_channels: int = 1024,
                 rngs: nnx.Rngs):
        self.features = nnx.List([
            nnx.Conv(cin, cout, (k, k), strides=s, padding=conv1_padding if p is None else p,
                     kernel_init=_he_init, rngs=rngs)
            for cin, cout, k, s, p in CONVS])
        channels = CONVS[-1][1]
        extra = []
        for cout in extra_channels:
            extra.append(nnx.Conv(channels, cout, (3, 3), padding=1, kernel_init=_he_init,
                                  rngs=rngs))
            channels = cout
        self.extra = nnx.List(extra)
        self.cam_conv = CamConv(channels, cam_channels, rngs=rngs)
        self.head = PoolingHead(cam_channels, num_classes, pooling=pooling, rngs=rngs)

    def backbone(self, images: jax.Array) -> jax.Array:
        """conv5 output after ReLU (B, h, w, 256): the part torchvision weights fill."""
        x = images
        for i, conv in enumerate(self.features):
            x = jax.nn.relu(conv(x))
            if i in POOL_AFTER:
                x = max_pool2d(x, 3, 2)
        return x

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = self.backbone(images)
        for conv in self.extra:
            x = jax.nn.relu(conv(x))
        features = self.cam_conv(x)
        return self.head(features), features


@register("alexnet_star_gap")
def alexnet_star_gap(*, num_classes: int, pooling: str = "gap", rngs: nnx.Rngs,
                     **kwargs) -> AlexNetGAP:
    """AlexNet*-GAP: AlexNet-GAP with two more 3x3 convs (512 channels) before the CAM conv."""
    kwargs.setdefault("extra_channels", STAR_CHANNELS)
    return AlexNetGAP(num_classes=num_classes, pooling=pooling, rngs=rngs, **kwargs)
