"""torchvision's MobileNetV2 (width 1.0) as it is.

``features[0]`` is a 3x3/2 conv, BN, ReLU6 (32 channels); ``features[1..17]`` are inverted
residuals from torchvision's table (t, c, n, s) with channels rounded by ``make_divisible``;
``features[18]`` is a 1x1 conv, BN, ReLU6 to 1280 channels: its output is the CAM's
``features`` (7x7 at 224). Then global average pooling, dropout 0.2 and the classifier
(``classifier.1`` in torchvision, with bias). An inverted residual is a 1x1 expansion conv
(ConvBNReLU6, absent when t = 1), a 3x3 depthwise ConvBNReLU6 with the stride, a 1x1 linear
projection conv and BN, plus the input when the stride is 1 and the channels match. BatchNorm
eps 1e-5 (torch's default, which torchvision's MobileNetV2 keeps).

Attributes mirror torchvision's names: ``features[i].conv[j]`` is ``features.i.conv.j``, and a
ConvBNReLU6's ``conv``/``bn`` are torchvision's ``.0``/``.1``.
"""
from __future__ import annotations

import jax
from flax import nnx

from camjax.models.heads import PoolingClassifier, PoolingHead
from camjax.models.layers import batch_norm, conv2d, make_divisible
from camjax.models.registry import register

# t (expansion), c (channels), n (blocks), s (stride of the first block): torchvision's table
INVERTED_RESIDUALS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                      (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
STEM_CHANNELS, LAST_CHANNELS = 32, 1280
DROPOUT = 0.2


class ConvBNReLU6(nnx.Module):
    """torchvision's ``Conv2dNormActivation`` with ReLU6: conv (no bias), BN, ReLU6."""

    def __init__(self, cin: int, cout: int, kernel: int, *, stride: int = 1, groups: int = 1,
                 rngs: nnx.Rngs):
        self.conv = conv2d(cin, cout, kernel, stride=stride, groups=groups, rngs=rngs)
        self.bn = batch_norm(cout, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.relu6(self.bn(self.conv(x)))


class InvertedResidual(nnx.Module):
    """[1x1 expansion], 3x3 depthwise with the stride, 1x1 linear projection + BN."""

    def __init__(self, cin: int, cout: int, *, stride: int, expansion: int, rngs: nnx.Rngs):
        hidden = int(round(cin * expansion))
        layers = [ConvBNReLU6(cin, hidden, 1, rngs=rngs)] if expansion != 1 else []
        layers += [ConvBNReLU6(hidden, hidden, 3, stride=stride, groups=hidden, rngs=rngs),
                   conv2d(hidden, cout, 1, rngs=rngs), batch_norm(cout, rngs)]
        self.conv = nnx.List(layers)
        self.use_residual = stride == 1 and cin == cout

    def __call__(self, x: jax.Array) -> jax.Array:
        out = x
        for layer in self.conv:
            out = layer(out)
        return x + out if self.use_residual else out


@register("mobilenet_v2")
class MobileNetV2(PoolingClassifier, nnx.Module):
    """torchvision's ``mobilenet_v2``: features[0..18], global pooling, dropout, classifier."""
    torchvision_head = True  # load_pretrained fills the classifier too
    features_layer = "features"
    imagenet_eval = (232, 224, "bilinear")   # torchvision's DEFAULT (IMAGENET1K_V2) weights

    def __init__(self, *, num_classes: int, pooling: str = "gap", rngs: nnx.Rngs):
        self.arch = "mobilenet_v2"
        cin = make_divisible(STEM_CHANNELS)
        features: list[nnx.Module] = [ConvBNReLU6(3, cin, 3, stride=2, rngs=rngs)]
        for t, c, n, s in INVERTED_RESIDUALS:
            cout = make_divisible(c)
            for i in range(n):
                features.append(InvertedResidual(cin, cout, stride=s if i == 0 else 1,
                                                 expansion=t, rngs=rngs))
                cin = cout
        last = make_divisible(LAST_CHANNELS)
        features.append(ConvBNReLU6(cin, last, 1, rngs=rngs))
        self.features = nnx.List(features)
        self.head = PoolingHead(last, num_classes, pooling=pooling, dropout_rate=DROPOUT,
                                use_bias=True, rngs=rngs)

    @property
    def layer_aliases(self) -> dict[str, str]:
        """torchvision's names -> camjax's: a Conv2dNormActivation's ``.0`` / ``.1`` / ``.2``
        are ``conv`` / ``bn`` / the block itself; ``classifier.1`` is ``head.classifier``."""
        aliases = {"classifier": "head.classifier", "classifier.1": "head.classifier"}
        for i, block in enumerate(self.features):
            convs = [(f"features.{i}", block)] if isinstance(block, ConvBNReLU6) else [
                (f"features.{i}.conv.{j}", c) for j, c in enumerate(block.conv)
                if isinstance(c, ConvBNReLU6)]
            for path, _ in convs:
                aliases.update({f"{path}.0": f"{path}.conv", f"{path}.1": f"{path}.bn",
                                f"{path}.2": path})
        return aliases

    def backbone(self, images: jax.Array) -> jax.Array:
        """features[18]'s output (B, h, w, 1280): the CAM's features."""
        x = images
        for layer in self.features:
            x = layer(x)
        return x

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        features = self.backbone(images)
        return self.head(features), features
