"""Integrated Gradients (Sundararajan et al., ICML 2017) along the straight path.

``IG_i = (x_i - x'_i) * integral_0^1 dF(x' + a (x - x')) / dx_i da`` for the class logit F,
from a baseline x' (default the zero image, i.e. the dataset mean for normalised images),
the integral by a Riemann sum over ``steps`` intervals:

* ``rule="trapezoid"`` (default): the ``steps + 1`` points a = s / steps, the two ends
  weighted by one half;
* ``rule="midpoint"``: the ``steps`` points a = (s + 1/2) / steps.

Attributions are summed over the colour channels, so that a map sums to the paper's
completeness total, ``F(x) - F(x')``, up to the quadrature error (which shrinks as
``steps`` grows; a piecewise-linear ReLU network converges at the rate of its kinks).
The path points are differentiated ``batch_size`` at a time (B x batch_size images per
backward pass). The map is signed: negative where a pixel lowers the score.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from camjax.methods.base import check_images, weighted_input_gradients
from camjax.methods.registry import register

RULES = ("trapezoid", "midpoint")


def quadrature(steps: int, rule: str):
    """Points a in [0, 1] and weights (summing to 1) of the Riemann rule."""
    s = jnp.arange(steps + 1 if rule == "trapezoid" else steps, dtype=jnp.float32)
    if rule == "trapezoid":
        weights = jnp.full(steps + 1, 1.0 / steps).at[jnp.array([0, steps])].set(0.5 / steps)
        return s / steps, weights
    return (s + 0.5) / steps, jnp.full(steps, 1.0 / steps)


@partial(jax.jit, static_argnames=("graphdef", "steps", "rule", "batch_size"))
def _integrated(graphdef, state, images, classes, baseline, steps, rule, batch_size):
    alphas, weights = quadrature(steps, rule)
    alphas = alphas.astype(images.dtype)
    delta = images - baseline

    def on_path(s):
        return baseline + alphas[s] * delta

    mean_grads = weighted_input_gradients(graphdef, state, on_path, weights.astype(
        images.dtype), classes, batch_size)                         # (B, k, H, W, 3)
    return (mean_grads * delta[:, None]).sum(axis=-1)


@register("integrated_gradients", resolution="image",
          options={"steps": 50, "baseline": None, "rule": "trapezoid", "batch_size": 16})
def integrated_gradients_fn(graphdef, state, images, classes, *, steps: int = 50,
                            baseline=None, rule: str = "trapezoid", batch_size: int = 16):
    """Integrated Gradients (Sundararajan et al. 2017) along the straight path.

    (B, k, H, W) at the image resolution, summed over channels. ``baseline``: None (zeros)
    or an array broadcastable to ``images``."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    images = check_images(images)
    if baseline is None:
        baseline = jnp.zeros((), images.dtype)
    baseline = jnp.asarray(baseline, images.dtype)
    try:
        jnp.broadcast_shapes(baseline.shape, images.shape)
    except ValueError:
        raise ValueError(f"baseline of shape {baseline.shape} does not broadcast to the "
                         f"images' shape {images.shape}") from None
    return _integrated(graphdef, state, images, classes, baseline, steps, rule, batch_size)
