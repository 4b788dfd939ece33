"""Blur IG (Xu et al., CVPR 2020, "Attribution in Scale and Space"): integrated gradients
along the path that blurs the image.

The path is ``L(sigma) = G_sigma * x``, the image blurred by a Gaussian of standard
deviation sigma, from ``max_sigma`` (the baseline, almost featureless) down to 0 (the
image). Blur IG is

    phi = - integral_0^max_sigma  dF(L(sigma)) / dL  *  dL / dsigma  dsigma

for the class logit F, by the left Riemann sum over ``sigma_i = i max_sigma / steps`` (or
``sqrt(i max_sigma / steps)`` with ``sqrt=True``), i = 0..steps-1, each term weighted by
``sigma_{i+1} - sigma_i``, as PAIR's ``BlurIG``. The blur is scipy's
``gaussian_filter(x, [sigma, sigma, 0], mode='constant')`` (a kernel of radius
``int(4 sigma + 0.5)``, normalised to sum 1, zero padding), applied as one matrix per axis.
Where PAIR departs from the paper: it approximates ``dL / dsigma`` by the forward
difference ``(L(sigma + 0.01) - L(sigma)) / 0.01``; camjax differentiates the blur exactly
(``jax.jvp`` in sigma). With ``batch_size > 1`` and ``sqrt=True`` PAIR weights a whole
batch of steps by its last step's width; camjax weights each step by its own.
The map is summed over the colour channels, signed (as Integrated Gradients).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from camjax.methods._paths import path_gradients
from camjax.methods.base import check_images
from camjax.methods.registry import register

TRUNCATE = 4.0


def blur_matrix(n: int, sigma, max_radius: int):
    """(n, n): scipy's 1-D ``gaussian_filter`` with zero padding as a matrix (identity at
    sigma 0). ``sigma`` may be traced; ``max_radius`` bounds the kernel's radius."""
    positive = sigma > 0
    safe = jnp.where(positive, sigma, 1.0)
    radius = jnp.floor(TRUNCATE * safe + 0.5)
    t = jnp.arange(-max_radius, max_radius + 1, dtype=safe.dtype)
    norm = jnp.where(jnp.abs(t) <= radius, jnp.exp(-0.5 * (t / safe) ** 2), 0.0).sum()
    d = (jnp.arange(n)[:, None] - jnp.arange(n)[None, :]).astype(safe.dtype)
    matrix = jnp.where(jnp.abs(d) <= radius, jnp.exp(-0.5 * (d / safe) ** 2), 0.0) / norm
    return jnp.where(positive, matrix, jnp.eye(n, dtype=safe.dtype))


def blur(images, sigma, max_radius: int):
    """(B, H, W, C) images blurred over H and W by a Gaussian of standard deviation sigma."""
    rows = blur_matrix(images.shape[1], sigma, max_radius).astype(images.dtype)
    cols = blur_matrix(images.shape[2], sigma, max_radius).astype(images.dtype)
    return jnp.einsum("yi,bijc,xj->byxc", rows, images, cols,
                      precision=jax.lax.Precision.HIGHEST)


def sigmas(steps: int, max_sigma: float, sqrt: bool):
    s = jnp.arange(steps + 1, dtype=jnp.float32) * max_sigma / steps
    return jnp.sqrt(s) if sqrt else s


@partial(jax.jit, static_argnames=("graphdef", "steps", "max_sigma", "sqrt", "batch_size"))
def _blur_ig(graphdef, state, images, classes, *, steps, max_sigma, sqrt, batch_size):
    levels = sigmas(steps, max_sigma, sqrt)
    max_radius = int(TRUNCATE * max_sigma + 0.5)

    def point(s):
        image, slope = jax.jvp(lambda sigma: blur(images, sigma, max_radius), (levels[s],),
                               (jnp.ones((), levels.dtype),))
        return image, -(levels[s + 1] - levels[s]).astype(images.dtype) * slope

    total = path_gradients(graphdef, state, point, steps, classes, batch_size)
    return total.sum(axis=-1)


@register("blur_ig", resolution="image",
          options={"steps": 100, "max_sigma": 50.0, "sqrt": False, "batch_size": 16})
def blur_ig_fn(graphdef, state, images, classes, *, steps: int = 100,
               max_sigma: float = 50.0, sqrt: bool = False, batch_size: int = 16):
    """Blur IG (Xu et al. 2020): integrated gradients along a Gaussian-blur path."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not max_sigma > 0:
        raise ValueError(f"max_sigma must be > 0, got {max_sigma!r}")
    return _blur_ig(graphdef, state, check_images(images), classes, steps=steps,
                    max_sigma=float(max_sigma), sqrt=bool(sqrt), batch_size=batch_size)
