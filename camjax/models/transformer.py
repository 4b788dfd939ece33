"""What torchvision's ViT, timm's DeiT and torchvision's Swin share: torch's ``nn.Sequential``
with integer names, parameterless layers, the MLP, multi-head self-attention, and the
pre-norm transformer block.

One implementation, several name layouts: a block or an attention module names its parts as
its source library does (torchvision ``ln_1``/``self_attention``/``ln_2``/``mlp``, timm
``norm1``/``attn``/``norm2``/``mlp``) through a class attribute ``parts``, and the forward
pass here reads them by those names, so the NNX attribute tree is the torch module tree (a
state dict loads by one rule, a layer is named as ``named_modules()`` spells it) while the
arithmetic is written once. Every module's ``__call__`` takes and returns one array, so a map
method can intercept any named layer; the attention weights (TS-CAM needs the class token's)
come from ``with_attention``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.models.layers import Activation, Identity, NamedSequential, Sequential  # noqa: F401


def layer_norm(dim: int, eps: float, rngs: nnx.Rngs) -> nnx.LayerNorm:
    """``nn.LayerNorm(dim, eps)``; two-pass variance as torch computes it."""
    return nnx.LayerNorm(dim, epsilon=eps, use_fast_variance=False, rngs=rngs)


def linear(cin: int, cout: int, rngs: nnx.Rngs, *, use_bias: bool = True) -> nnx.Linear:
    """``nn.Linear`` with a truncated-normal(0.02) kernel (timm's and torchvision Swin's)."""
    return nnx.Linear(cin, cout, use_bias=use_bias, rngs=rngs,
                      kernel_init=nnx.initializers.truncated_normal(0.02))


def torchvision_mlp(dim: int, hidden: int, rngs: nnx.Rngs) -> Sequential:
    """torchvision's ``MLP``/``MLPBlock``: Linear, GELU, Dropout, Linear, Dropout (``mlp.0``,
    ``mlp.3``)."""
    return Sequential([linear(dim, hidden, rngs), Activation("gelu"), Identity(),
                       linear(hidden, dim, rngs), Identity()])


class TimmMlp(nnx.Module):
    """timm's ``Mlp``: ``fc1``, ``act`` (GELU), ``fc2`` (dropouts are the identity)."""

    def __init__(self, dim: int, hidden: int, rngs: nnx.Rngs):
        self.fc1, self.act = linear(dim, hidden, rngs), Activation("gelu")
        self.fc2 = linear(hidden, dim, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fc2(self.act(self.fc1(x)))


def split_heads(qkv: jax.Array, num_heads: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(..., N, 3D) -> q, k, v of shape (..., heads, N, D / heads): torch's layout (the
    first D outputs are the queries, head after head; then the keys, then the values)."""
    *lead, n, three_d = qkv.shape
    head_dim = three_d // (3 * num_heads)
    qkv = qkv.reshape(*lead, n, 3, num_heads, head_dim)
    qkv = jnp.moveaxis(qkv, (-3, -2), (0, -3))  # (3, ..., heads, N, head_dim)
    return qkv[0], qkv[1], qkv[2]


def attention_weights(q: jax.Array, k: jax.Array, bias: jax.Array | None = None) -> jax.Array:
    """softmax(q k^T / sqrt(d) + bias) over the keys: (..., heads, N, N)."""
    logits = jnp.einsum("...qd,...kd->...qk", q * q.shape[-1] ** -0.5, k)
    return jax.nn.softmax(logits if bias is None else logits + bias, axis=-1)


def merge_heads(weights: jax.Array, v: jax.Array) -> jax.Array:
    """(..., heads, N, N) x (..., heads, N, d) -> (..., N, heads * d)."""
    out = jnp.einsum("...qk,...kd->...qd", weights, v)
    out = jnp.moveaxis(out, -3, -2)
    return out.reshape(*out.shape[:-2], -1)


class SelfAttention(nnx.Module):
    """Global multi-head self-attention over (B, N, D) tokens; a subclass supplies the
    packed q/k/v projection (``qkv_params``) and the output projection (``out``)."""
    num_heads: int

    def qkv_params(self) -> tuple[jax.Array, jax.Array | None]:
        raise NotImplementedError

    def out(self, x: jax.Array) -> jax.Array:
        raise NotImplementedError

    def with_attention(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(output (B, N, D), attention weights (B, heads, N, N))."""
        kernel, bias = self.qkv_params()
        qkv = x @ kernel if bias is None else x @ kernel + bias
        q, k, v = split_heads(qkv, self.num_heads)
        weights = attention_weights(q, k)
        return self.out(merge_heads(weights, v)), weights

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.with_attention(x)[0]


class TorchMultiheadAttention(SelfAttention):
    """``nn.MultiheadAttention(D, heads, batch_first=True)`` as torchvision's ViT calls it
    (self-attention, no mask): ``in_proj_weight``/``in_proj_bias`` hold q, k, v packed
    (stored here as (D, 3D), the transpose of torch's), ``out_proj`` is a Linear."""

    def __init__(self, dim: int, num_heads: int, rngs: nnx.Rngs):
        self.num_heads = num_heads
        init = nnx.initializers.xavier_uniform()
        self.in_proj_weight = nnx.Param(init(rngs.params(), (dim, 3 * dim)))
        self.in_proj_bias = nnx.Param(jnp.zeros((3 * dim,)))
        self.out_proj = nnx.Linear(dim, dim, rngs=rngs)

    def qkv_params(self):
        return self.in_proj_weight[...], self.in_proj_bias[...]

    def out(self, x):
        return self.out_proj(x)


class TimmAttention(SelfAttention):
    """timm's ``Attention``: ``qkv`` (Linear D -> 3D, with bias in ViT/DeiT) and ``proj``."""

    def __init__(self, dim: int, num_heads: int, rngs: nnx.Rngs, *, qkv_bias: bool = True):
        self.num_heads = num_heads
        self.qkv = linear(dim, 3 * dim, rngs, use_bias=qkv_bias)
        self.proj = linear(dim, dim, rngs)

    def qkv_params(self):
        return self.qkv.kernel[...], None if self.qkv.bias is None else self.qkv.bias[...]

    def out(self, x):
        return self.proj(x)


class PreNormBlock(nnx.Module):
    """x + attention(norm1(x)), then x + mlp(norm2(x)); ``parts`` names the four children in
    the source library's words (norm1, attention, norm2, mlp)."""
    parts: tuple[str, str, str, str]

    def first_norm(self) -> nnx.Module:
        return getattr(self, self.parts[0])

    def with_attention(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(block output, attention weights (B, heads, N, N))."""
        norm1, attention, norm2, mlp = (getattr(self, name) for name in self.parts)
        y, weights = attention.with_attention(norm1(x))
        x = x + y
        return x + mlp(norm2(x)), weights

    def __call__(self, x: jax.Array) -> jax.Array:
        norm1, attention, norm2, mlp = (getattr(self, name) for name in self.parts)
        x = x + attention(norm1(x))
        return x + mlp(norm2(x))
