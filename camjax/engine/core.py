"""The map engine: maps of any method, at any layer, of any network, through one jitted
pure function, :func:`predict`; :func:`explain` is its front door for a model in hand.

``predict(graphdef, state, images, labels, *, method, k, layer, size, upsample,
normalize, options)`` runs the network once for its logits and top-k classes, then the
registered method (``camjax.methods.registry``) for the maps of ``[labels..., top-1, ...,
top-k]``, upsampled to ``size`` and normalised. The evaluation job
(``camjax.training.inference``), ``camjax localize``, :func:`explain`,
:func:`camjax.engine.explain_photos`, the experiments and the benches all call it, so a map
is made one way.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from camjax import cam, methods  # noqa: F401  (imports every method, registering it)
from camjax.errors import UserError
from camjax.methods import base, registry, smoothing


@partial(jax.jit, static_argnames=("graphdef", "method", "k", "layer", "size", "upsample",
                                   "normalize", "options"))
def predict(graphdef, state, images, labels=None, *, method: str = "cam", k: int = 5,
            layer: str | None = None, size: tuple[int, int] | None = None,
            upsample: str = "bilinear", normalize: str | None = "minmax",
            options: tuple = (), arrays: Mapping[str, Any] | None = None):
    """Images -> network -> top-k classes -> maps, as one jit.

    Pure over ``nnx.split`` state: ``graphdef`` (static) and ``state`` (one state or a
    tuple of states, as ``nnx.merge`` takes them) of any network whose call returns logits
    or ``(logits, features)``. The network runs in evaluation mode. Returns ``(logits (B,
    C), top (B, k), maps (B, j + k, H, W))``: the maps of ``[labels, top-1, ..., top-k]``
    (``labels`` (B,) or (B, j) first; ``k=0`` for the labels' maps alone) by ``method``
    (a registered name) at ``layer`` (a module path; None: the network's features), with
    ``options`` (static ``(name, value)`` pairs, ``("aug_smooth", True)`` and
    ``("eigen_smooth", True)`` among them for the methods that take them:
    ``camjax.methods.smoothing``) and ``arrays`` (array-valued options, traced: a PRNG
    ``key``, a ``baseline``), upsampled to ``size`` (H, W) (default the images') by
    ``upsample`` and normalised per map by ``normalize`` (None: raw). A batch sharded
    along ``data`` stays sharded.
    """
    spec = registry.get(method)
    kwargs = {**dict(options), **(arrays or {}), **({"layer": layer} if layer else {})}
    spec.check_options(kwargs)
    check_modes(upsample, normalize)
    state = nnx.merge_state(*state) if isinstance(state, tuple) else state
    logits = base.logits_of(base.eval_model(graphdef, state)(images))
    top = (jax.lax.top_k(logits, k)[1] if k else
           jnp.zeros(logits.shape[:1] + (0,), jnp.int32))
    classes = top
    if labels is not None:
        labels = labels[:, None] if labels.ndim == 1 else labels
        classes = jnp.concatenate([labels.astype(top.dtype), top], axis=1)
    maps = smoothing.run(spec, graphdef, state, images, classes, **kwargs)
    maps = maps.astype(jnp.float32)
    maps = cam.upsample(maps, size or images.shape[1:3], method=upsample)
    return logits, top, cam.normalize(maps, mode=normalize) if normalize else maps


@partial(jax.jit, static_argnames=("graphdef", "method", "k", "layer", "size", "upsample",
                                   "normalize", "options"))
def predictions(graphdef, state, images, classes=None, *, method: str = "cam", k: int = 1,
                layer: str | None = None, size: tuple[int, int] | None = None,
                upsample: str = "bilinear", normalize: str | None = "minmax",
                options: tuple = (), arrays: Mapping[str, Any] | None = None):
    """:func:`predict` for people: ``(classes (B, k), probabilities (B, k), maps (B, k, H,
    W), logits (B, C))``, the maps of ``classes`` when given, else of the top ``k``, each
    with its softmax probability."""
    logits, top, maps = predict(graphdef, state, images, classes, method=method,
                                k=0 if classes is not None else k, layer=layer, size=size,
                                upsample=upsample, normalize=normalize, options=options,
                                arrays=arrays)
    if classes is not None:
        top = classes[:, None] if classes.ndim == 1 else classes
    probabilities = base.class_scores(jax.nn.softmax(logits.astype(jnp.float32)), top)
    return top, probabilities, maps, logits


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` returns."""
    maps: jax.Array           # (B, k, H, W): in [0, 1] unless normalize=None
    classes: jax.Array        # (B, k) the classes explained, best first for top-k
    probabilities: jax.Array  # (B, k) their softmax probabilities
    logits: jax.Array         # (B, C)


def check_modes(upsample: str, normalize: str | None) -> None:
    """:class:`UserError` for an unknown upsampling method or normalisation mode."""
    if upsample not in cam.UPSAMPLE_METHODS:
        raise UserError(f"upsample must be one of {tuple(cam.UPSAMPLE_METHODS)}, got "
                        f"{upsample!r}")
    if normalize is not None and normalize not in cam.NORMALIZE_MODES:
        raise UserError(f"normalize must be one of {cam.NORMALIZE_MODES} or None, got "
                        f"{normalize!r}")


def split_options(options: Mapping[str, Any]) -> tuple[tuple, dict]:
    """(static ``(name, value)`` pairs, array-valued options) of a method's options."""
    static, arrays = [], {}
    for name, value in sorted(options.items()):
        if isinstance(value, (jax.Array, np.ndarray)):
            arrays[name] = value
        else:
            try:
                hash(value)
            except TypeError:
                raise UserError(f"option {name}={value!r} is neither hashable nor an "
                                "array") from None
            static.append((name, value))
    return tuple(static), arrays


def image_size(size) -> tuple[int, int] | None:
    """``None``, an int (square) or (H, W) -> (H, W) or None (the images' size)."""
    if size is None:
        return None
    size = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in size):
        raise UserError(f"size must be an int or (H, W) of positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def explain(model: nnx.Module, images, method: str = "cam", *, classes=None, top_k: int = 1,
            layer: str | None = None, size=None, upsample: str = "bilinear",
            normalize: str | None = "minmax", **options) -> Explanation:
    """Maps of ``images`` (B, H, W, 3) by ``method`` for the ``top_k`` best classes (or
    ``classes``, (B, k) or (B,)) at ``layer`` (a module path as torchvision names it,
    e.g. ``"layer3"``; None: the network's features), upsampled to ``size`` (default the
    images') and normalised to [0, 1] (``normalize="max"``, or None for raw maps).

    ``model``: any camjax network, or any ``nnx.Module`` whose call returns logits or
    ``(logits, features)`` (name a ``layer`` then, unless it has ``features_layer``); it
    runs in evaluation mode and is left as it is. ``options``: the method's
    (``camjax.methods.registry.get(method).options``). One jitted call
    (:func:`predictions`); a second call with the same shapes and options reuses it.
    """
    spec = registry.get(method)
    spec.check_options({**options, **({"layer": layer} if layer is not None else {})})
    check_modes(upsample, normalize)
    images = base.check_images(images)
    num_classes = base.num_classes(model, images)
    if classes is not None:
        classes = base.check_classes(classes, images.shape[0], num_classes)
    elif not isinstance(top_k, (int, np.integer)) or not 1 <= top_k <= num_classes:
        raise UserError(f"top_k must be in [1, {num_classes}] (the classes), got {top_k!r}")
    static, arrays = split_options(options)
    graphdef, state = nnx.split(model)
    chosen, probabilities, maps, logits = predictions(
        graphdef, state, images, classes, method=method, k=int(top_k), layer=layer,
        size=image_size(size), upsample=upsample, normalize=normalize, options=static,
        arrays=arrays)
    return Explanation(maps, chosen, probabilities, logits)


__all__ = ["Explanation", "check_modes", "explain", "image_size", "predict", "predictions",
           "split_options"]
