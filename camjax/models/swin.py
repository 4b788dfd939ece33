"""torchvision's Swin Transformers ``swin_t``, ``swin_s``, ``swin_b`` as they are.

The NNX tree is torchvision's: ``features.0`` (4x4/4 conv, ``Permute``, LayerNorm),
``features.1/3/5/7`` the stages (``SwinTransformerBlock``: ``norm1``, ``attn`` = shifted
window attention with ``qkv``, ``proj`` and ``relative_position_bias_table``, ``norm2``,
``mlp.0``, ``mlp.3``), ``features.2/4/6`` the patch mergings (``reduction``, ``norm``), then
``norm``, ``permute``, ``avgpool``, ``flatten``, ``head``. LayerNorm eps 1e-5, window 7,
shift 3 in every second block. camjax is NHWC throughout, so ``Permute`` layers are the
identity here and every stage's output is a (B, h, w, C) grid.

The head is LayerNorm, then the average over all tokens, then a linear layer, so the CAM
is exact on the normed token grid: ``features`` are ``norm``'s output (B, H/32, W/32, 8C;
7x7x768 for ``swin_t`` at 224) and ``cam_weights`` is the head's kernel; the logits are the
mean of the CAM plus the head's bias.

Any input size works with torchvision's rules, applied per call: the patch conv drops a
remainder below 4 pixels, a patch merging pads an odd grid with a zero row/column at the
bottom/right, window attention zero-pads the grid to multiples of 7 at the bottom/right
(the padded tokens take part in the attention, unmasked, as in torchvision) and crops after,
and a shift is used only along an axis whose padded length exceeds the window. Sizes
divisible by 32 never pad in patch merging (224x256: grids 56x64 ... 7x8).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from camjax.errors import ModelError
from camjax.models.torch_layout import TorchLayout, convert
from camjax.models.registry import register
from camjax.models.transformer import (Identity, PreNormBlock, Sequential, attention_weights,
                                       layer_norm, linear, merge_heads, split_heads,
                                       torchvision_mlp)

EPS, PATCH, WINDOW = 1e-5, 4, 7
MASKED = -100.0  # torchvision's additive mask between tokens of different shifted regions
# name: (embed dim, depths, heads, torchvision's DEFAULT eval transform)
CONFIGS = {"swin_t": (96, (2, 2, 6, 2), (3, 6, 12, 24), (232, 224, "bicubic")),
           "swin_s": (96, (2, 2, 18, 2), (3, 6, 12, 24), (246, 224, "bicubic")),
           "swin_b": (128, (2, 2, 18, 2), (4, 8, 16, 32), (238, 224, "bicubic"))}


@functools.lru_cache(maxsize=None)
def relative_position_index(window: int) -> np.ndarray:
    """(w*w, w*w): the row of the bias table for each (query, key) pair of a window, from
    their offsets dy, dx in [-(w-1), w-1]: (dy + w - 1) * (2w - 1) + (dx + w - 1)."""
    y, x = np.divmod(np.arange(window * window), window)
    dy, dx = y[:, None] - y[None, :], x[:, None] - x[None, :]
    return (dy + window - 1) * (2 * window - 1) + (dx + window - 1)


def partition(x, window: int):
    """(B, H, W, C) -> (B, windows, w*w, C), windows in row-major order (jax or numpy)."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // window, window, w // window, window, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, (h // window) * (w // window), window * window, c)


