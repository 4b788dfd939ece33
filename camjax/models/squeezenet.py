"""torchvision's SqueezeNet 1.0 and 1.1 (``squeezenet1_0``, ``squeezenet1_1``) as they are.

``features`` in torchvision: a conv with bias (1.0: 7x7/2 to 96; 1.1: 3x3/2 to 64, no
padding), ReLU, then Fire modules and 3x3/2 max pools (``ceil_mode=True``) at torchvision's
indices; a Fire module is a 1x1 ``squeeze`` conv and ReLU, then a 1x1 and a 3x3 ``expand``
conv, each with its ReLU, concatenated. The classifier is ``Dropout(0.5)``, a 1x1 conv to C
classes (``classifier.1``), ReLU (``classifier.2``) and global average pooling
(``classifier.3``): the logits are the spatial means of the C ReLU'd class maps.

The CAM. The network computes its class maps itself: ``M_c = relu(conv_c(x))`` at every
position, and ``logit_c = mean over positions of M_c``. camjax's ``features`` are these maps
(the output of ``classifier.2``, C channels, 13x13 at 224 for both versions) and
``cam_weights`` is the C x C identity, so the CAM of class c is exactly ``M_c``, whose
spatial mean is exactly the logit (there is no bias after the pooling). Taking the input of
the final conv instead would give ``conv_c(x)`` before the ReLU and its bias: not the maps
the network averages. With ``pooling="gmp"`` the last layer takes the maximum instead, and
the logit is the maximum of the same maps.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.models.layers import Activation, GlobalPool, MaxPool2d, Sequential
from camjax.models.registry import register
from camjax.models.torch_layout import TorchLayout

# name: (first conv (channels, kernel), the rest of features: "M" = max pool, else a Fire
# module (in, squeeze, expand1x1, expand3x3)), torchvision's tables
VERSIONS = {
    "squeezenet1_0": ((96, 7), ("M", (96, 16, 64, 64), (128, 16, 64, 64), (128, 32, 128, 128),
                                "M", (256, 32, 128, 128), (256, 48, 192, 192),
                                (384, 48, 192, 192), (384, 64, 256, 256), "M",
                                (512, 64, 256, 256))),
    "squeezenet1_1": ((64, 3), ("M", (64, 16, 64, 64), (128, 16, 64, 64), "M",
                                (128, 32, 128, 128), (256, 32, 128, 128), "M",
                                (256, 48, 192, 192), (384, 48, 192, 192), (384, 64, 256, 256),
                                (512, 64, 256, 256))),
}
DROPOUT = 0.5


def _conv(cin: int, cout: int, kernel: int, rngs: nnx.Rngs, *, stride: int = 1,
          padding: int = 0, kernel_init=nnx.initializers.he_uniform()) -> nnx.Conv:
    """``nn.Conv2d(cin, cout, kernel, stride, padding)`` with its bias."""
    return nnx.Conv(cin, cout, (kernel, kernel), strides=stride, padding=padding,
                    kernel_init=kernel_init, rngs=rngs)


class Fire(nnx.Module):
    """squeeze 1x1 + ReLU, then (expand 1x1 + ReLU | expand 3x3 + ReLU) concatenated."""

    def __init__(self, cin: int, squeeze: int, expand1x1: int, expand3x3: int, *,
                 rngs: nnx.Rngs):
        self.squeeze = _conv(cin, squeeze, 1, rngs)
        self.squeeze_activation = Activation("relu")
        self.expand1x1 = _conv(squeeze, expand1x1, 1, rngs)
        self.expand1x1_activation = Activation("relu")
        self.expand3x3 = _conv(squeeze, expand3x3, 3, rngs, padding=1)
        self.expand3x3_activation = Activation("relu")

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.squeeze_activation(self.squeeze(x))
        return jnp.concatenate([self.expand1x1_activation(self.expand1x1(x)),
                                self.expand3x3_activation(self.expand3x3(x))], axis=-1)


class SqueezeNet(TorchLayout, nnx.Module):
    """torchvision's ``squeezenet1_0`` / ``squeezenet1_1``: features, then the classifier
    (dropout, 1x1 conv to the classes, ReLU, global pooling)."""
    torchvision_head = True
    features_layer = "classifier.2"
    imagenet_eval = (256, 224, "bilinear")
    classifier_path = ("classifier", 1)

    def __init__(self, arch: str, *, num_classes: int, pooling: str = "gap", rngs: nnx.Rngs):
        if arch not in VERSIONS:
            raise ValueError(f"SqueezeNet must be one of {sorted(VERSIONS)}, got {arch!r}")
        (channels, kernel), layers = VERSIONS[arch]
        self.arch = arch
        features: list[nnx.Module] = [_conv(3, channels, kernel, rngs, stride=2),
                                      Activation("relu")]
        for item in layers:
            features.append(MaxPool2d(3, 2, ceil_mode=True) if item == "M"
                            else Fire(*item, rngs=rngs))
        self.features = Sequential(features)
        self.classifier = Sequential([
            nnx.Dropout(DROPOUT, rngs=rngs),
            _conv(512, num_classes, 1, rngs, kernel_init=nnx.initializers.normal(0.01)),
            Activation("relu"), GlobalPool(pooling)])

    def backbone(self, images: jax.Array) -> jax.Array:
        """The ReLU'd class maps (B, h, w, C): ``classifier.2``'s output, the CAM's features."""
        dropout, conv, relu, _ = self.classifier
        return relu(conv(dropout(self.features(images))))

    def classify(self, features: jax.Array) -> jax.Array:
        """The logits from the class maps: their global pooling (``classifier.3``)."""
        return self.classifier[3](features).reshape(features.shape[0], -1)  # torch.flatten

    def cam_weights(self, features: jax.Array | None = None) -> jax.Array:
        """The (C, C) identity: the features are already the class maps."""
        del features
        return jnp.eye(self.classifier[1].out_features, dtype=jnp.float32)

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        maps = self.backbone(images)
        return self.classify(maps), maps


for _arch in VERSIONS:
    register(_arch)(functools.partial(SqueezeNet, _arch))
