"""IS-CAM (Naidu et al., 2020, "Integrated Score-CAM"), as torchcam's ``ISCAM``.

Score-CAM's masks (:mod:`camjax.methods.scorecam`) scaled along an integration path and
the scores averaged:

    w_K = softmax_K( (1 / N) sum_{i=1..N} Y_c(X * c_i M_K) ),   c_i = sum_{s=1..i} s / N

``N = steps`` (torchcam's ``num_samples``, default 10). The coefficients are torchcam's
code: the running sum 1/N, 3/N, 6/N, ..., (N + 1) / 2, so the later masks scale the image
up. torchcam's docstring writes the paper's mask as ``sum_{j=0}^{i-1} j / N``, the same
sequence one step behind (it starts at 0, the zero image, and stops at (N - 1) / 2);
camjax follows the code. torchcam subtracts the unmasked image's logit from every score,
which the softmax over channels ignores. The map is ``ReLU(sum_K w_K A_K)``.

A constant channel's mask is zero at every step, so its score is the zero image's:
computed once and skipped exactly, as in Score-CAM. Cost: K x ``steps`` masked forward
passes per image (fewer with constant channels).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from camjax.methods.base import eval_model, layer_activations
from camjax.methods.registry import register
from camjax.methods.scorecam import (channel_masks, channel_scores, check_batch_size,
                                     masked_scores, weighted_map,
                                     zero_image_scores)


def coefficients(steps: int):
    """torchcam's c_i = sum_{s=1..i} s / N, i = 1..N."""
    s = jnp.arange(1, steps + 1, dtype=jnp.float32)
    return jnp.cumsum(s) / steps


@register("is_cam", resolution="features", options={"steps": 10, "batch_size": 32})
@partial(jax.jit, static_argnames=("graphdef", "layer", "steps", "batch_size"))
def is_cam_fn(graphdef, state, images, classes, *, layer=None, steps: int = 10,
              batch_size: int = 32):
    """IS-CAM (Naidu et al. 2020): Score-CAM's scores integrated over scaled masks."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    check_batch_size(batch_size)
    model = eval_model(graphdef, state)
    _, features = layer_activations(graphdef, state, images, layer)
    size = images.shape[1:3]
    scale = coefficients(steps).astype(images.dtype)

    def score_chunk(activations, ids):
        masks, _ = channel_masks(activations, size)

        def add(total, c):
            return total + masked_scores(model, images, classes, c * masks), None
        start = jnp.zeros(masks.shape[:2] + classes.shape[1:], images.dtype)
        total, _ = jax.lax.scan(add, start, scale)
        return total / steps

    scores, _ = channel_scores(images, features, score_chunk, batch_size=batch_size,
                               skip_constant=True,
                               zero_scores=zero_image_scores(model, images, classes))
    return weighted_map(features, jax.nn.softmax(scores, axis=1))
