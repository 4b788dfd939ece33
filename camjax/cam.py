"""Class activation maps (paper eq. 2), upsampling, normalisation and the one jitted
``predict`` (model -> top-k -> maps) that evaluation, localize and experiments share.

``M[b, c, y, x] = sum_k W[k, c] f[b, y, x, k]``: the requested classes' columns
of W are gathered first, so the cost is O(B h w K k) whatever the class count.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from camjax.errors import UserError
from camjax.models import class_weights

UPSAMPLE_METHODS = {"bilinear": "linear", "bicubic": "cubic"}
NORMALIZE_MODES = ("minmax", "max")


@partial(jax.jit, static_argnames=("relu",))
def _cams(features, weights, classes, relu):
    columns = jnp.take(weights, classes, axis=1)            # (K, B, k): only what is asked
    maps = jnp.einsum("byxk,kbc->bcyx", features, columns.astype(features.dtype))
    return jax.nn.relu(maps) if relu else maps


def class_activation_maps(features, weights, classes, *, relu: bool = False) -> jax.Array:
    """CAMs of ``classes`` (B, k) from ``features`` (B, h, w, K) and ``weights`` (K, C).

    ``weights`` may come from any linear classifier on the pooled features.
    A sharded batch stays sharded: this is one einsum under ``jax.jit``.

    Concrete ``classes`` outside [0, C) raise :class:`camjax.errors.UserError`. Traced
    ones (a call inside ``jax.jit``) cannot be checked: there, as ``jnp.take`` does, an
    index >= C gives NaN maps and a negative index counts from the end.
    """
    if features.ndim != 4:
        raise ValueError(f"features must be (B, h, w, K), got shape {features.shape}")
    if weights.ndim != 2 or weights.shape[0] != features.shape[-1]:
        raise ValueError(f"weights must be (K={features.shape[-1]}, C), got shape {weights.shape}")
    classes = jnp.asarray(classes)
    if classes.ndim == 1:
        classes = classes[:, None]
    if classes.ndim != 2 or classes.shape[0] != features.shape[0]:
        raise ValueError(f"classes must be (B={features.shape[0]}, k), got shape {classes.shape}")
    if not jnp.issubdtype(classes.dtype, jnp.integer):
        raise TypeError(f"classes must be integers, got {classes.dtype}")
    _check_class_range(classes, weights.shape[1])
    return _cams(features, weights, classes, relu)


def _check_class_range(classes, num_classes: int) -> None:
    """Concrete class indices in [0, C); traced or not fully addressable ones are skipped."""
    if isinstance(classes, jax.core.Tracer) or not getattr(classes, "is_fully_addressable",
                                                           True):
        return
    values = np.asarray(classes)
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        bad = values[(values < 0) | (values >= num_classes)].ravel()[0]
        raise UserError(f"classes must lie in [0, {num_classes}) (the columns of weights); "
                        f"got {int(bad)}")


@partial(jax.jit, static_argnames=("size", "method"))
def _upsample(maps, size, method):
    if method not in UPSAMPLE_METHODS:   # checked when traced: every caller is covered
        raise UserError(f"method must be one of {tuple(UPSAMPLE_METHODS)}, got {method!r}")
    return jax.image.resize(maps, maps.shape[:-2] + tuple(size), UPSAMPLE_METHODS[method],
                            antialias=False)


def upsample(maps, size, method: str = "bilinear") -> jax.Array:
    """Resize (..., h, w) maps to (..., H, W) with half-pixel centres.

    ``bilinear`` matches the official Python demo (cv2 bilinear); ``bicubic`` is the
    Keys cubic (a = -0.5) kernel, the family the MATLAB/wsolevaluation pipelines use.
    """
    if method not in UPSAMPLE_METHODS:
        raise ValueError(f"method must be one of {tuple(UPSAMPLE_METHODS)}, got {method!r}")
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be (H, W) with positive entries, got {size}")
    return _upsample(jnp.asarray(maps), size, method)


@partial(jax.jit, static_argnames=("mode",))
def _normalize(maps, mode):
    if mode not in NORMALIZE_MODES:      # checked when traced: "zscore" is not min-max
        raise UserError(f"mode must be one of {NORMALIZE_MODES}, got {mode!r}")
    finite = jnp.all(jnp.isfinite(maps), axis=(-2, -1), keepdims=True)
    safe = jnp.where(finite, maps, 0.0)
    hi = safe.max(axis=(-2, -1), keepdims=True)
    lo = safe.min(axis=(-2, -1), keepdims=True)
    varies = finite & (hi > lo)          # constant or non-finite maps become zeros
    if mode == "max":   # the MATLAB pipeline divides the absolute map by its max
        safe = jnp.abs(safe)
        hi, lo = safe.max(axis=(-2, -1), keepdims=True), jnp.zeros_like(hi)
    span = jnp.where(varies, hi - lo, 1.0)
    return jnp.where(varies, (safe - lo) / span, 0.0)


def normalize(maps, mode: str = "minmax") -> jax.Array:
    """Per-map scaling to [0, 1]; constant maps or maps holding NaN/inf become all zeros."""
    if mode not in NORMALIZE_MODES:
        raise ValueError(f"mode must be one of {NORMALIZE_MODES}, got {mode!r}")
    return _normalize(jnp.asarray(maps), mode)


def top_k_classes(logits, k: int) -> jax.Array:
    """(B, C) scores -> (B, k) class indices, best first."""
    if not 1 <= k <= logits.shape[-1]:
        raise ValueError(f"k must be in [1, {logits.shape[-1]}], got {k}")
    return jax.lax.top_k(logits, k)[1]


def maps_at_size(features, weights, classes, size, *, method: str = "bilinear",
                 mode: str = "minmax", relu: bool = False) -> jax.Array:
    """CAMs of ``classes`` upsampled to ``size`` and normalised: the pure composition,
    for use inside larger jitted functions (no checks, no jit of its own)."""
    maps = _cams(features, weights, classes, relu)
    return _normalize(_upsample(maps.astype(jnp.float32), tuple(size), method), mode)


@partial(jax.jit, static_argnames=("graphdef", "k", "method", "mode", "size"))
def predict(graphdef, state, images, labels=None, *, k: int = 5, method: str = "bilinear",
            mode: str = "minmax", size: tuple[int, int] | None = None):
    """Images -> model -> top-k classes -> normalised CAMs at image size, as one jit.

    Pure over ``nnx.split`` state: ``graphdef`` (static) and ``state`` (one state or a
    tuple of states, as ``nnx.merge`` takes them) of any network whose call returns
    ``(logits, features)`` and whose ``class_weights`` are defined. Returns
    ``(logits (B, C), top (B, k), maps (B, k, H, W))``; with ``labels`` (B,) the maps
    are those of ``[label, top-1, ..., top-k]`` (B, 1 + k, H, W), the ground-truth
    class's first. Maps are upsampled to ``size`` (H, W), default the images' size.
    A batch sharded along ``data`` stays sharded.
    """
    states = state if isinstance(state, tuple) else (state,)
    model = nnx.merge(graphdef, *states)
    logits, features = model(images)
    top = jax.lax.top_k(logits, k)[1]
    classes = top if labels is None else jnp.concatenate([labels[:, None], top], axis=1)
    maps = maps_at_size(features, class_weights(model), classes, size or images.shape[1:3],
                        method=method, mode=mode)
    return logits, top, maps


def predict_cams(model: nnx.Module, images, *, k: int = 5, method: str = "bilinear",
                 mode: str = "minmax"):
    """:func:`predict` of an NNX model: ``(logits (B, C), classes (B, k), maps (B, k, H, W))``.

    The model is put in evaluation mode.
    """
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (B, H, W, 3), got shape {images.shape}")
    if method not in UPSAMPLE_METHODS or mode not in NORMALIZE_MODES:
        raise ValueError(f"bad method {method!r} or mode {mode!r}")
    model.eval()
    graphdef, state = nnx.split(model)
    return predict(graphdef, state, images, k=k, method=method, mode=mode)
