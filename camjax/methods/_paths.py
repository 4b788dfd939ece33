"""Path integrals of the input gradient with a per-pixel tangent (Blur IG, XRAI's IG)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from camjax.methods.base import input_gradients


def path_gradients(graphdef, state, point, steps: int, classes, batch_size: int):
    """``sum_s tangent(s) * d logit / d image`` at the images ``point(s)``, s < steps.

    ``point(s) -> (image (B, H, W, 3), tangent (B, H, W, 3))`` (traceable in s; a tangent
    of zeros for a padded s >= steps is made here). Points are differentiated
    ``batch_size`` at a time (``lax.scan``; a backward pass holds B x batch_size images,
    image-major so a ``data``-sharded batch stays sharded). Returns (B, k, H, W, 3).
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    chunk = min(batch_size, steps)
    chunks = -(-steps // chunk)
    index = jnp.arange(chunks * chunk).reshape(chunks, chunk)
    b, k = classes.shape
    repeated = jnp.broadcast_to(classes[:, None], (b, chunk, k)).reshape(b * chunk, k)

    def point_or_pad(s):
        image, tangent = point(jnp.minimum(s, steps - 1))
        return image, jnp.where(s < steps, tangent, jnp.zeros_like(tangent))

    def add_chunk(total, ids):
        images, tangents = jax.vmap(point_or_pad, out_axes=1)(ids)      # (B, n, H, W, 3)
        shape = images.shape
        _, grads = input_gradients(graphdef, state, images.reshape((b * chunk,) + shape[2:]),
                                   repeated)
        grads = grads.reshape((b, chunk, k) + shape[2:])
        return total + (grads * tangents[:, :, None]).sum(axis=1), None

    first = point(0)[0]
    start = jnp.broadcast_to(jnp.zeros_like(first)[:, None], (b, k) + first.shape[1:])
    total, _ = jax.lax.scan(add_chunk, start, index)
    return total
