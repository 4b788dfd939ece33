"""ADL, the attention-based dropout layer (Choe & Shim, "Attention-Based Dropout Layer for
Weakly Supervised Object Localization", CVPR 2019), as wsolevaluation's ``wsol/method/adl.py``.

In training, with the self-attention map ``A`` = the channel mean of the input:
with probability ``drop_rate`` the input is multiplied by the drop mask ``A < threshold *
max(A)`` (the most discriminative part hidden), otherwise by the importance map
``sigmoid(A)``. One draw per call for the whole batch (wsolevaluation draws one
``torch.rand([])`` per forward). In evaluation it is the identity.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


def importance_and_drop(x: jax.Array, threshold: float) -> tuple[jax.Array, jax.Array]:
    """(sigmoid(A), A < threshold * max(A)) for NHWC ``x``, A the channel mean, each
    (B, h, w, 1); the max is per image."""
    attention = x.mean(axis=-1, keepdims=True)
    limit = attention.max(axis=(1, 2), keepdims=True) * threshold
    return jax.nn.sigmoid(attention), (attention < limit).astype(x.dtype)


def adl(x: jax.Array, u: jax.Array, drop_rate: float, threshold: float) -> jax.Array:
    """ADL of ``x`` (B, h, w, K) for the uniform draw ``u`` in [0, 1): the drop mask when
    ``floor(u + drop_rate)`` is 1, else the importance map."""
    importance, drop = importance_and_drop(x, threshold)
    binary = jnp.floor(u.astype(jnp.float32) + drop_rate).astype(x.dtype)
    return x * ((1 - binary) * importance + binary * drop)


class ADL(nnx.Module):
    """The layer: ``drop_rate`` (wsolevaluation ``adl_drop_rate``, default 0.75) and
    ``threshold`` (``adl_threshold``, gamma, default 0.9), both in [0, 1]. Random draws
    come from the ``dropout`` stream of ``rngs`` (nnx state, so checkpointed with the
    model); ``model.eval()`` makes it the identity, like Dropout."""

    def __init__(self, drop_rate: float = 0.75, threshold: float = 0.9, *, rngs: nnx.Rngs,
                 deterministic: bool = False):
        if not 0 <= drop_rate <= 1:
            raise ValueError(f"adl_drop_rate must be in [0, 1], got {drop_rate!r}")
        if not 0 <= threshold <= 1:
            raise ValueError(f"adl_threshold must be in [0, 1], got {threshold!r}")
        self.drop_rate, self.threshold = float(drop_rate), float(threshold)
        self.deterministic = deterministic
        self.rngs = rngs["dropout"].fork()

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.deterministic:
            return x
        return adl(x, jax.random.uniform(self.rngs(), ()), self.drop_rate, self.threshold)
