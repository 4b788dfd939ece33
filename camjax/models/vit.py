"""torchvision's Vision Transformers ``vit_b_16``, ``vit_b_32``, ``vit_l_16`` as they are.

The NNX tree is torchvision's module tree: ``conv_proj`` (p x p conv, stride p),
``class_token``, ``encoder.pos_embedding``, ``encoder.layers.encoder_layer_{i}`` (``ln_1``,
``self_attention`` = ``nn.MultiheadAttention`` with ``in_proj_weight``/``in_proj_bias``/
``out_proj``, ``ln_2``, ``mlp.0``, ``mlp.3``), ``encoder.ln``, ``heads.head``; LayerNorm eps
1e-6, exact GELU. torchvision state dicts load whole. The forward pass is shared with timm's
DeiT (:mod:`camjax.models.vit_base`); ``features`` are the last block's ``ln_1`` output as
the patch-token grid (14x14x768 for ``vit_b_16`` at 224).

Inputs of other sizes work: the position embeddings are resampled to the patch grid
(``pos_embed_resize="timm"``, the default, or ``"torchvision"``:
:mod:`camjax.models.pos_embed`); torchvision itself only runs at its ``image_size``.
``image_size`` (default 224) is the grid the checkpoint's embeddings were trained at (384
for the ``IMAGENET1K_SWAG_E2E_V1`` weights of ``vit_b_16``).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.models.registry import register
from camjax.models.transformer import (NamedSequential, PreNormBlock, TorchMultiheadAttention,
                                       layer_norm, torchvision_mlp)
from camjax.models.vit_base import ViTBase, check_options

EPS = 1e-6
# name: (patch, layers, heads, hidden, mlp, torchvision's DEFAULT eval transform)
CONFIGS = {"vit_b_16": (16, 12, 12, 768, 3072, (256, 224, "bilinear")),
           "vit_b_32": (32, 12, 12, 768, 3072, (256, 224, "bilinear")),
           "vit_l_16": (16, 24, 16, 1024, 4096, (242, 224, "bilinear"))}


class EncoderBlock(PreNormBlock):
    """torchvision's ``EncoderBlock``."""
    parts = ("ln_1", "self_attention", "ln_2", "mlp")

    def __init__(self, dim: int, heads: int, mlp_dim: int, rngs: nnx.Rngs):
        self.ln_1 = layer_norm(dim, EPS, rngs)
        self.self_attention = TorchMultiheadAttention(dim, heads, rngs)
        self.ln_2 = layer_norm(dim, EPS, rngs)
        self.mlp = torchvision_mlp(dim, mlp_dim, rngs)


class Encoder(nnx.Module):
    """torchvision's ``Encoder``: ``pos_embedding``, ``layers``, ``ln`` (the model's forward
    uses them; torch's ``encoder`` output is ``encoder.ln``'s, see ``layer_aliases``)."""

    def __init__(self, seq_length: int, num_layers: int, heads: int, dim: int, mlp_dim: int,
                 rngs: nnx.Rngs):
        self.pos_embedding = nnx.Param(
            0.02 * jax.random.normal(rngs.params(), (1, seq_length, dim)))
        self.layers = NamedSequential({f"encoder_layer_{i}": EncoderBlock(dim, heads, mlp_dim, rngs)
                                       for i in range(num_layers)})
        self.ln = layer_norm(dim, EPS, rngs)


class Heads(nnx.Module):
    """torchvision's ``heads``: ``nn.Sequential(OrderedDict(head=nn.Linear))``."""

    def __init__(self, dim: int, num_classes: int, rngs: nnx.Rngs):
        # torchvision initialises the head to zeros
        self.head = nnx.Linear(dim, num_classes, kernel_init=nnx.initializers.zeros,
                               rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.head(x)


class VisionTransformer(ViTBase, nnx.Module):
    """torchvision's ``VisionTransformer`` (no ``representation_size``, no conv stem)."""
    classifier_path = ("heads", "head")

    def __init__(self, arch: str, *, num_classes: int, pooling: str = "gap",
                 image_size: int = 224, num_layers: int | None = None,
                 pos_embed_resize: str = "timm", rngs: nnx.Rngs):
        patch, layers, heads, dim, mlp_dim, self.imagenet_eval = CONFIGS[arch]
        num_layers = layers if num_layers is None else num_layers
        check_options(arch, pooling, image_size, patch, pos_embed_resize)
        self.arch, self.patch_size, self.pos_embed_resize = arch, patch, pos_embed_resize
        last = f"encoder.layers.encoder_layer_{num_layers - 1}"
        self.features_layer = f"{last}.ln_1"
        self.alias_pairs = (("encoder", "encoder.ln"), ("encoder.layers", last))
        fan_in = 3 * patch * patch
        self.conv_proj = nnx.Conv(3, dim, (patch, patch), strides=patch, padding="VALID",
                                  kernel_init=nnx.initializers.truncated_normal(
                                      (1 / fan_in) ** 0.5), rngs=rngs)
        self.class_token = nnx.Param(jnp.zeros((1, 1, dim)))
        self.encoder = Encoder((image_size // patch) ** 2 + 1, num_layers, heads, dim,
                               mlp_dim, rngs)
        self.heads = Heads(dim, num_classes, rngs)

    def patch_conv(self):
        return self.conv_proj

    def class_token_param(self):
        return self.class_token

    def pos_embed_param(self):
        return self.encoder.pos_embedding

    def block_list(self):
        return self.encoder.layers.children()

    def final_norm(self):
        return self.encoder.ln

    def head_logits(self, cls_token):
        return self.heads(cls_token)


for _name in CONFIGS:
    register(_name)(functools.partial(VisionTransformer, _name))
