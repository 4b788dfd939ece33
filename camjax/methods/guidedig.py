"""Guided Integrated Gradients (Kapishnikov et al., CVPR 2021): an adaptive path that moves
the features with the smallest gradient first.

From the ``baseline`` (None: zeros) to the image in ``steps`` steps; step i (alpha = (i +
1) / steps) starts from one gradient of the class logit at the current point and must
bring the L1 distance to the image down to ``(1 - alpha)`` of the total. Repeatedly: the
features behind ``alpha - max_dist`` (in units of their own baseline-to-image span) are
pulled up to it; the ``fraction`` of features with the smallest ``|gradient|`` (a 'lower'
quantile; features already at ``alpha + max_dist`` excluded) are moved toward that bound,
all the way if that is not enough (gamma > 1), else by the part gamma that reaches the
target; each move adds ``(x_new - x_old) * gradient`` to the attribution. This is the
paper's Algorithm 1 with its bounded path (``max_dist``, Sec. 3.3), as PAIR's
``guided_ig_impl`` computes it (defaults ``steps=200``, ``fraction=0.25``,
``max_dist=0.02``); the "close enough" test uses PAIR's ``math.isclose`` with 1e-9.

Each (image, class) pair follows its own path, batched. PAIR's inner ``while`` loop is a
fixed ``ceil(1 / fraction) + 2`` iterations here (finished pairs stand still): each
iteration that does not finish moves at least ``fraction`` of the features to the bound,
so the loop ends within ``ceil(1 / fraction) + 1`` (and the fixed count keeps it
differentiable). PAIR works in float64; camjax in the images' dtype. The map is summed over
the colour channels, signed; it sums to ``F(image) - F(baseline)`` up to the path's
quadrature error, as Integrated Gradients.
"""
from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp

from camjax.methods.base import check_images, input_gradients
from camjax.methods.registry import register

EPSILON = 1e-9
FEATURES = (2, 3, 4)


def _isclose(a, b):
    return jnp.abs(a - b) <= jnp.maximum(EPSILON * jnp.maximum(jnp.abs(a), jnp.abs(b)),
                                         EPSILON)


def _expand(v):
    return v[..., None, None, None]


@partial(jax.jit, static_argnames=("graphdef", "steps", "fraction", "max_dist"))
def _guided_ig(graphdef, state, images, classes, baseline, *, steps, fraction, max_dist):
    b, k = classes.shape
    shape = (b, k) + images.shape[1:]
    x_in = jnp.broadcast_to(images[:, None], shape)
    x_base = jnp.broadcast_to(jnp.broadcast_to(baseline, images.shape)[:, None], shape)
    diff = x_in - x_base
    l1_total = jnp.abs(diff).sum(axis=FEATURES)                           # (B, k)
    n = math.prod(images.shape[1:])
    rank = math.floor(fraction * (n - 1))                                 # 'lower' quantile
    flat_classes = classes.reshape(b * k)[:, None]
    inf = jnp.asarray(jnp.inf, images.dtype)

    def gradient(x):
        _, g = input_gradients(graphdef, state, x.reshape((b * k,) + images.shape[1:]),
                               flat_classes)
        return g[:, 0].reshape(shape)

    def step(carry, i):
        x, attr = carry
        g = gradient(x)
        alpha = (i + 1.0) / steps
        alpha_min, alpha_max = jnp.maximum(alpha - max_dist, 0.0), jnp.minimum(
            alpha + max_dist, 1.0)
        x_min = x_base + diff * alpha_min.astype(images.dtype)
        x_max = x_base + diff * alpha_max.astype(images.dtype)
        target = l1_total * (1 - (i + 1.0) / steps).astype(images.dtype)

        def inner(state, _):
            x, attr, done = state
            x_alpha = jnp.where(diff != 0, (x - x_base) / jnp.where(diff != 0, diff, 1),
                                alpha_max)
            x_now = jnp.where(x_alpha < alpha_min, x_min, x)
            current = jnp.abs(x_now - x_in).sum(axis=FEATURES)
            close = _isclose(target, current)
            grad = jnp.where(x_now == x_max, inf, g)
            magnitude = jnp.abs(grad).reshape(b, k, n)
            threshold = jnp.sort(magnitude, axis=-1)[..., rank]
            chosen = (jnp.abs(grad) <= _expand(threshold)) & (grad != inf)
            room = (jnp.abs(x_now - x_max) * chosen).sum(axis=FEATURES)
            gamma = jnp.where(room > 0, (current - target) / jnp.where(room > 0, room, 1),
                              inf)
            moved = jnp.where(_expand(gamma) > 1, x_max, x_now + (x_max - x_now) *
                              _expand(jnp.minimum(gamma, 1)))
            x_new = jnp.where(chosen & ~_expand(close), moved, x_now)
            still = ~_expand(done)
            attr = jnp.where(still, attr + (x_new - x) * g, attr)
            x = jnp.where(still, x_new, x)
            return (x, attr, done | close | (gamma <= 1)), None

        done = jnp.zeros((b, k), bool)
        (x, attr, _), _ = jax.lax.scan(inner, (x, attr, done), None,
                                       length=math.ceil(1 / fraction) + 2)
        return (x, attr), None

    (_, attr), _ = jax.lax.scan(step, (x_base, jnp.zeros(shape, images.dtype)),
                                jnp.arange(steps))
    return attr.sum(axis=-1)


@register("guided_ig", resolution="image",
          options={"steps": 200, "fraction": 0.25, "max_dist": 0.02, "baseline": None})
def guided_ig_fn(graphdef, state, images, classes, *, steps: int = 200,
                 fraction: float = 0.25, max_dist: float = 0.02, baseline=None):
    """Guided IG (Kapishnikov et al. 2021): the path moves low-gradient features first."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    if not 0 <= max_dist <= 1:
        raise ValueError(f"max_dist must be in [0, 1], got {max_dist!r}")
    images = check_images(images)
    baseline = jnp.zeros((), images.dtype) if baseline is None else jnp.asarray(
        baseline, images.dtype)
    try:
        jnp.broadcast_shapes(baseline.shape, images.shape)
    except ValueError:
        raise ValueError(f"baseline of shape {baseline.shape} does not broadcast to the "
                         f"images' shape {images.shape}") from None
    return _guided_ig(graphdef, state, images, classes, baseline, steps=steps,
                      fraction=float(fraction), max_dist=float(max_dist))
