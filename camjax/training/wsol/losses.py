"""The WSOL methods' training losses over a network's ``wsol_outputs``.

- ACoL: cross-entropy of both branches (wsolevaluation ``acol.get_loss``).
- SPG (wsolevaluation ``spg.get_loss``): cross-entropy, plus three binary cross-entropy
  losses of foreground logit maps against seed masks, every map upsampled (bilinear) to
  the image size: B2 against the seeds of the label's class map, B1 against the seeds of
  sigmoid(B2), C against the seeds of the fused map (sigmoid(B1) + sigmoid(B2)) / 2. A
  seed mask marks foreground (1) above the high threshold, background (0) below the low
  one, the rest ignored; an image with fewer than 30 foreground pixels takes 0.7 x its
  map's maximum as the high threshold instead. ``spg_thresholds`` = ((h1, l1), (h2, l2),
  (h3, l3)).
- The few-shot baseline (Choe et al., CVPR 2020, sec. 6): pixel-wise binary
  cross-entropy of the foreground logit map, upsampled to the image size, against the
  ground-truth foreground (boxes filled, or the mask; 255 ignored), plus
  ``cls_weight`` x cross-entropy.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from camjax.models.wsol.layers import minmax

MIN_FOREGROUND = 30   # pixels (wsolevaluation mask_fg, at 224 x 224)
IGNORE = 255


def cross_entropy(logits, labels) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32),
                                                           labels).mean()


def upsample(maps: jax.Array, size: tuple[int, int]) -> jax.Array:
    """(B, h, w) -> (B, H, W), bilinear with half-pixel centres (torch ``nn.Upsample``
    mode 'bilinear', align_corners False)."""
    maps = maps.astype(jnp.float32)
    return jax.image.resize(maps, (maps.shape[0], *size), "linear", antialias=False)


def seed_mask(attention: jax.Array, high: float, low: float) -> jax.Array:
    """wsolevaluation's ``get_mask`` of (B, H, W) maps: 1 foreground, 0 background, 255
    ignored (float32). NaN maps (a constant class map normalised) are all ignored."""
    fg = attention > high
    few = fg.sum(axis=(1, 2), keepdims=True) < MIN_FOREGROUND
    fg = jnp.where(few, attention > attention.max(axis=(1, 2), keepdims=True) * 0.7, fg)
    mask = jnp.where(fg, 1.0, float(IGNORE))
    return jnp.where(attention < low, 0.0, mask)


def masked_bce(logits: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean binary cross-entropy with logits over the pixels whose mask is not 255 (0 when
    there are none; torch's mean of nothing would be NaN)."""
    mask = jax.lax.stop_gradient(mask)
    keep = mask != IGNORE
    target = jnp.where(keep, mask, 0.0)
    losses = optax.sigmoid_binary_cross_entropy(logits.astype(jnp.float32), target)
    return jnp.where(keep, losses, 0.0).sum() / jnp.maximum(keep.sum(), 1)


def spg_attention(label_map: jax.Array, size) -> jax.Array:
    """The label's class map upsampled, min-max normalised (NaN when constant, as
    wsolevaluation's ``normalize_tensor``), without gradient."""
    up = upsample(jax.lax.stop_gradient(label_map), size)
    normed, varies = minmax(up)
    return jnp.where(varies, normed, jnp.nan)


def spg_loss(out: dict, labels, thresholds, size) -> jax.Array:
    (h1, l1), (h2, l2), (h3, l3) = thresholds
    b1, b2, c = (upsample(out[k], size) for k in ("logits_b1", "logits_b2", "logits_c"))
    b2_prob = jax.lax.stop_gradient(jax.nn.sigmoid(b2))
    fused = jax.lax.stop_gradient((jax.nn.sigmoid(b1) + jax.nn.sigmoid(b2)) / 2)
    attention = spg_attention(out["label_map"], size)
    return (cross_entropy(out["logits"], labels)
            + masked_bce(b2, seed_mask(attention, h1, l1))
            + masked_bce(b1, seed_mask(b2_prob, h2, l2))
            + masked_bce(c, seed_mask(fused, h3, l3)))


def acol_loss(out: dict, labels) -> jax.Array:
    return cross_entropy(out["logits"], labels) + cross_entropy(out["logits_b"], labels)


def fewshot_loss(out: dict, labels, foreground, cls_weight: float) -> jax.Array:
    """``foreground`` (B, H, W) uint8: 1 object, 0 background, 255 ignored."""
    up = upsample(out["foreground"], foreground.shape[1:3])
    loss = masked_bce(up, foreground.astype(jnp.float32))
    if cls_weight:
        loss = loss + cls_weight * cross_entropy(out["logits"], labels)
    return loss
