"""The forward pass of a class-token ViT, shared by torchvision's ``vit_*`` and timm's
``deit_*`` (two thin module trees, :mod:`camjax.models.vit` and :mod:`camjax.models.deit`).

patches (a p x p, stride p conv) -> tokens, the class token prepended, position embeddings
added (resampled to the patch grid when the input is not the native size:
:mod:`camjax.models.pos_embed`), the blocks, the final LayerNorm, the head on the class
token.

``features`` are the output of the last block's first LayerNorm (``ln_1`` / ``norm1``), patch
tokens only, as a (B, H/p, W/p, D) grid: the input of the last attention, the layer
pytorch-grad-cam recommends for ViTs. The last block's outputs at the patch tokens do not
reach the logits at all (the head reads the class token only, and nothing attends after the
last block), so a gradient there is zero; at its ``ln_1`` every patch token still feeds the
class token through the last attention. There is no exact CAM: the class score is not a
pooling of a feature map followed by a linear layer.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from camjax.errors import ModelError
from camjax.models.pos_embed import RULES, resample_pos_embed
from camjax.models.torch_layout import TorchLayout, convert

NO_CAM_METHODS = ("grad_cam, grad_cam_plus_plus, layer_cam and score_cam at a token layer "
                  "(the default: {layer}), or saliency, smooth_grad and integrated_gradients")
PREFIX_LEAVES = ("class_token", "pos_embedding", "cls_token", "pos_embed")


def check_options(arch: str, pooling: str, image_size: int, patch_size: int,
                  pos_embed_resize: str) -> None:
    if pooling != "gap":
        raise ModelError(f"{arch} classifies from its class token, not by pooling; "
                         f"pooling={pooling!r} is not supported (leave the default)")
    if image_size % patch_size or image_size < patch_size:
        raise ModelError(f"{arch}: image_size must be a multiple of the patch size "
                         f"{patch_size}, got {image_size!r}")
    if pos_embed_resize not in RULES:
        raise ModelError(f"pos_embed_resize must be one of {RULES}, got {pos_embed_resize!r}")


def token_grid(activation: jax.Array, image_shape, patch_size: int, arch: str,
               prefix_tokens: int = 1) -> jax.Array:
    """(B, prefix + h*w, D) tokens -> (B, h, w, D) patch grid, h = H // p, w = W // p;
    ``image_shape`` is (H, W) or the (B, H, W, 3) images' shape. 4-D input is a grid
    already (the patch conv's output) and is returned as it is."""
    if activation.ndim == 4:
        return activation
    height, width = tuple(image_shape)[-3:-1] if len(image_shape) == 4 else tuple(image_shape)
    h, w = height // patch_size, width // patch_size
    if activation.ndim != 3 or activation.shape[1] != prefix_tokens + h * w:
        raise ModelError(f"{arch}: expected (B, {prefix_tokens} + {h}*{w}, D) tokens for an "
                         f"input of {height}x{width}, got an array of shape "
                         f"{tuple(activation.shape)}")
    batch, _, dim = activation.shape
    return activation[:, prefix_tokens:].reshape(batch, h, w, dim)


class ViTBase(TorchLayout):
    """Mixin: a subclass sets ``arch``, ``patch_size``, ``pos_embed_resize`` and
    ``features_layer``, and returns its parts, under its own names, from the methods
    ``patch_conv()`` (a module: images -> (B, h, w, D)), ``class_token_param()``,
    ``pos_embed_param()`` (the ``nnx.Param``s), ``block_list()`` (the blocks in order,
    :class:`~camjax.models.transformer.PreNormBlock`), ``final_norm()`` (a module) and
    ``head_logits(cls_token)``; these names clash with neither library's attributes."""
    torchvision_head = True  # load_pretrained fills the classifier too
    patch_size: int
    pos_embed_resize: str
    features_layer: str
    alias_pairs: tuple = ()

    @property
    def layer_aliases(self) -> dict[str, str]:
        """torch containers whose output is one of their children's: ``{torch path: the
        path camjax computes it at}`` (kept as pairs: a graphdef must hash)."""
        return dict(self.alias_pairs)

    def tokens(self, images: jax.Array) -> jax.Array:
        """The blocks' input: (B, 1 + h*w, D)."""
        patches = self.patch_conv()(images)  # (B, h, w, D); a remainder < p is dropped
        batch, h, w, dim = patches.shape
        cls = jnp.broadcast_to(self.class_token_param()[...], (batch, 1, dim))
        pos = resample_pos_embed(self.pos_embed_param()[...], (h, w),
                                 rule=self.pos_embed_resize)
        return jnp.concatenate([cls, patches.reshape(batch, h * w, dim)], axis=1) + pos

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = self.tokens(images)
        *blocks, last = self.block_list()
        for block in blocks:
            x = block(x)
        # the features layer's output; the block computes it again inside (XLA merges the
        # two), so a map method that intercepts that layer sees the one the logits use
        features = last.first_norm()(x)
        x = self.final_norm()(last(x))
        return self.head_logits(x[:, 0]), self.to_grid(features, images.shape)

    def backbone(self, images: jax.Array) -> jax.Array:
        """``features``: the last block's first LayerNorm, patch tokens, (B, h, w, D)."""
        return self(images)[1]

    def forward_attention(self, images: jax.Array
                          ) -> tuple[jax.Array, jax.Array, list[jax.Array]]:
        """(logits, the final normed tokens (B, 1 + h*w, D), [attention weights (B, heads,
        1 + h*w, 1 + h*w) of each block]); row 0 of the weights is the class token's
        attention, what TS-CAM multiplies its token maps by."""
        x, weights = self.tokens(images), []
        for block in self.block_list():
            x, w = block.with_attention(x)
            weights.append(w)
        x = self.final_norm()(x)
        return self.head_logits(x[:, 0]), x, weights

    def to_grid(self, activation: jax.Array, image_shape) -> jax.Array:
        """A token layer's (B, 1 + h*w, D) output -> (B, h, w, D), the class token dropped."""
        return token_grid(activation, image_shape, self.patch_size, self.arch)

    def cam_weights(self, features: jax.Array):
        raise ModelError(
            f"{self.arch} has no exact CAM: it classifies from its class token after the last "
            "attention, not by pooling a feature map into a linear layer. Use "
            + NO_CAM_METHODS.format(layer=self.features_layer))

    def from_torch(self, name: str, array: np.ndarray) -> np.ndarray:
        leaf = name.rsplit(".", 1)[-1]
        if leaf in PREFIX_LEAVES:  # (1, tokens, D): the same layout in torch and here
            return np.asarray(array)
        if leaf == "in_proj_weight":  # (3D, D) in torch, x @ (D, 3D) here
            return np.asarray(array).T
        return convert(array)