def unpartition(x: jax.Array, window: int, height: int, width: int) -> jax.Array:
    """The inverse of :func:`partition`."""
    b, _, _, c = x.shape
    x = x.reshape(b, height // window, width // window, window, window, c)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, height, width, c)


def _regions(length: int, window: int, shift: int) -> np.ndarray:
    """Which of the three bands of a cyclically shifted axis each position falls in (the
    wrapped-around band must not attend to the others); one band without a shift."""
    if shift == 0:
        return np.zeros(length, int)
    pos = np.arange(length)
    return (pos >= length - window).astype(int) + (pos >= length - shift)


@functools.lru_cache(maxsize=64)
def shift_mask(height: int, width: int, window: int, shift_h: int, shift_w: int) -> np.ndarray:
    """(windows, w*w, w*w): 0 within a region, -100 across regions."""
    region = _regions(height, window, shift_h)[:, None] * 3 + _regions(width, window, shift_w)
    ids = partition(region[None, :, :, None], window)[0, :, :, 0]  # numpy: a constant
    return np.where(ids[:, :, None] != ids[:, None, :], MASKED, 0.0).astype(np.float32)


class ShiftedWindowAttention(nnx.Module):
    """torchvision's ``ShiftedWindowAttention`` (``qkv``, ``proj``,
    ``relative_position_bias_table``; the index buffer is recomputed, not stored)."""

    def __init__(self, dim: int, heads: int, shift: int, rngs: nnx.Rngs):
        self.num_heads, self.window, self.shift = heads, WINDOW, shift
        self.qkv, self.proj = linear(dim, 3 * dim, rngs), linear(dim, dim, rngs)
        self.relative_position_bias_table = nnx.Param(0.02 * jax.random.truncated_normal(
            rngs.params(), -2, 2, ((2 * WINDOW - 1) ** 2, heads)))

    def with_attention(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(output (B, H, W, C), weights (B, windows, heads, w*w, w*w) on the padded,
        shifted grid)."""
        b, h, w, c = x.shape
        win = self.window
        x = jnp.pad(x, ((0, 0), (0, -h % win), (0, -w % win), (0, 0)))
        ph, pw = x.shape[1:3]
        # no shift along an axis that one window covers (decided per call)
        sh, sw = (0 if win >= ph else self.shift), (0 if win >= pw else self.shift)
        if sh or sw:
            x = jnp.roll(x, (-sh, -sw), axis=(1, 2))
        q, k, v = split_heads(self.qkv(partition(x, win)), self.num_heads)
        table = self.relative_position_bias_table[...]
        bias = table[relative_position_index(win)].transpose(2, 0, 1)  # (heads, N, N)
        if sh or sw:
            bias = bias[None] + shift_mask(ph, pw, win, sh, sw)[:, None]
        weights = attention_weights(q, k, bias)
        out = unpartition(self.proj(merge_heads(weights, v)), win, ph, pw)
        if sh or sw:
            out = jnp.roll(out, (sh, sw), axis=(1, 2))
        return out[:, :h, :w], weights

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.with_attention(x)[0]


class SwinTransformerBlock(PreNormBlock):
    """torchvision's ``SwinTransformerBlock`` (stochastic depth is the identity here)."""
    parts = ("norm1", "attn", "norm2", "mlp")

    def __init__(self, dim: int, heads: int, shift: int, rngs: nnx.Rngs):
        self.norm1 = layer_norm(dim, EPS, rngs)
        self.attn = ShiftedWindowAttention(dim, heads, shift, rngs)
        self.norm2 = layer_norm(dim, EPS, rngs)
        self.mlp = torchvision_mlp(dim, 4 * dim, rngs)


class PatchMerging(nnx.Module):
    """2x2 neighbours concatenated (an odd grid zero-padded first), LayerNorm, linear."""

    def __init__(self, dim: int, rngs: nnx.Rngs):
        self.reduction = linear(4 * dim, 2 * dim, rngs, use_bias=False)
        self.norm = layer_norm(4 * dim, EPS, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.pad(x, ((0, 0), (0, x.shape[1] % 2), (0, x.shape[2] % 2), (0, 0)))
        x = jnp.concatenate([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2],
                             x[:, 1::2, 1::2]], axis=-1)
        return self.reduction(self.norm(x))


class AvgPool(nnx.Module):
    """``nn.AdaptiveAvgPool2d(1)`` on NHWC: (B, h, w, C) -> (B, 1, 1, C)."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return x.mean(axis=(1, 2), keepdims=True)


class Flatten(nnx.Module):
    def __call__(self, x: jax.Array) -> jax.Array:
        return x.reshape(x.shape[0], -1)


class SwinTransformer(TorchLayout, nnx.Module):
    """torchvision's ``SwinTransformer`` (v1)."""
    torchvision_head = True  # load_pretrained fills the classifier too
    classifier_path = ("head",)
    features_layer = "norm"

    def __init__(self, arch: str, *, num_classes: int, pooling: str = "gap",
                 depths: tuple[int, ...] | None = None, rngs: nnx.Rngs):
        dim, default_depths, heads, self.imagenet_eval = CONFIGS[arch]
        depths = tuple(default_depths if depths is None else depths)
        if pooling != "gap":
            raise ModelError(f"{arch} averages its tokens (torchvision's avgpool); "
                             f"pooling={pooling!r} is not supported (leave the default)")
        if len(depths) != len(heads) or min(depths) < 1:
            raise ModelError(f"{arch}: depths must be {len(heads)} positive block counts, "
                             f"got {depths!r}")
        self.arch = arch
        layers = [Sequential([nnx.Conv(3, dim, (PATCH, PATCH), strides=PATCH, padding="VALID",
                                       rngs=rngs), Identity(), layer_norm(dim, EPS, rngs)])]
        for stage, (depth, n_heads) in enumerate(zip(depths, heads)):
            width = dim * 2 ** stage
            layers.append(Sequential([
                SwinTransformerBlock(width, n_heads, 0 if i % 2 == 0 else WINDOW // 2, rngs)
                for i in range(depth)]))
            if stage < len(depths) - 1:
                layers.append(PatchMerging(width, rngs))
        self.features = Sequential(layers)
        width = dim * 2 ** (len(depths) - 1)
        self.norm = layer_norm(width, EPS, rngs)
        self.permute, self.avgpool, self.flatten = Identity(), AvgPool(), Flatten()
        self.head = linear(width, num_classes, rngs)

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        features = self.norm(self.features(images))
        return self.classify(features), features

    def backbone(self, images: jax.Array) -> jax.Array:
        """``norm``'s output (B, h, w, C): the CAM's features."""
        return self.norm(self.features(images))

    def classify(self, features: jax.Array) -> jax.Array:
        """The rest of the network from ``features``: average over tokens, linear."""
        return self.head(self.flatten(self.avgpool(self.permute(features))))

    def cam_weights(self, features: jax.Array) -> jax.Array:
        """(C, classes): the head's kernel (the CAM is exact; the bias shifts the score)."""
        return self.head.kernel[...]

    def to_grid(self, activation: jax.Array, image_shape) -> jax.Array:
        """Swin's token layers are (B, h, w, C) grids already."""
        if activation.ndim != 4:
            raise ModelError(f"{self.arch}: expected a (B, h, w, C) activation, got shape "
                             f"{tuple(activation.shape)}")
        return activation

    def torch_path(self, name: str, paths=None):
        if name.endswith("relative_position_index"):  # a buffer camjax recomputes
            return None
        return super().torch_path(name, paths)

    def from_torch(self, name: str, array: np.ndarray) -> np.ndarray:
        if name.endswith("relative_position_bias_table"):  # (rows, heads) in both
            return np.asarray(array)
        return convert(array)


for _name in CONFIGS:
    register(_name)(functools.partial(SwinTransformer, _name))
