"""The paper's CAM head: 3x3 conv (stride 1, pad 1, ReLU), global pooling, dense without bias."""
from __future__ import annotations

import jax
from flax import nnx


class CamConv(nnx.Module):
    """The 3x3 conv added on top of a truncated backbone (paper section 3.1).

    ``groups=2`` reproduces the released VGG/GoogLeNet models (Caffe ``group: 2``).
    """

    def __init__(self, in_features: int, out_features: int = 1024, *, groups: int = 1,
                 batch_norm: bool = False, rngs: nnx.Rngs):
        self.conv = nnx.Conv(in_features, out_features, (3, 3), padding=1,
                             feature_group_count=groups, use_bias=not batch_norm, rngs=rngs)
        # The paper's head has no BatchNorm; networks trained from scratch (tiny_gap)
        # use one so the pooled features keep a healthy scale early in training.
        self.norm = nnx.BatchNorm(out_features, momentum=0.9, rngs=rngs) if batch_norm else None

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.conv(x)
        return jax.nn.relu(self.norm(x) if self.norm is not None else x)


def global_pool(features: jax.Array, pooling: str) -> jax.Array:
    """(B, h, w, K) -> (B, K) by average ("gap") or max ("gmp") over space."""
    if pooling == "gap":
        return features.mean(axis=(1, 2))
    if pooling == "gmp":
        return features.max(axis=(1, 2))
    raise ValueError(f"pooling must be 'gap' or 'gmp', got {pooling!r}")


class PoolingHead(nnx.Module):
    """Global pooling, optional dropout, dense layer (no bias unless ``use_bias``).

    The paper's networks have no bias (it sets it to 0): then the sum over space of the CAM
    equals h*w times the class score for GAP, as the identity tests check. torchvision's
    classifiers (``resnet50``, ``densenet121``, ...) keep their fc bias (``use_bias=True``,
    initialised to 0): a per-class constant that shifts the score but not the CAM.
    """

    def __init__(self, in_features: int, num_classes: int, *, pooling: str = "gap",
                 dropout_rate: float = 0.0, use_bias: bool = False, rngs: nnx.Rngs):
        if pooling not in ("gap", "gmp"):
            raise ValueError(f"pooling must be 'gap' or 'gmp', got {pooling!r}")
        self.pooling = pooling
        self.dropout = nnx.Dropout(dropout_rate, rngs=rngs) if dropout_rate else None
        self.classifier = nnx.Linear(in_features, num_classes, use_bias=use_bias,
                                     kernel_init=nnx.initializers.normal(0.01), rngs=rngs)

    def __call__(self, features: jax.Array) -> jax.Array:
        pooled = global_pool(features, self.pooling)
        if self.dropout is not None:
            pooled = self.dropout(pooled)
        return self.classifier(pooled)


def walk(module: nnx.Module, path) -> nnx.Module:
    """The submodule at an attribute path (``("classifier", 1)``)."""
    for key in path:
        module = module[key] if isinstance(key, int) else getattr(module, key)
    return module


class PoolingClassifier:
    """Mixin for a network whose class scores are global pooling then a linear layer on its
    features: the network contract's ``classify`` (the rest of the network from the
    features, which the gradient methods differentiate at the default layer) and
    ``cam_weights`` (the classifier kernel (K, C): the CAM is exact, the same for every
    image).

    Two layouts: camjax's ``head`` (a :class:`PoolingHead`, which pools itself; the default
    ``classifier_path = ("head", "classifier")``), or torchvision's, where the network pools
    (``self.pooling``) and then calls the module ``self.<classifier_path[0]>`` that ends in
    the linear layer at ``classifier_path`` (EfficientNet's ``classifier`` = Dropout,
    Linear: ``("classifier", 1)``).
    """
    pooling: str = "gap"
    classifier_path: tuple = ("head", "classifier")

    def classify(self, features: jax.Array) -> jax.Array:
        head = getattr(self, self.classifier_path[0])
        if isinstance(head, PoolingHead):
            return head(features)
        return head(global_pool(features, self.pooling))

    def cam_weights(self, features: jax.Array | None = None) -> jax.Array:
        """(K, C): the classifier's kernel, the same for every image (``features`` unused)."""
        return walk(self, self.classifier_path).kernel[...]

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(logits, features)`` from ``self.backbone(images)`` (the output of
        ``features_layer``); networks with a forward of their own override it."""
        features = self.backbone(images)
        return self.classify(features), features
