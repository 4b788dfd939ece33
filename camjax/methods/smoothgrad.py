"""SmoothGrad (Smilkov et al., 2017) of the backprop saliency map.

The gradient of the class logit is averaged over ``samples`` noisy copies of each image,
``images[b] + N(0, (sigma (max_b - min_b))^2)`` with ``max_b - min_b`` the range of that
image's values (the paper's "noise level" sigma / (x_max - x_min), 10-20% suggested), then
reduced like :func:`camjax.methods.saliency`: the max over channels of |mean gradient|.
Averaging the raw gradients and taking the magnitude afterwards follows the authors'
PAIR ``saliency`` library (``GetSmoothedMask``); defaults are theirs (50 samples, 0.15).

Sample s draws its noise from ``jax.random.normal(jax.random.fold_in(key, s),
images.shape)``: explicit, and independent of ``batch_size`` (the samples per backward
pass; each holds B x batch_size images). ``sigma=0`` gives the saliency map exactly.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from camjax.methods.backprop import saliency_of
from camjax.methods.base import check_images, weighted_input_gradients
from camjax.methods.registry import register


@partial(jax.jit, static_argnames=("graphdef", "samples", "batch_size"))
def _smooth_grad(graphdef, state, images, classes, key, sigma, samples, batch_size):
    span = images.max(axis=(1, 2, 3), keepdims=True) - images.min(axis=(1, 2, 3),
                                                                   keepdims=True)
    scale = sigma * span

    def noisy(s):
        noise = jax.random.normal(jax.random.fold_in(key, s), images.shape, images.dtype)
        return images + scale * noise

    weights = jnp.full((samples,), 1.0 / samples, images.dtype)
    return saliency_of(weighted_input_gradients(graphdef, state, noisy, weights, classes,
                                                batch_size))


@register("smooth_grad", resolution="image",
          options={"samples": 50, "sigma": 0.15, "key": None, "batch_size": 16})
def smooth_grad_fn(graphdef, state, images, classes, *, samples: int = 50,
                   sigma: float = 0.15, key=None, batch_size: int = 16):
    """SmoothGrad (Smilkov et al. 2017): saliency of the gradient averaged over noise.

    (B, k, H, W) at the image resolution; ``key`` defaults to ``jax.random.key(0)``."""
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive int, got {samples!r}")
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    key = jax.random.key(0) if key is None else key
    return _smooth_grad(graphdef, state, check_images(images), classes, key, sigma, samples,
                        batch_size)
