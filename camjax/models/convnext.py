"""torchvision's ConvNeXt (``convnext_tiny``, ``_small``, ``_base``, ``_large``) as it is.

``features`` mirrors torchvision's ``nn.Sequential``: ``features.0`` the stem (4x4/4 conv
with bias, LayerNorm2d), ``features.1/3/5/7`` the stages of ``CNBlock``s, ``features.2/4/6``
the downsampling layers (LayerNorm2d, 2x2/2 conv). A block is ``block.0`` a 7x7 depthwise
conv, ``block.2`` LayerNorm, ``block.3`` a linear layer to 4x the width, ``block.4`` GELU (the
exact erf form), ``block.5`` a linear layer back, times ``layer_scale`` (one scale per
channel), plus the input; ``stochastic_depth`` drops the residual branch of a whole image in
training only (its rate rises linearly over the blocks to 0.1 / 0.4 / 0.5 / 0.5) and is the
identity in eval mode. torchvision's ``block.1``/``block.6`` permute to and from
channels-last: the identity here (camjax is NHWC). All LayerNorms have eps 1e-6.

``features`` (the CAM's maps) = the output of ``features`` (768 channels for tiny/small, 1024
base, 1536 large; 7x7 at 224), then ``avgpool`` (global average), ``classifier.0`` a
LayerNorm2d over the pooled channels, ``classifier.1`` flatten, ``classifier.2`` linear.

The CAM (``cam_weights``). With pooled features ``v = mean_xy f(x, y)`` (K channels), the
LayerNorm's per-image mean ``mu`` and ``sigma = sqrt(var(v) + eps)``, its scale ``gamma``
and shift ``beta``, and the linear layer's ``W`` (K x C) and ``b``::

    logit_c = sum_k v_k w_kc + (sum_k beta_k W_kc + b_c),
    w_kc    = (gamma_k W_kc - mean_j gamma_j W_jc) / sigma

(subtracting ``mu`` from every v_k is the same as removing the mean over k of each class's
weights). ``cam_weights(features)`` returns these per-image (B, K, C) weights, and the CAM
``M_c(x, y) = sum_k f_k(x, y) w_kc`` has spatial mean exactly ``logit_c`` minus the per-class
constant ``beta . W_c + b_c``, which does not depend on the image. The per-image factor
``1 / sigma`` is positive and the same for all classes: it scales the maps of an image but
not their shape, and min-max or max normalisation removes it. With ``pooling="gmp"`` ``v``
is the spatial maximum and the same weights give the logit from ``v``.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from camjax.models.layers import Activation, Flatten, GlobalPool, Identity, Sequential
from camjax.models.registry import register
from camjax.models.torch_layout import TorchLayout, convert

EPS = 1e-6
# name: (stage widths, blocks per stage, stochastic depth rate, eval resize), torchvision's
# table; its DEFAULT weights evaluate at crop 224 with bilinear resizing
CONFIGS = {"convnext_tiny": ((96, 192, 384, 768), (3, 3, 9, 3), 0.1, 236),
           "convnext_small": ((96, 192, 384, 768), (3, 3, 27, 3), 0.4, 230),
           "convnext_base": ((128, 256, 512, 1024), (3, 3, 27, 3), 0.5, 232),
           "convnext_large": ((192, 384, 768, 1536), (3, 3, 27, 3), 0.5, 232)}


def layer_norm(dim: int, rngs: nnx.Rngs) -> nnx.LayerNorm:
    """``nn.LayerNorm(dim, eps=1e-6)`` over the channels (torchvision's ``LayerNorm2d`` on
    NCHW is this on NHWC). The two-pass variance, as torch computes it."""
    return nnx.LayerNorm(dim, epsilon=EPS, use_fast_variance=False, rngs=rngs)


def _conv(cin: int, cout: int, kernel: int, rngs: nnx.Rngs, *, stride: int = 1,
          padding: int = 0, groups: int = 1) -> nnx.Conv:
    return nnx.Conv(cin, cout, (kernel, kernel), strides=stride, padding=padding,
                    feature_group_count=groups, rngs=rngs,
                    kernel_init=nnx.initializers.truncated_normal(0.02))


def _linear(cin: int, cout: int, rngs: nnx.Rngs) -> nnx.Linear:
    return nnx.Linear(cin, cout, kernel_init=nnx.initializers.truncated_normal(0.02), rngs=rngs)


class CNBlock(nnx.Module):
    """x + stochastic_depth(layer_scale * block(x))."""

    def __init__(self, dim: int, layer_scale: float, stochastic_depth: float, *,
                 rngs: nnx.Rngs):
        self.block = Sequential([_conv(dim, dim, 7, rngs, padding=3, groups=dim), Identity(),
                                 layer_norm(dim, rngs), _linear(dim, 4 * dim, rngs),
                                 Activation("gelu"),
                                 _linear(4 * dim, dim, rngs), Identity()])
        self.layer_scale = nnx.Param(jnp.full((dim,), layer_scale, jnp.float32))
        # torchvision's StochasticDepth(p, "row"): one Bernoulli per image, scaled by 1/(1-p)
        self.stochastic_depth = nnx.Dropout(stochastic_depth, broadcast_dims=(1, 2, 3),
                                            rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return x + self.stochastic_depth(self.layer_scale[...] * self.block(x))


class ConvNeXt(TorchLayout, nnx.Module):
    """torchvision's ``convnext_*``: features, global pooling, LayerNorm2d, flatten, linear."""
    torchvision_head = True
    features_layer = "features"
    classifier_path = ("classifier", 2)

    def __init__(self, arch: str, *, num_classes: int, pooling: str = "gap",
                 layer_scale: float = 1e-6, stochastic_depth_prob: float | None = None,
                 rngs: nnx.Rngs):
        if arch not in CONFIGS:
            raise ValueError(f"ConvNeXt must be one of {sorted(CONFIGS)}, got {arch!r}")
        widths, depths, depth_rate, resize = CONFIGS[arch]
        depth_rate = depth_rate if stochastic_depth_prob is None else stochastic_depth_prob
        self.arch, self.imagenet_eval = arch, (resize, 224, "bilinear")
        layers = [Sequential([_conv(3, widths[0], 4, rngs, stride=4),
                              layer_norm(widths[0], rngs)])]
        total, index = sum(depths), 0
        for stage, (width, depth) in enumerate(zip(widths, depths)):
            blocks = []
            for _ in range(depth):
                blocks.append(CNBlock(width, layer_scale, depth_rate * index / (total - 1),
                                      rngs=rngs))
                index += 1
            layers.append(Sequential(blocks))
            if stage + 1 < len(widths):
                layers.append(Sequential([layer_norm(width, rngs),
                                          _conv(width, widths[stage + 1], 2, rngs, stride=2)]))
        self.features = Sequential(layers)
        self.avgpool = GlobalPool(pooling)  # torch's name; global max pooling for "gmp"
        self.classifier = Sequential([layer_norm(widths[-1], rngs), Flatten(),
                                      _linear(widths[-1], num_classes, rngs)])

    def classify(self, features: jax.Array) -> jax.Array:
        """The logits from ``features``: pooling, LayerNorm, flatten, linear."""
        return self.classifier(self.avgpool(features))

    def cam_weights(self, features: jax.Array) -> jax.Array:
        """Per-image (B, K, C) CAM weights: the LayerNorm folded into the classifier (see
        the module docstring); the features' CAM has mean logit - (beta . W + b)."""
        pooled = self.avgpool(features).reshape(features.shape[0], -1)
        norm, linear = self.classifier[0], self.classifier[2]
        sigma = jnp.sqrt(pooled.var(axis=-1) + norm.epsilon)                 # (B,)
        scaled = norm.scale[...][:, None] * linear.kernel[...]               # (K, C)
        centred = scaled - scaled.mean(axis=0, keepdims=True)
        return centred[None] / sigma[:, None, None]

    def from_torch(self, name: str, array: np.ndarray) -> np.ndarray:
        if name.endswith(".layer_scale"):  # torch keeps it (K, 1, 1) to broadcast on NCHW
            return np.asarray(array).reshape(-1)
        return convert(array)

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        features = self.features(images)
        return self.classify(features), features


for _arch in CONFIGS:
    register(_arch)(functools.partial(ConvNeXt, _arch))
