"""TS-CAM, token semantic coupled attention maps (Gao et al., "TS-CAM: Token Semantic
Coupled Attention Map for Weakly Supervised Object Localization", ICCV 2021), as the
authors' ``lib/models/deit.py`` (class ``TSCAM``, vasgaowei/TS-CAM) builds it on DeiT.

The network: a class-token vision transformer whose linear head is replaced by ``head``, a
3x3 conv (padding 1, with bias) from the D-dimensional patch tokens (after the final
LayerNorm, as the (h, w) patch grid) to one map per class, the *semantic-aware maps*;
the logits are their spatial mean (``AdaptiveAvgPool2d(1)``), and training is the
cross-entropy of those logits. The class token's own output is not used; it still shapes
the patch tokens through attention.

The map: the *semantic-agnostic attention map* is the class token's attention to the
patch tokens, averaged over the heads and **summed** over every block (the authors'
``attn_weights.sum(0)[:, 0, 1:]`` after ``torch.mean(..., dim=2)``: the mean over the
blocks is 1/L of it, which a min-max normalised map cannot tell apart), reshaped to the
patch grid; the map of class c is that attention map times the semantic-aware map of c
(bias included), before upsampling and normalisation.

:class:`CoupledMaps` is the mixin of a :class:`~camjax.models.vit_base.ViTBase` network
(``camjax.models.deit.TSCAM``): the network contract with ``features`` = the
semantic-aware maps, ``maps_by_class`` and ``class_maps`` (the map engine's ``cam`` is
TS-CAM's map).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

# a linear classifier in a DeiT state dict (the authors' loader drops these when their
# shapes differ from the model's, which they always do for the conv head)
LINEAR_HEADS = ("head.weight", "head.bias", "head_dist.weight", "head_dist.bias")


def head(dim: int, num_classes: int, rngs: nnx.Rngs) -> nnx.Conv:
    """``nn.Conv2d(dim, num_classes, 3, padding=1)`` with torch's default initialisation
    (the authors' ``_init_weights`` touches only Linear and LayerNorm layers): kernel and
    bias uniform in +-1 / sqrt(9 dim)."""
    bound = 1 / math.sqrt(9 * dim)
    return nnx.Conv(dim, num_classes, (3, 3), padding=1, rngs=rngs,
                    kernel_init=nnx.initializers.variance_scaling(1 / 3, "fan_in", "uniform"),
                    bias_init=lambda key, shape, dtype=jnp.float32: jax.random.uniform(
                        key, shape, dtype, -bound, bound))


def attention_map(weights, grid: tuple[int, int]) -> jax.Array:
    """The semantic-agnostic attention map (B, h, w) from every block's attention weights
    (B, heads, 1 + h*w, 1 + h*w), class token first: row 0 (the class token's query),
    columns 1: (the patch tokens, row after row), averaged over the heads, summed over
    the blocks."""
    rows = [w[:, :, 0, 1:].astype(jnp.float32).mean(axis=1) for w in weights]
    total = rows[0]
    for row in rows[1:]:
        total = total + row
    return total.reshape(total.shape[0], *grid)


def coupled(attention: jax.Array, semantic: jax.Array) -> jax.Array:
    """TS-CAM's maps of every class (B, h, w, C): ``attention`` (B, h, w) times the
    semantic-aware maps (B, h, w, C)."""
    return attention[..., None].astype(semantic.dtype) * semantic


def pick(maps: jax.Array, classes: jax.Array) -> jax.Array:
    """(B, h, w, C) maps, (B, k) classes -> (B, k, h, w), by a one-hot contraction (keeps
    a batch sharded along ``data`` sharded; HIGHEST keeps it exact)."""
    hot = jax.nn.one_hot(classes, maps.shape[-1], dtype=maps.dtype)
    return jnp.einsum("byxc,bkc->bkyx", maps, hot, precision=jax.lax.Precision.HIGHEST)


class CoupledMaps:
    """Mixin: TS-CAM on a class-token ViT (``tokens``, ``block_list``, ``final_norm``,
    ``to_grid`` of :class:`~camjax.models.vit_base.ViTBase`) whose ``head`` is
    :func:`head`. ``features`` (``features_layer`` = ``"head"``) are the semantic-aware
    maps (B, h, w, C); ``classify`` their mean, the logits exactly; ``cam_weights`` the
    identity, so the CAM of the features is the semantic-aware map; the engine's ``cam``
    asks :meth:`class_maps` (``maps_by_class``), which couples it with the attention."""
    wsol_method = "tscam"
    maps_by_class = True
    torchvision_head = False          # its head is not the file's classifier

    def _blocks(self, images: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
        """(the final normed tokens (B, 1 + h*w, D), every block's attention weights)."""
        x, weights = self.tokens(images), []
        for block in self.block_list():
            x, w = block.with_attention(x)
            weights.append(w)
        return self.final_norm()(x), weights

    def tscam_outputs(self, images: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(logits (B, C), semantic-aware maps (B, h, w, C), attention map (B, h, w))."""
        x, weights = self._blocks(images)
        semantic = self.head(self.to_grid(x, images.shape))
        return self.classify(semantic), semantic, attention_map(weights, semantic.shape[1:3])

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        logits, semantic, _ = self.tscam_outputs(images)
        return logits, semantic

    def forward_attention(self, images: jax.Array):
        """(logits, the final normed tokens, [every block's attention weights]): the
        DeiT's API, with TS-CAM's logits."""
        x, weights = self._blocks(images)
        return self.classify(self.head(self.to_grid(x, images.shape))), x, weights

    def classify(self, features: jax.Array) -> jax.Array:
        """The logits from the semantic-aware maps: their spatial mean (GAP)."""
        return features.mean(axis=(1, 2))

    def cam_weights(self, features: jax.Array) -> jax.Array:
        """(C, C) identity: the CAM of class c is its semantic-aware map (TS-CAM's map
        multiplies it by the attention map: :meth:`class_maps`)."""
        return jnp.eye(features.shape[-1], dtype=jnp.float32)

    def class_maps(self, images: jax.Array, classes: jax.Array) -> jax.Array:
        """TS-CAM's map of each requested class (B, k, h, w), raw (the authors' ``cams``
        before ``resize_cam``)."""
        _, semantic, attention = self.tscam_outputs(images)
        return pick(coupled(attention, semantic), classes)

    def adapt_state_dict(self, state: dict) -> tuple[dict, list[str]]:
        """A DeiT state dict's linear classifier (2-D ``head.weight``) has no place here:
        dropped (the conv head stays new), as the authors' loader does; a TS-CAM
        checkpoint's conv head (4-D) is kept. Returns (state, dropped names)."""
        weight = state.get("head.weight")
        if weight is None or np.ndim(weight) == 4:
            return state, []
        dropped = [k for k in LINEAR_HEADS if k in state]
        return {k: v for k, v in state.items() if k not in dropped}, dropped
