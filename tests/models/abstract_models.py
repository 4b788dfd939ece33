"""Abstract networks (``nnx.eval_shape``: shapes only) without flax's quadratic RNG cost.

flax 0.12's ``RngStream.__call__`` counts with ``count[...] += 1``. Under a trace, the
indexed ``Variable.set_value`` compares the new value's ``.sharding``; on a tracer that
attribute raises an AttributeError whose message jax builds by walking every equation
traced so far (``_origin_msg``): O(n) per parameter, O(n^2) per network, 44 s for
``efficientnet_v2_l`` on the 2-core machine against 2 s without it. ``abstract`` counts
through the index-free ``set_value`` instead (same keys, same count) while it traces.
"""
from __future__ import annotations

import contextlib

import jax
from flax import nnx

import camjax


def _count_without_sharding_lookup(self):
    self.count._check_can_update()
    key = jax.random.fold_in(self.key[...], self.count[...])
    self.count.set_value(self.count.get_value() + 1)
    return key


@contextlib.contextmanager
def cheap_rng_counts():
    original = nnx.RngStream.__call__
    nnx.RngStream.__call__ = _count_without_sharding_lookup
    try:
        yield
    finally:
        nnx.RngStream.__call__ = original


def abstract(name: str, pooling: str = "gap", num_classes: int = 1000, **kwargs):
    """``camjax.models.create(name, ...)`` with ShapeDtypeStruct leaves: nothing is
    initialised or compiled."""
    with cheap_rng_counts():
        return nnx.eval_shape(lambda: camjax.models.create(
            name, num_classes=num_classes, pooling=pooling, rngs=nnx.Rngs(0), **kwargs))
