"""Small building blocks of the WSOL methods' extra layers, named as wsolevaluation's
``nn.Sequential`` stacks are (``SPG_B_shared.0``, ``.2``; the ReLU at ``.1`` has no
parameters), so a stack's NNX path is its torch path.

Convolutions have a bias and zero-initialised biases (torch's ``nn.Conv2d`` default and
wsolevaluation's ``initialize_weights``); the kernel initialiser is the network's
(``xavier``: Glorot uniform, ``he``: Kaiming normal, fan out).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

INITS = {"xavier": nnx.initializers.xavier_uniform(),
         "he": nnx.initializers.variance_scaling(2.0, "fan_out", "normal")}


class ReLU(nnx.Module):
    """``nn.ReLU`` as a parameter-free list entry (keeps torch's indices in a stack)."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.relu(x)


def conv(cin: int, cout: int, kernel: int, *, init: str = "xavier", rngs: nnx.Rngs) -> nnx.Conv:
    """``nn.Conv2d(cin, cout, kernel, padding=kernel // 2)`` with a bias."""
    return nnx.Conv(cin, cout, (kernel, kernel), padding=kernel // 2,
                    kernel_init=INITS[init], bias_init=nnx.initializers.zeros, rngs=rngs)


def stack(*specs, init: str = "xavier", rngs: nnx.Rngs) -> nnx.List:
    """An ``nn.Sequential`` of convolutions: each spec is ``(cin, cout, kernel)`` or
    ``"relu"``."""
    return nnx.List([ReLU() if s == "relu" else conv(*s, init=init, rngs=rngs) for s in specs])


def run(layers, x: jax.Array) -> jax.Array:
    for layer in layers:
        x = layer(x)
    return x


def avg_pool3(x: jax.Array) -> jax.Array:
    """``F.avg_pool2d(x, 3, 1, 1)`` on NHWC: zero padding counted (count_include_pad)."""
    total = jax.lax.reduce_window(x, jnp.zeros((), x.dtype), jax.lax.add, (1, 3, 3, 1),
                                  (1, 1, 1, 1), ((0, 0), (1, 1), (1, 1), (0, 0)))
    return total / 9


def minmax(maps: jax.Array, axes=(1, 2)) -> tuple[jax.Array, jax.Array]:
    """wsolevaluation's ``normalize_tensor`` over ``axes``: ``(x - min) / (max - min)``,
    and whether each map varies. Its constant maps are NaN (0 / 0); here they are 0 and
    ``varies`` is False, so callers can reproduce what a NaN would have done."""
    lo = maps.min(axis=axes, keepdims=True)
    hi = maps.max(axis=axes, keepdims=True)
    varies = hi > lo
    return jnp.where(varies, (maps - lo) / jnp.where(varies, hi - lo, 1), 0), varies
