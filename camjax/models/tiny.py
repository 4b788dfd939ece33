"""tiny_gap: a small GAP network for tests and the demo (stride 8: 14x14 maps at 112)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.models.heads import CamConv, global_pool
from camjax.models.registry import register
from camjax.models.wsol import WsolNetwork


class ConvBNReLU(nnx.Module):
    def __init__(self, cin: int, cout: int, *, kernel: int = 3, stride: int = 1,
                 rngs: nnx.Rngs):
        self.conv = nnx.Conv(cin, cout, (kernel, kernel), strides=stride,
                             padding=kernel // 2 if kernel % 2 else 0,  # even: patchify
                             use_bias=False, rngs=rngs)
        self.norm = nnx.BatchNorm(cout, momentum=0.9, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.relu(self.norm(self.conv(x)))


class PooledMean(nnx.Module):
    """The per-channel mean over the batch of the pooled features (B, h, w, K) -> (K,);
    in eval mode (``use_running_average``) its running average, updated like BatchNorm's.

    Subtracted from the classifier's input it is mean-only batch normalisation
    (Salimans & Kingma, NeurIPS 2016, section 3.1). The gradient flows through the batch
    mean, as in BatchNorm, so no update can move what every image of a batch shares.
    """

    def __init__(self, num_features: int, *, pooling: str, momentum: float = 0.9):
        self.pooling, self.momentum = pooling, momentum
        self.use_running_average = False
        self.mean = nnx.BatchStat(jnp.zeros((num_features,), jnp.float32))

    def __call__(self, features: jax.Array) -> jax.Array:
        if self.use_running_average:
            return self.mean[...]
        m = global_pool(features, self.pooling).astype(jnp.float32).mean(axis=0)
        self.mean[...] = (self.momentum * self.mean[...]
                          + (1 - self.momentum) * jax.lax.stop_gradient(m))
        return m


@register("tiny_gap")
class TinyGAP(WsolNetwork, nnx.Module):
    """Five 3x3 conv + BN + ReLU layers (three with stride 2), the CAM conv, pooling, dense.

    Stride 8: 14x14 maps at 112 px. Sized to train in minutes on 2 CPU cores.

    ``center_pooled=True`` centres the classifier's input: it sees the pooled features
    minus their batch mean (running mean in eval mode), logits = W^T (pool(F) - m).
    Why (experiments/results/gap_vs_gmp/FINDINGS.md): the max over 196 positions of a
    BatchNorm + ReLU map is about 3 standard deviations in every channel of every image,
    so GMP's pooled vector is mostly one image-independent offset (mean 3.1, std over
    images 0.9 at init; squared norm of the mean ~1200 against ~18 for GAP). The updates
    of a bias-free classifier then mostly move one logit vector shared by every image,
    ~65x more per step than with GAP; the shared logits chase each batch's label counts
    and training escapes by flattening the maps, which removes what the max could tell
    apart: GMP stays at chance in 500 steps. Centred, GMP reaches 8% top-1 error in 300
    steps; GAP is unchanged. Pooling commutes with subtracting a per-channel constant
    (pool(F - m) = pool(F) - m for the mean and the max), so the head pools F - m; the
    returned features are F itself, and each class's CAM sum_k W_kc F_k differs from the
    map of the centred features by a constant (the min-max normalised CAM is the same).
    Off by default (the demo's network).

    ``cam_batch_norm=False`` gives the CAM conv a bias and no BatchNorm (the paper's head).

    WSOL methods (``wsol_method``, camjax.models.wsol): ADL after backbone layers 2, 3
    and 4 (the last three, before the CAM conv, as in wsolevaluation's VGG); ACoL's
    branches (``cam_channels`` wide) on layer 4's output instead of the CAM conv; SPG's
    branches on layers 2 and 3 (64 wide), SPG_C on the CAM conv's output; the few-shot
    foreground head on the CAM conv's output.
    """
    features_layer = "cam_conv"
    ADL_AFTER = (2, 3, 4)
    SPG_TAPS = (2, 3)

    def __init__(self, *, num_classes: int, pooling: str = "gap",
                 widths: tuple[int, ...] = (24, 32, 48, 64, 96),
                 strides: tuple[int, ...] = (2, 2, 1, 2, 1),
                 kernels: tuple[int, ...] | None = None, cam_channels: int = 128,
                 cam_batch_norm: bool = True, center_pooled: bool = False,
                 wsol_method: str = "cam", acol_threshold: float = 0.7,
                 adl_drop_rate: float = 0.75, adl_threshold: float = 0.9, rngs: nnx.Rngs):
        kernels = kernels or (3,) * len(widths)
        if not len(widths) == len(strides) == len(kernels):
            raise ValueError(f"widths {widths}, strides {strides} and kernels {kernels} "
                             "differ in length")
        chans = (3, *widths)
        self.backbone = nnx.List([ConvBNReLU(cin, cout, kernel=k, stride=st, rngs=rngs)
                                  for cin, cout, k, st
                                  in zip(chans[:-1], chans[1:], kernels, strides)])
        self.pooled_mean = (PooledMean(cam_channels, pooling=pooling) if center_pooled
                            else None)
        acol = wsol_method == "acol"
        self.cam_conv = None if acol else CamConv(widths[-1], cam_channels,
                                                  batch_norm=cam_batch_norm, rngs=rngs)
        if wsol_method == "spg" and len(widths) <= max(self.SPG_TAPS):
            raise ValueError(f"SPG reads backbone layers {self.SPG_TAPS}: widths needs at "
                             f"least {max(self.SPG_TAPS) + 1} layers, got {len(widths)}")
        b1, b2 = (widths[i] if i < len(widths) else 0 for i in self.SPG_TAPS)
        self.init_wsol(wsol_method, num_classes=num_classes, pooling=pooling,
                       features=cam_channels, acol_input=widths[-1], acol_width=cam_channels,
                       acol_threshold=acol_threshold, spg_channels=(b1, b2, 64, 64),
                       adl_drop_rate=adl_drop_rate, adl_threshold=adl_threshold, rngs=rngs)

    def trunk(self, images: jax.Array) -> dict:
        taps, x = {}, images
        for index, layer in enumerate(self.backbone):
            x = layer(x)
            if index in self.ADL_AFTER:
                x = self.maybe_adl(x)
            if index in self.SPG_TAPS:
                taps["b1" if index == self.SPG_TAPS[0] else "b2"] = x
        taps["features"] = x if self.cam_conv is None else self.cam_conv(x)
        return taps

    def _logits(self, taps: dict) -> jax.Array:
        features = taps["features"]
        if self.pooled_mean is None:
            return self.head(features)
        shift = self.pooled_mean(features).astype(features.dtype)
        return self.head(features - shift)
