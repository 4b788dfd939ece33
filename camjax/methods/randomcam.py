"""Random-CAM: the sanity baseline, pytorch-grad-cam's ``RandomCAM``.

``map = ReLU(sum_K w_K A_K)`` with channel weights drawn uniformly from [-1, 1], one
draw per image and class: a map that looks like a CAM (it is made of the layer's
activations) but explains nothing. pytorch-grad-cam draws them from numpy's global state
on every call; camjax draws them from a base key and a hash of the image's values
(:func:`uniform_weights`), so an image's map depends on the image, the class and the
base key only, never on the batch it comes in (nor on a sharding of it).

The base key: ``key`` when given; by default (``key=None``) a key derived from the
network's state (every parameter and statistic, hashed in the jitted function). The
default is what the model-parameter randomisation test (Adebayo et al.; ``camjax
evaluate --config.metrics=sanity``, ``camjax.evaluator.sanity``) should see of a map that
carries no information about the model: re-initialising any layer draws new weights, so
Random-CAM's rank correlation with the trained network's maps stays near 0 at every step
and the check passes, which is the paper's caution that passing is necessary, not
sufficient. With a fixed ``key`` the weights survive the randomisation: the maps change
only where the layer's activations do (the layers below it), so randomising the layers
above (the classifier first) leaves them as they were and the check fails, as it must for
a map that ignores those layers.
"""
from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp

from camjax.methods.base import channel_map, layer_activations
from camjax.methods.registry import register

_GOLDEN = 0x9E3779B1          # an odd multiplier: position i counts as (2 i + 1) * it


def _words(x) -> jax.Array:
    """Any array -> its bit pattern as uint32 words (a trailing axis of 2 for 64-bit
    values; keys through their data)."""
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    x = jnp.asarray(x)
    if x.dtype == jnp.bool_:
        return x.astype(jnp.uint32)
    if x.dtype.itemsize < 4:
        unsigned = jnp.dtype(f"uint{8 * x.dtype.itemsize}")
        return jax.lax.bitcast_convert_type(x, unsigned).astype(jnp.uint32)
    return jax.lax.bitcast_convert_type(x, jnp.uint32)


def fingerprint(x, axes=None) -> jax.Array:
    """A uint32 hash of ``x``'s bits over ``axes`` (None: all): the sum of each word times a
    distinct odd multiplier (integer sums wrap exactly, in any reduction order)."""
    words = _words(x)
    axes = tuple(range(x.ndim)) if axes is None else tuple(axes)
    axes += tuple(range(x.ndim, words.ndim))           # a 64-bit value's two words
    shape = [words.shape[a] if a in axes else 1 for a in range(words.ndim)]
    index = jnp.arange(math.prod(shape), dtype=jnp.uint32).reshape(shape)
    mixed = words * (2 * index + 1) * jnp.uint32(_GOLDEN)
    return (mixed ^ (mixed >> 15)).sum(axis=axes, dtype=jnp.uint32)


def state_key(state) -> jax.Array:
    """A PRNG key that depends on every bit of every leaf of ``state`` (one fingerprint of
    all of them: a reduction per leaf would compile for seconds on a CPU)."""
    words = [_words(leaf).reshape(-1) for leaf in jax.tree.leaves(state)]
    return jax.random.fold_in(jax.random.key(0), fingerprint(jnp.concatenate(words)))


def uniform_weights(base, images, classes, channels: int, dtype) -> jax.Array:
    """(B, k, K) weights in [-1, 1): ``2 u - 1`` with ``u`` the top 24 bits of
    ``fold_in(base, n)``, ``n`` a counter mixing the image's fingerprint, the class and the
    channel (one vectorised ``fold_in``: ``jax.random.uniform`` per image and class
    compiles for seconds on a CPU)."""
    image = fingerprint(images, (1, 2, 3))[:, None, None]                       # (B, 1, 1)
    counter = ((image * jnp.uint32(_GOLDEN) + classes.astype(jnp.uint32)[:, :, None])
               * jnp.uint32(0x85EBCA6B) + jnp.arange(channels, dtype=jnp.uint32))
    keys = jax.vmap(jax.random.fold_in, (None, 0))(base, counter.reshape(-1))
    bits = jax.random.key_data(keys)[:, 0].reshape(counter.shape)
    return ((bits >> 8).astype(dtype) * (2.0 / (1 << 24)) - 1).astype(dtype)


@register("random_cam", resolution="features", options={"key": None, "relu": True})
@partial(jax.jit, static_argnames=("graphdef", "layer", "relu", "eigen_smooth"))
def random_cam_fn(graphdef, state, images, classes, *, layer=None, key=None,
                  relu: bool = True, eigen_smooth: bool = False):
    """Random-CAM (pytorch-grad-cam's sanity baseline): uniform random channel weights."""
    _, activations = layer_activations(graphdef, state, images, layer)
    base = state_key(state) if key is None else key
    weights = uniform_weights(base, images, classes, activations.shape[-1],
                              activations.dtype)
    maps = channel_map(activations, weights, eigen_smooth)
    return jax.nn.relu(maps) if relu else maps
