"""SS-CAM (Wang, Naidu et al., 2020, "Smoothed Score-CAM"), as torchcam's ``SSCAM``.

Score-CAM's masks (:mod:`camjax.methods.scorecam`: each channel upsampled, min-max
normalised) with Gaussian noise added, averaged over ``samples`` draws:

    w_K = softmax_K( (1 / N) sum_s Y_c(X * (M_K + delta_{s,K})) ),   delta ~ N(0, sigma^2)

per pixel of the mask (the paper's first variant, noise on the masks; torchcam's default
``num_samples=35``, ``std=2.0``). The map is ``ReLU(sum_K w_K A_K)``. torchcam subtracts the
unmasked image's logit from every score, a constant per image and class that the softmax
over channels ignores; it normalises each channel before upsampling (camjax: after, as
Score-CAM's authors do).

Noise is explicit: sample s of channel K is ``jax.random.normal(fold_in(fold_in(key, s),
K), (H, W))``, the same for every image of the batch (torchcam draws a fresh tensor per
call), so an image's map does not depend on the batch it is in or on ``batch_size``.
``key`` defaults to ``jax.random.key(0)``. A constant channel is not skipped here: its
noisy mask is not zero. Cost: K x ``samples`` masked forward passes per image.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from camjax.methods.base import eval_model, layer_activations
from camjax.methods.registry import register
from camjax.methods.scorecam import (channel_masks, channel_scores, check_batch_size,
                                     masked_scores, weighted_map)


def noise_of(key, sample, ids, size, dtype):
    """(B, n, H, W) noise of channels ``ids`` (B, n) for ``sample``."""
    key = jax.random.fold_in(key, sample)
    draw = lambda i: jax.random.normal(jax.random.fold_in(key, i), size, dtype)  # noqa: E731
    return jax.vmap(jax.vmap(draw))(ids)


@partial(jax.jit, static_argnames=("graphdef", "layer", "samples", "batch_size"))
def _ss_cam(graphdef, state, images, classes, key, sigma, *, layer, samples, batch_size):
    model = eval_model(graphdef, state)
    _, features = layer_activations(graphdef, state, images, layer)
    size = images.shape[1:3]

    def score_chunk(activations, ids):
        masks, _ = channel_masks(activations, size)

        def add(total, s):
            noisy = masks + sigma * noise_of(key, s, ids, size, masks.dtype)
            return total + masked_scores(model, images, classes, noisy), None
        start = jnp.zeros(masks.shape[:2] + classes.shape[1:], images.dtype)
        total, _ = jax.lax.scan(add, start, jnp.arange(samples))
        return total / samples

    scores, _ = channel_scores(images, features, score_chunk, batch_size=batch_size,
                               skip_constant=False)
    return weighted_map(features, jax.nn.softmax(scores, axis=1))


@register("ss_cam", resolution="features",
          options={"samples": 35, "sigma": 2.0, "key": None, "batch_size": 32})
def ss_cam_fn(graphdef, state, images, classes, *, layer=None, samples: int = 35,
              sigma: float = 2.0, key=None, batch_size: int = 32):
    """SS-CAM (Wang et al. 2020): Score-CAM's scores averaged over noisy masks."""
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive int, got {samples!r}")
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    check_batch_size(batch_size)
    key = jax.random.key(0) if key is None else key
    return _ss_cam(graphdef, state, images, classes, key, sigma, layer=layer,
                   samples=samples, batch_size=batch_size)
