"""The two options every map method takes, written once: ``aug_smooth`` and ``eigen_smooth``.

* ``aug_smooth=True``: test-time augmentation as pytorch-grad-cam's ``aug_smooth`` (its
  ``BaseCAM.forward_augmentation_smoothing`` with ttach's default ``HorizontalFlip()`` x
  ``Multiply(factors=[0.9, 1, 1.1])``): the method runs on the 6 inputs ``images *
  factor``, flipped left-right or not (the input as the network takes it, i.e. already
  normalised, as there), each map is flipped back, min-max normalised per map
  (pytorch-grad-cam's ``scale_cam_image`` normalises every map its ``forward`` returns;
  here without its ``1e-7``) and the 6 are averaged. The maps stay at the method's
  resolution (a feature map flipped back is the flip of its upsampled image), so the
  result is in [0, 1], at the same (h, w), whatever the method. The 6 runs are one
  ``lax.map``: one trace of the method, the batch axis whole (a batch sharded along
  ``data`` stays sharded). Array options (a ``key``) are the same for the 6 runs.
* ``eigen_smooth=True``: the map is the first principal component of the weighted
  activations instead of their sum over channels (``camjax.methods.base.channel_map``),
  for the methods whose map is such a sum: those whose pure function takes
  ``eigen_smooth`` (every ``gradient_method``, Score-CAM, ...;
  ``registry.Method.eigen_smooth`` says which). It is passed to the method itself.

:func:`run` is how the engine (``camjax.explain``, ``engine.predict``) and every
``camjax.methods.<name>`` call a registered method with these options;
:func:`config_options` reads them from a run's config (the evaluation job, ``camjax
localize``).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from camjax.cam import normalize
from camjax.methods import registry

FLIPS = (False, True)                # ttach's HorizontalFlip()
FACTORS = (0.9, 1.0, 1.1)            # ttach's Multiply(factors=[0.9, 1, 1.1])


@partial(jax.jit, static_argnames=("pure", "graphdef", "static"))
def aug_smoothed(pure, graphdef, state, images, classes, static=(), arrays=None):
    """The mean of ``pure``'s min-max normalised maps over the 6 flipped and multiplied
    copies of ``images``, each flipped back: (B, k, h, w) in [0, 1]. ``static``: the
    hashable options as ``(name, value)`` pairs, ``arrays``: the array-valued ones."""
    options = {**dict(static), **(arrays or {})}
    flips = jnp.array([f for f in FLIPS for _ in FACTORS])
    factors = jnp.array([x for _ in FLIPS for x in FACTORS], images.dtype)

    def one(augmentation):
        flip, factor = augmentation
        x = images * factor
        x = jnp.where(flip, x[:, :, ::-1], x)
        maps = pure(graphdef, state, x, classes, **options)
        return normalize(jnp.where(flip, maps[..., ::-1], maps), "minmax")

    return jax.lax.map(one, (flips, factors)).mean(axis=0)


def run(spec, graphdef, state, images, classes, **options):
    """The registered method ``spec`` (``registry.Method``) with its options, and
    ``aug_smooth`` applied around it when asked (``eigen_smooth`` goes to the method)."""
    if not options.pop("aug_smooth", False):
        return spec.pure(graphdef, state, images, classes, **options)
    static = tuple(sorted((k, v) for k, v in options.items()
                          if not isinstance(v, (jax.Array, np.ndarray))))
    arrays = {k: v for k, v in options.items() if isinstance(v, (jax.Array, np.ndarray))}
    return aug_smoothed(spec.pure, graphdef, state, images, classes, static, arrays)


def config_options(config, method: str, aug_smooth=None, eigen_smooth=None) -> tuple:
    """The two options as the engine's static ``(name, value)`` pairs, each given here or,
    when None, read from ``config`` (``config.eigen_smooth`` only for a method that takes
    it, so one config serves a list of methods): ``()`` when both are off."""
    if aug_smooth is None:
        aug_smooth = config.get("aug_smooth")
    if eigen_smooth is None:
        eigen_smooth = config.get("eigen_smooth") and registry.get(method).eigen_smooth
    return ((("aug_smooth", True),) if aug_smooth else ()) + \
        ((("eigen_smooth", True),) if eigen_smooth else ())
