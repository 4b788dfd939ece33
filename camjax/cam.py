"""Class activation maps (paper eq. 2), upsampling and normalisation: the primitives.

``M[b, j, y, x] = sum_K W[K, classes[b, j]] f[b, y, x, K]``. The requested classes'
columns of W are selected first by a contraction with one-hot vectors, so the cost is
O(B h w K k) whatever the class count, and a batch sharded along an explicit ``data`` mesh
axis stays sharded (a gather with sharded indices would not: jax cannot type its output's
sharding). ``camjax.methods.cam`` and the map engine (``camjax.engine``) use it; models,
classes and top-k live there.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from camjax.errors import UserError

UPSAMPLE_METHODS = {"bilinear": "linear", "bicubic": "cubic"}
NORMALIZE_MODES = ("minmax", "max")


def class_columns(weights, classes):
    """(K, C) or per-image (B, K, C) weights, (B, k) classes -> (B, k, K) their columns.

    A one-hot contraction at HIGHEST precision: exact (each column is one weight times 1),
    also where matmuls default to bfloat16 (TPU)."""
    hot = jax.nn.one_hot(classes, weights.shape[-1], dtype=weights.dtype)      # (B, k, C)
    spec = "Kc,bjc->bjK" if weights.ndim == 2 else "bKc,bjc->bjK"
    return jnp.einsum(spec, weights, hot, precision=jax.lax.Precision.HIGHEST)


def weighted_sum(features, weights):
    """sum_K weights[b, j, K] features[b, y, x, K] -> (B, k, h, w); per-position weights
    (B, k, h, w, K) weight each position's channels (LayerCAM)."""
    spec = "byxk,bjk->bjyx" if weights.ndim == 3 else "byxk,bjyxk->bjyx"
    return jnp.einsum(spec, features, weights.astype(features.dtype))


@partial(jax.jit, static_argnames=("relu",))
def _cams(features, weights, classes, relu):
    maps = weighted_sum(features, class_columns(weights, classes))
    return jax.nn.relu(maps) if relu else maps


def class_activation_maps(features, weights, classes, *, relu: bool = False) -> jax.Array:
    """CAMs (B, k, h, w) of ``classes`` (B, k) or (B,) from ``features`` (B, h, w, K) and
    ``weights`` (K, C), or per-image weights (B, K, C) (a head that folds a normalisation
    of the pooled features into its classifier, e.g. ConvNeXt's LayerNorm).

    ``weights`` may come from any linear classifier on the pooled features. A sharded
    batch stays sharded. Concrete ``classes`` outside [0, C) raise
    :class:`camjax.errors.UserError`; traced ones (inside ``jax.jit``) cannot be checked,
    and there an index outside [0, C) gives an all-zero map (its one-hot vector is zero).
    """
    features, weights = jnp.asarray(features), jnp.asarray(weights)
    if features.ndim != 4:
        raise ValueError(f"features must be (B, h, w, K), got shape {features.shape}")
    b, k = features.shape[0], features.shape[-1]
    if not (weights.ndim == 2 and weights.shape[0] == k
            or weights.ndim == 3 and weights.shape[:2] == (b, k)):
        raise ValueError(f"weights must be (K={k}, C) or (B={b}, K={k}, C), got shape "
                         f"{weights.shape}")
    classes = jnp.asarray(classes)
    if classes.ndim == 1:
        classes = classes[:, None]
    if classes.ndim != 2 or classes.shape[0] != b:
        raise ValueError(f"classes must be (B={b}, k), got shape {classes.shape}")
    if not jnp.issubdtype(classes.dtype, jnp.integer):
        raise TypeError(f"classes must be integers, got {classes.dtype}")
    _check_class_range(classes, weights.shape[-1])
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


@jax.custom_jvp
def _max_min(flat):
    """(max, min) over the last axis in one pass: a variadic reduce, which XLA:CPU runs
    ~9x faster than a max and a min (32 x 5 maps of 224 x 224: 2.5 ms against 22 ms).
    NaN propagates to both (``maximum`` / ``minimum`` are NaN-propagating in XLA)."""
    init = (jnp.array(-jnp.inf, flat.dtype), jnp.array(jnp.inf, flat.dtype))
    return jax.lax.reduce((flat, flat), init, lambda a, b: (jnp.maximum(a[0], b[0]),
                                                            jnp.minimum(a[1], b[1])),
                          (flat.ndim - 1,))


@_max_min.defjvp
def _max_min_jvp(primals, tangents):      # a variadic reduce has no derivative rule in JAX
    return jax.jvp(lambda x: (x.max(axis=-1), x.min(axis=-1)), primals, tangents)


def map_max_min(maps) -> tuple[jax.Array, jax.Array]:
    """Each (H, W) map's max and min, (..., 1, 1) each, in one pass (NaN if it holds NaN)."""
    hi, lo = _max_min(maps.reshape(maps.shape[:-2] + (-1,)))
    return hi[..., None, None], lo[..., None, None]


@partial(jax.jit, static_argnames=("mode",))
def _normalize(maps, mode):
    if mode not in NORMALIZE_MODES:      # checked when traced: "zscore" is not min-max
        raise UserError(f"mode must be one of {NORMALIZE_MODES}, got {mode!r}")
    hi, lo = map_max_min(maps)
    varies = jnp.isfinite(hi) & jnp.isfinite(lo) & (hi > lo)   # constant or non-finite maps
    if mode == "max":   # the MATLAB pipeline divides the absolute map by its max   # -> zeros
        maps, hi, lo = jnp.abs(maps), jnp.maximum(hi, -lo), jnp.zeros_like(lo)
    span = jnp.where(varies, hi - lo, 1.0)
    return jnp.where(varies, _rounded_into_0_1((maps - lo) / span), 0.0)


@jax.custom_jvp
def _rounded_into_0_1(scaled):
    """``scaled`` clipped to [0, 1]. Inside one jitted program XLA:CPU may fuse the maps'
    producer into the scaling and contract it with the subtraction into an FMA (unrounded:
    a pixel an ulp below its map's min), and it turns the division into a product with
    1 / span (an ulp above 1): maps at -1e-8 or 1.0000001 without the clip. It moves
    values by rounding errors only, so its derivative is the identity's (``jnp.clip``'s
    would halve the gradient at 0 and 1)."""
    return jnp.clip(scaled, 0.0, 1.0)


_rounded_into_0_1.defjvp(lambda primals, tangents: (_rounded_into_0_1(*primals), *tangents))


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
