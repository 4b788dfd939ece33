"""timm's DeiT ``deit_small_patch16_224`` and ``deit_base_patch16_224`` as they are.

DeiT (Touvron et al., 2021) is the ViT layout under timm's names: ``patch_embed.proj``,
``cls_token``, ``pos_embed``, ``blocks.{i}`` (``norm1``, ``attn.qkv``, ``attn.proj``,
``norm2``, ``mlp.fc1``, ``mlp.fc2``), ``norm``, ``head``; LayerNorm eps 1e-6, exact GELU,
q/k/v bias. timm state dicts (``deit_small_patch16_224.fb_in1k``, ...) load whole; the same
layout is timm's ``vit_small_patch16_224``/``vit_base_patch16_224``, whose weights load too.
The arithmetic is torchvision's ViT's (:mod:`camjax.models.vit_base`); ``features`` are the
last block's ``norm1`` output as the patch-token grid (14x14 at 224). Other input sizes
resample the position embeddings as timm does with ``dynamic_img_size=True``
(:mod:`camjax.models.pos_embed`); ``image_size`` (timm's ``img_size``, default 224) is the
grid the checkpoint's embeddings were trained at. The distilled DeiTs (a second,
distillation token) are another architecture.

Options besides timm's sizes: ``depth``, ``embed_dim``, ``num_heads`` and ``patch_size``
(a smaller DeiT: the tests' tiny one), ``drop_path_rate`` (timm's stochastic depth, rates
``linspace(0, drop_path_rate, depth)`` over the blocks, training only; 0 by default: the
network at inference), and ``wsol_method="tscam"``: TS-CAM (:class:`TSCAM`,
:mod:`camjax.models.wsol.tscam`), the head a 3x3 conv to per-class token maps.
"""
from __future__ import annotations

import functools

import jax
from flax import nnx

from camjax.errors import ModelError
from camjax.models.registry import register
from camjax.models.transformer import (PreNormBlock, TimmAttention, TimmMlp, drop_path,
                                       drop_path_rates, layer_norm, linear)
from camjax.models.vit_base import ViTBase, check_options
from camjax.models.wsol import tscam

EPS = 1e-6
PATCH = 16
WSOL_METHODS = ("cam", "tscam")
# name: (depth, heads, dim); timm's eval transform: crop_pct 0.9 -> resize floor(224 / 0.9)
CONFIGS = {"deit_small_patch16_224": (12, 6, 384), "deit_base_patch16_224": (12, 12, 768)}
IMAGENET_EVAL = (248, 224, "bicubic")


class Block(PreNormBlock):
    """timm's ``Block`` (no layer scale, no drop path at inference)."""
    parts = ("norm1", "attn", "norm2", "mlp")

    def __init__(self, dim: int, heads: int, rngs: nnx.Rngs, drop_rate: float = 0.0):
        self.norm1 = layer_norm(dim, EPS, rngs)
        self.attn = TimmAttention(dim, heads, rngs)
        self.norm2 = layer_norm(dim, EPS, rngs)
        self.mlp = TimmMlp(dim, 4 * dim, rngs)
        if drop_rate > 0:
            self.drop_path = drop_path(drop_rate, rngs)


class PatchEmbed(nnx.Module):
    """timm's ``PatchEmbed``: ``proj`` (16x16 conv, stride 16); output the (B, h, w, D)
    patch grid (timm's NHWC output with ``dynamic_img_size``)."""

    def __init__(self, dim: int, rngs: nnx.Rngs, patch: int = PATCH):
        self.proj = nnx.Conv(3, dim, (patch, patch), strides=patch, padding="VALID", rngs=rngs)

    def __call__(self, images: jax.Array) -> jax.Array:
        return self.proj(images)


