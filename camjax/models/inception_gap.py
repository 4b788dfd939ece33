"""InceptionV3-GAP: wsolevaluation's InceptionV3 (Choe et al., CVPR 2020, ``wsol/inception.py``,
after SPG's ``inception3``), on torchvision's Inception3 module names.

torchvision's ``inception_v3`` up to ``Mixed_6e`` with wsolevaluation's changes for 28x28
maps: ``Conv2d_1a_3x3`` with padding 1, both stem max pools 3x3/2 with padding 1 (ceil
mode), ``Mixed_6a`` with stride 1 and padding 1 (its pool branch: max pool 3x3/1, pad 1),
and a 3x3/2 max pool (ceil mode) before ``Mixed_6a`` unless
``mapping_resolution=28`` (wsolevaluation's ``large_feature_map``): 14x14 maps at 224 by
default. On top: dropout 0.5, ``SPG_A3_1b`` (conv 3x3, 1024, ReLU), dropout,
``SPG_A3_2b`` (conv 3x3, 1024, ReLU): the features; dropout; global pooling and the dense
layer with a bias (wsolevaluation's ``SPG_A4``, a 1x1 conv whose spatial mean is the
logits: the same map). BasicConv2d: conv without bias, BatchNorm eps 1e-3, ReLU. Input:
ImageNet-normalised images (no ``transform_input``, as wsolevaluation).

WSOL methods (camjax.models.wsol) at wsolevaluation's positions: ``adl``: ADL after
``Mixed_5d``, ``Mixed_6e`` and ``SPG_A3_2b``, no dropout; ``acol``: ``classifier_A`` /
``classifier_B`` (1024 wide) on ``Mixed_6e``; ``spg``: ``SPG_B_1a`` on the input of
``Mixed_6a``, ``SPG_B_2a`` on ``Mixed_6d``'s output (512 wide), ``SPG_C`` (512) on the
features after the last dropout; ``fewshot``: the foreground head on the features.

torchvision's ``inception_v3_google`` weights load into the stem and ``Mixed_5b`` ..
``Mixed_6e`` (``Mixed_7*``, ``AuxLogits`` and ``fc`` are skipped); the rest is new.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.models.googlenet import max_pool2d
from camjax.models.pretrained import TorchLayout
from camjax.models.registry import register
from camjax.models.wsol import WsolNetwork
from camjax.models.wsol.layers import INITS, avg_pool3, run, stack


class BasicConv2d(nnx.Module):
    """Conv (no bias), BatchNorm (eps 1e-3), ReLU; ``kernel`` / ``padding`` int or (h, w)."""

    def __init__(self, cin: int, cout: int, kernel, *, stride: int = 1, padding=0,
                 rngs: nnx.Rngs):
        kernel = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
        pad = (padding, padding) if isinstance(padding, int) else tuple(padding)
        self.conv = nnx.Conv(cin, cout, kernel, strides=stride, padding=[(p, p) for p in pad],
                             use_bias=False, kernel_init=INITS["xavier"], rngs=rngs)
        self.bn = nnx.BatchNorm(cout, momentum=0.9, epsilon=1e-3, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.relu(self.bn(self.conv(x)))


def _chain(x, *layers):
    for layer in layers:
        x = layer(x)
    return x


class InceptionA(nnx.Module):
    def __init__(self, cin: int, pool_features: int, *, rngs: nnx.Rngs):
        self.branch1x1 = BasicConv2d(cin, 64, 1, rngs=rngs)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1, rngs=rngs)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2, rngs=rngs)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1, rngs=rngs)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1, rngs=rngs)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1, rngs=rngs)
        self.branch_pool = BasicConv2d(cin, pool_features, 1, rngs=rngs)

    def __call__(self, x):
        return jnp.concatenate([
            self.branch1x1(x), _chain(x, self.branch5x5_1, self.branch5x5_2),
            _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
            self.branch_pool(avg_pool3(x))], axis=-1)


class InceptionB(nnx.Module):
    """wsolevaluation's ``InceptionB`` (``Mixed_6a``): stride and padding as given, the pool
    branch a 3x3 max pool with padding 1."""

    def __init__(self, cin: int, *, stride: int = 2, padding: int = 0, rngs: nnx.Rngs):
        self.stride = stride
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=stride, padding=padding, rngs=rngs)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1, rngs=rngs)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1, rngs=rngs)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=stride, padding=padding, rngs=rngs)

    def __call__(self, x):
        return jnp.concatenate([
            self.branch3x3(x),
            _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
            max_pool2d(x, 3, self.stride, 1)], axis=-1)


class InceptionC(nnx.Module):
    def __init__(self, cin: int, c7: int, *, rngs: nnx.Rngs):
        row, col = dict(padding=(0, 3), rngs=rngs), dict(padding=(3, 0), rngs=rngs)
        self.branch1x1 = BasicConv2d(cin, 192, 1, rngs=rngs)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1, rngs=rngs)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), **row)
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), **col)
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1, rngs=rngs)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), **col)
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), **row)
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), **col)
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), **row)
        self.branch_pool = BasicConv2d(cin, 192, 1, rngs=rngs)

    def __call__(self, x):
        return jnp.concatenate([
            self.branch1x1(x),
            _chain(x, self.branch7x7_1, self.branch7x7_2, self.branch7x7_3),
            _chain(x, self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                   self.branch7x7dbl_4, self.branch7x7dbl_5),
            self.branch_pool(avg_pool3(x))], axis=-1)


@register("inception_v3_gap")
class InceptionV3GAP(WsolNetwork, TorchLayout, nnx.Module):
    """wsolevaluation's InceptionV3-CAM; features: ``SPG_A3_2b`` (1024 channels)."""
    arch = "inception_v3"
    torch_new = ("SPG_A3_1b", "SPG_A3_2b", "head")
    features_layer = "SPG_A3_2b"                      # the CAM's layer (cam, adl, spg)
    layer_aliases = {"SPG_A4": "head.classifier"}     # wsolevaluation's name of the head

    def __init__(self, *, num_classes: int, pooling: str = "gap", mapping_resolution: int = 14,
                 dropout_rate: float = 0.5, wsol_method: str = "cam",
                 acol_threshold: float = 0.7, adl_drop_rate: float = 0.75,
                 adl_threshold: float = 0.9, rngs: nnx.Rngs):
        if mapping_resolution not in (14, 28):
            raise ValueError(f"mapping_resolution must be 14 or 28 (at 224), "
                             f"got {mapping_resolution!r}")
        self.large = mapping_resolution == 28
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2, padding=1, rngs=rngs)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3, rngs=rngs)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1, rngs=rngs)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1, rngs=rngs)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3, rngs=rngs)
        self.Mixed_5b = InceptionA(192, 32, rngs=rngs)
        self.Mixed_5c = InceptionA(256, 64, rngs=rngs)
        self.Mixed_5d = InceptionA(288, 64, rngs=rngs)
        self.Mixed_6a = InceptionB(288, stride=1, padding=1, rngs=rngs)
        self.Mixed_6b = InceptionC(768, 128, rngs=rngs)
        self.Mixed_6c = InceptionC(768, 160, rngs=rngs)
        self.Mixed_6d = InceptionC(768, 160, rngs=rngs)
        self.Mixed_6e = InceptionC(768, 192, rngs=rngs)
        acol, adl = wsol_method == "acol", wsol_method == "adl"
        self.SPG_A3_1b = None if acol else stack((768, 1024, 3), "relu", rngs=rngs)
        self.SPG_A3_2b = None if acol else stack((1024, 1024, 3), "relu", rngs=rngs)
        # F.dropout(x, 0.5) three times in wsolevaluation's cam and spg networks
        self.dropout = None if acol or adl else nnx.Dropout(dropout_rate, rngs=rngs)
        self.init_wsol(wsol_method, num_classes=num_classes, pooling=pooling, features=1024,
                       acol_input=768, acol_threshold=acol_threshold,
                       spg_channels=(288, 768, 512, 512), adl_drop_rate=adl_drop_rate,
                       adl_threshold=adl_threshold, classifier_bias=True, rngs=rngs)
        self.torch_new = (*self.torch_new, *self.WSOL_MODULES)

    def torch_path(self, name: str, paths=None):
        if name.startswith(("Mixed_7", "AuxLogits.", "fc.")):
            return None                       # beyond Mixed_6e: not part of this network
        return super().torch_path(name, paths)

    def _drop(self, x: jax.Array) -> jax.Array:
        return x if self.dropout is None else self.dropout(x)

    def trunk(self, images: jax.Array) -> dict:
        taps = {}
        x = _chain(images, self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3)
        x = max_pool2d(x, 3, 2, 1, ceil_mode=True)
        x = _chain(x, self.Conv2d_3b_1x1, self.Conv2d_4a_3x3)
        x = max_pool2d(x, 3, 2, 1, ceil_mode=True)
        x = self.maybe_adl(_chain(x, self.Mixed_5b, self.Mixed_5c, self.Mixed_5d))
        if not self.large:
            x = max_pool2d(x, 3, 2, ceil_mode=True)
        taps["b1"] = x
        x = _chain(x, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c, self.Mixed_6d)
        taps["b2"] = x
        x = self.maybe_adl(self.Mixed_6e(x))
        if self.wsol_method == "acol":
            taps["features"] = x
            return taps
        x = run(self.SPG_A3_1b, self._drop(x))
        features = self.maybe_adl(run(self.SPG_A3_2b, self._drop(x)))
        taps["features"], taps["head_input"] = features, self._drop(features)
        return taps
