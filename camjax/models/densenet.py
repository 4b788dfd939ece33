"""torchvision's DenseNet-121 and DenseNet-161 (DenseNet-BC) as they are.

Stem: 7x7/2 conv, BN, ReLU, 3x3/2 max pool (padding 1). Each dense layer is BN, ReLU,
1x1 conv to ``bn_size * growth`` (4k), BN, ReLU, 3x3 conv to ``growth`` channels, and its
output is concatenated to its input; a transition (BN, ReLU, 1x1 conv halving the channels,
2x2/2 average pool) follows every block but the last, then the final ``norm5``. torchvision
applies ReLU after ``norm5`` in ``forward``, before pooling: ``features`` are
``relu(norm5(...))`` (1024 channels for 121, 2208 for 161; 7x7 at 224), then global average
pooling and the classifier (with bias).

Attribute names follow torchvision's ``features.*`` without the ``features.`` prefix
(``denseblock1[0].norm1`` is ``features.denseblock1.denselayer1.norm1``); the name map in
:mod:`camjax.models.torchvision_names` spells it out.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.models.googlenet import max_pool2d
from camjax.models.heads import PoolingClassifier, PoolingHead
from camjax.models.layers import HE_FAN_IN, batch_norm, conv2d
from camjax.models.registry import register

BN_SIZE = 4
# name: (growth rate, layers per block, stem channels), torchvision's table
CONFIGS = {"densenet121": (32, (6, 12, 24, 16), 64), "densenet161": (48, (6, 12, 36, 24), 96)}


class DenseLayer(nnx.Module):
    """BN, ReLU, 1x1 conv (4k), BN, ReLU, 3x3 conv (k): the k new channels."""

    def __init__(self, cin: int, growth: int, *, rngs: nnx.Rngs):
        width = BN_SIZE * growth
        self.norm1 = batch_norm(cin, rngs)
        self.conv1 = conv2d(cin, width, 1, kernel_init=HE_FAN_IN, rngs=rngs)
        self.norm2 = batch_norm(width, rngs)
        self.conv2 = conv2d(width, growth, 3, kernel_init=HE_FAN_IN, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        out = self.conv1(jax.nn.relu(self.norm1(x)))
        return self.conv2(jax.nn.relu(self.norm2(out)))


class Transition(nnx.Module):
    """BN, ReLU, 1x1 conv, 2x2 average pool with stride 2 (floor, as ``nn.AvgPool2d(2, 2)``)."""

    def __init__(self, cin: int, cout: int, *, rngs: nnx.Rngs):
        self.norm = batch_norm(cin, rngs)
        self.conv = conv2d(cin, cout, 1, kernel_init=HE_FAN_IN, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.conv(jax.nn.relu(self.norm(x)))
        return nnx.avg_pool(x, (2, 2), strides=(2, 2), padding="VALID")


class DenseNet(PoolingClassifier, nnx.Module):
    """torchvision's ``densenet121`` / ``densenet161``: features, ReLU, pooling, classifier.

    ``features_layer`` is torchvision's ``features`` (its last module is ``norm5``); the
    network's features are ``relu(features)``, as torchvision's ``forward`` pools them, so
    the CAM and the gradient methods at the default layer see the ReLU's output, and
    ``layer="features"`` (or ``"features.norm5"``) the output before it, as a hook on
    torchvision's ``model.features`` does. torchvision's ``features.denseblockN`` (the
    concatenation of a block's maps) is not a camjax module: its output is the input of
    ``features.transitionN`` (or of ``features.norm5``).
    """
    torchvision_head = True  # load_pretrained fills the classifier too
    features_layer = "features"
    imagenet_eval = (256, 224, "bilinear")   # torchvision's DEFAULT (IMAGENET1K_V1) weights

    def __init__(self, arch: str, *, num_classes: int, pooling: str = "gap", rngs: nnx.Rngs):
        if arch not in CONFIGS:
            raise ValueError(f"DenseNet must be one of {sorted(CONFIGS)}, got {arch!r}")
        growth, blocks, channels = CONFIGS[arch]
        self.arch, self.num_blocks = arch, len(blocks)
        self.conv0 = conv2d(3, channels, 7, stride=2, kernel_init=HE_FAN_IN, rngs=rngs)
        self.norm0 = batch_norm(channels, rngs)
        for index, layers in enumerate(blocks, start=1):
            block = [DenseLayer(channels + i * growth, growth, rngs=rngs) for i in range(layers)]
            setattr(self, f"denseblock{index}", nnx.List(block))
            channels += layers * growth
            if index < len(blocks):
                setattr(self, f"transition{index}", Transition(channels, channels // 2,
                                                               rngs=rngs))
                channels //= 2
        self.norm5 = batch_norm(channels, rngs)
        self.head = PoolingHead(channels, num_classes, pooling=pooling, use_bias=True,
                                rngs=rngs)

    @property
    def layer_aliases(self) -> dict[str, str]:
        """torchvision's ``features.*`` names -> camjax's attributes."""
        aliases = {"features": "norm5", "classifier": "head.classifier"}
        aliases.update({f"features.{m}": m for m in ("conv0", "norm0", "norm5")})
        for index in range(1, self.num_blocks + 1):
            block = getattr(self, f"denseblock{index}")
            aliases.update({f"features.denseblock{index}.denselayer{j + 1}":
                            f"denseblock{index}.{j}" for j in range(len(block))})
            if index < self.num_blocks:
                aliases[f"features.transition{index}"] = f"transition{index}"
        return aliases

    def backbone(self, images: jax.Array) -> jax.Array:
        """relu(norm5(...)) (B, h, w, K): the CAM's features."""
        x = max_pool2d(jax.nn.relu(self.norm0(self.conv0(images))), 3, 2, 1)
        for index in range(1, self.num_blocks + 1):
            # the channel order (the block's input, then each layer's new maps in turn)
            # is torchvision's torch.cat order, which the weights expect
            for layer in getattr(self, f"denseblock{index}"):
                x = jnp.concatenate([x, layer(x)], axis=-1)
            if index < self.num_blocks:
                x = getattr(self, f"transition{index}")(x)
        return jax.nn.relu(self.norm5(x))

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        features = self.backbone(images)
        return self.head(features), features


for _arch in CONFIGS:
    register(_arch)(functools.partial(DenseNet, _arch))