class DeiT(ViTBase, nnx.Module):
    """timm's ``VisionTransformer`` as ``deit_*_patch16_224`` builds it (class token,
    global_pool="token")."""
    classifier_path = ("head",)

    def __init__(self, arch: str, *, num_classes: int, pooling: str = "gap",
                 image_size: int = 224, depth: int | None = None,
                 embed_dim: int | None = None, num_heads: int | None = None,
                 patch_size: int = PATCH, drop_path_rate: float = 0.0,
                 pos_embed_resize: str = "timm", rngs: nnx.Rngs):
        layers, heads, dim = CONFIGS[arch]
        depth = layers if depth is None else depth
        heads = heads if num_heads is None else num_heads
        dim = dim if embed_dim is None else embed_dim
        check_options(arch, pooling, image_size, patch_size, pos_embed_resize)
        if dim % heads or not 0 <= drop_path_rate < 1:
            raise ModelError(f"{arch}: embed_dim must be a multiple of num_heads ({dim} and "
                             f"{heads}) and drop_path_rate in [0, 1) ({drop_path_rate!r})")
        self.arch, self.patch_size, self.pos_embed_resize = arch, patch_size, pos_embed_resize
        self.imagenet_eval = IMAGENET_EVAL
        self.features_layer = f"blocks.{depth - 1}.norm1"
        self.alias_pairs = (("blocks", f"blocks.{depth - 1}"),)
        self.patch_embed = PatchEmbed(dim, rngs, patch_size)
        self.cls_token = nnx.Param(1e-6 * jax.random.normal(rngs.params(), (1, 1, dim)))
        self.pos_embed = nnx.Param(0.02 * jax.random.truncated_normal(
            rngs.params(), -2, 2, (1, (image_size // patch_size) ** 2 + 1, dim)))
        self.blocks = nnx.List([Block(dim, heads, rngs, rate)
                                for rate in drop_path_rates(drop_path_rate, depth)])
        self.norm = layer_norm(dim, EPS, rngs)
        self.head = self.make_head(dim, num_classes, rngs)

    def make_head(self, dim: int, num_classes: int, rngs: nnx.Rngs) -> nnx.Module:
        return linear(dim, num_classes, rngs)

    def patch_conv(self):
        return self.patch_embed

    def class_token_param(self):
        return self.cls_token

    def pos_embed_param(self):
        return self.pos_embed

    def block_list(self):
        return list(self.blocks)

    def final_norm(self):
        return self.norm

    def head_logits(self, cls_token):
        return self.head(cls_token)


class TSCAM(tscam.CoupledMaps, DeiT):
    """TS-CAM on a DeiT (the authors' ``TSCAM``, vasgaowei/TS-CAM ``lib/models/deit.py``):
    ``head`` is a 3x3 conv to the classes' semantic-aware maps, which are ``features``;
    the logits their mean; the map (``class_maps``, the engine's ``cam``) the class
    token's attention summed over the blocks times the map. DeiT weights fill everything
    but the head (``torch_new``); the authors' trained checkpoints load whole."""
    torch_new = ("head",)

    def __init__(self, arch: str, **kwargs):
        super().__init__(arch, **kwargs)
        self.features_layer = "head"

    def make_head(self, dim: int, num_classes: int, rngs: nnx.Rngs) -> nnx.Module:
        return tscam.head(dim, num_classes, rngs)


def deit(arch: str, *, num_classes: int, pooling: str = "gap", image_size: int = 224,
         depth: int | None = None, embed_dim: int | None = None, num_heads: int | None = None,
         patch_size: int = PATCH, drop_path_rate: float = 0.0, pos_embed_resize: str = "timm",
         wsol_method: str = "cam", rngs: nnx.Rngs) -> DeiT:
    """timm's DeiT ``arch``, or TS-CAM on it (``wsol_method="tscam"``)."""
    if wsol_method not in WSOL_METHODS:
        raise ModelError(f"{arch}: wsol_method must be one of {WSOL_METHODS}, got "
                         f"{wsol_method!r}")
    return (TSCAM if wsol_method == "tscam" else DeiT)(
        arch, num_classes=num_classes, pooling=pooling, image_size=image_size, depth=depth,
        embed_dim=embed_dim, num_heads=num_heads, patch_size=patch_size,
        drop_path_rate=drop_path_rate, pos_embed_resize=pos_embed_resize, rngs=rngs)


deit.torchvision_head = True   # timm's files fill the classifier too: localize --model

for _name in CONFIGS:
    _factory = functools.partial(deit, _name)
    _factory.WSOL_METHODS = WSOL_METHODS   # the WSOL methods it hosts (checks.wsol)
    register(_name)(_factory)
