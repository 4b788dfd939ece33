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
"""
from __future__ import annotations

import functools

import jax
from flax import nnx

from camjax.models.registry import register
from camjax.models.transformer import PreNormBlock, TimmAttention, TimmMlp, layer_norm, linear
from camjax.models.vit_base import ViTBase, check_options

EPS = 1e-6
PATCH = 16
# name: (depth, heads, dim); timm's eval transform: crop_pct 0.9 -> resize floor(224 / 0.9)
CONFIGS = {"deit_small_patch16_224": (12, 6, 384), "deit_base_patch16_224": (12, 12, 768)}
IMAGENET_EVAL = (248, 224, "bicubic")


class Block(PreNormBlock):
    """timm's ``Block`` (no layer scale, no drop path at inference)."""
    parts = ("norm1", "attn", "norm2", "mlp")

    def __init__(self, dim: int, heads: int, rngs: nnx.Rngs):
        self.norm1 = layer_norm(dim, EPS, rngs)
        self.attn = TimmAttention(dim, heads, rngs)
        self.norm2 = layer_norm(dim, EPS, rngs)
        self.mlp = TimmMlp(dim, 4 * dim, rngs)


class PatchEmbed(nnx.Module):
    """timm's ``PatchEmbed``: ``proj`` (16x16 conv, stride 16); output the (B, h, w, D)
    patch grid (timm's NHWC output with ``dynamic_img_size``)."""

    def __init__(self, dim: int, rngs: nnx.Rngs):
        self.proj = nnx.Conv(3, dim, (PATCH, PATCH), strides=PATCH, padding="VALID", rngs=rngs)

    def __call__(self, images: jax.Array) -> jax.Array:
        return self.proj(images)


class DeiT(ViTBase, nnx.Module):
    """timm's ``VisionTransformer`` as ``deit_*_patch16_224`` builds it (class token,
    global_pool="token")."""
    classifier_path = ("head",)

    def __init__(self, arch: str, *, num_classes: int, pooling: str = "gap",
                 image_size: int = 224, depth: int | None = None,
                 pos_embed_resize: str = "timm", rngs: nnx.Rngs):
        layers, heads, dim = CONFIGS[arch]
        depth = layers if depth is None else depth
        check_options(arch, pooling, image_size, PATCH, pos_embed_resize)
        self.arch, self.patch_size, self.pos_embed_resize = arch, PATCH, pos_embed_resize
        self.imagenet_eval = IMAGENET_EVAL
        self.features_layer = f"blocks.{depth - 1}.norm1"
        self.alias_pairs = (("blocks", f"blocks.{depth - 1}"),)
        self.patch_embed = PatchEmbed(dim, rngs)
        self.cls_token = nnx.Param(1e-6 * jax.random.normal(rngs.params(), (1, 1, dim)))
        self.pos_embed = nnx.Param(0.02 * jax.random.truncated_normal(
            rngs.params(), -2, 2, (1, (image_size // PATCH) ** 2 + 1, dim)))
        self.blocks = nnx.List([Block(dim, heads, rngs) for _ in range(depth)])
        self.norm = layer_norm(dim, EPS, rngs)
        self.head = linear(dim, num_classes, rngs)

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


for _name in CONFIGS:
    register(_name)(functools.partial(DeiT, _name))
