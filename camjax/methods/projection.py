"""The first principal component of a map's channels, and its kernel PCA counterpart:
EigenCAM, EigenGrad-CAM, KPCA-CAM and the ``eigen_smooth`` option share them.

For one map, the ``n = h w`` positions are the samples and the K channels the features:
``X`` (n, K). pytorch-grad-cam's ``get_2d_projection`` centres ``X`` over the positions,
takes the first right singular vector ``v1`` of the centred ``Xc`` and returns ``Xc v1``
reshaped to (h, w). The same projection is ``sqrt(l1) u1`` with ``(l1, u1)`` the top
eigenpair of the Gram matrix ``Xc Xc^T`` (n x n), or ``Xc v1`` with ``v1`` the top
eigenvector of ``Xc^T Xc`` (K x K): camjax decomposes whichever is smaller.

**Sign.** A singular vector's sign is arbitrary; pytorch-grad-cam keeps the sign LAPACK's
SVD returns, so its EigenCAM may light up the background (its newer Seg-Eigen-CAM flips
the map when ``|min| > |max|``, Chung & Ying 2025, eq. 13). camjax always flips: the
entry of largest magnitude is made positive, which is that rule, and also scikit-learn's
``svd_flip`` on the eigenvectors of ``KernelPCA``, so :func:`kernel_first_component`
equals ``KernelPCA(n_components=1).fit_transform`` exactly.

**Gradient.** ``jnp.linalg.eigh``'s JVP divides by every eigenvalue gap, and a centred
matrix has repeated zero eigenvalues (rank at most n - 1), which would make it NaN;
:func:`top_eigenpair` differentiates the top pair alone, ``du = sum_i u_i (u_i^T dM u) /
(l1 - l_i)`` over the other eigenvectors (finite unless the top eigenvalue is repeated,
where the component itself is undefined).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

KERNELS = ("linear", "poly", "rbf", "sigmoid", "cosine")


@jax.custom_jvp
def top_eigenpair(m):
    """(..., n, n) symmetric -> (largest eigenvalue (...), its unit eigenvector (..., n))."""
    w, v = jnp.linalg.eigh(m)
    return w[..., -1], v[..., :, -1]


@top_eigenpair.defjvp
def _top_eigenpair_jvp(primals, tangents):
    (m,), (dm,) = primals, tangents
    w, v = jnp.linalg.eigh(m)
    top, u, others = w[..., -1], v[..., :, -1], v[..., :, :-1]
    dm = (dm + jnp.swapaxes(dm, -1, -2)) / 2
    dm_u = jnp.einsum("...ij,...j->...i", dm, u)
    gaps = top[..., None] - w[..., :-1]
    safe = jnp.where(gaps > 0, gaps, 1.0)
    coefficients = jnp.where(gaps > 0, jnp.einsum("...ij,...i->...j", others, dm_u) / safe, 0)
    return (top, u), (jnp.einsum("...i,...i->...", u, dm_u),
                      jnp.einsum("...ij,...j->...i", others, coefficients))


def flip_sign(projection):
    """(..., n) -> each row times the sign of its entry of largest magnitude."""
    index = jnp.argmax(jnp.abs(projection), axis=-1, keepdims=True)
    sign = jnp.sign(jnp.take_along_axis(projection, index, axis=-1))
    return projection * jnp.where(sign == 0, 1, sign)


def _project(points):
    """(..., n, K) -> (..., n) the centred first-component projection, sign flipped."""
    centred = points - points.mean(axis=-2, keepdims=True)
    n, k = points.shape[-2:]
    if n <= k:       # the Gram matrix: projection = sqrt(l1) u1
        top, u = top_eigenpair(jnp.einsum("...ik,...jk->...ij", centred, centred))
        projection = jnp.sqrt(jnp.maximum(top, 0))[..., None] * u
    else:            # the covariance: projection = Xc v1
        _, v = top_eigenpair(jnp.einsum("...ni,...nj->...ij", centred, centred))
        projection = jnp.einsum("...nk,...k->...n", centred, v)
    return flip_sign(projection)


def first_component(maps):
    """(..., h, w, K) channel maps -> (..., h, w): each map's projection on the first
    principal component of its channels (pytorch-grad-cam's ``get_2d_projection``, with
    the sign convention above)."""
    *lead, h, w, k = maps.shape
    return _project(maps.reshape(*lead, h * w, k)).reshape(*lead, h, w)


def kernel_matrix(x, kernel: str = "sigmoid", gamma: float | None = None, *,
                  degree: int = 3, coef0: float = 1.0):
    """(..., n, K) points -> (..., n, n) kernel values as scikit-learn's
    ``pairwise_kernels`` (``gamma`` None: 1 / K; ``coef0`` 1, ``degree`` 3)."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    gamma = 1.0 / x.shape[-1] if gamma is None else gamma
    dots = jnp.einsum("...ik,...jk->...ij", x, x)
    if kernel == "linear":
        return dots
    if kernel == "poly":
        return (gamma * dots + coef0) ** degree
    if kernel == "sigmoid":
        return jnp.tanh(gamma * dots + coef0)
    squares = jnp.einsum("...ik,...ik->...i", x, x)
    if kernel == "cosine":
        norms = jnp.sqrt(squares)
        norms = jnp.where(norms > 0, norms, 1.0)
        return dots / (norms[..., :, None] * norms[..., None, :])
    distances = squares[..., :, None] + squares[..., None, :] - 2 * dots
    return jnp.exp(-gamma * jnp.maximum(distances, 0))


def kernel_first_component(maps, kernel: str = "sigmoid", gamma: float | None = None):
    """(..., h, w, K) -> (..., h, w): kernel PCA's first component of each map's positions
    (KPCA-CAM): the positions centred over the map (as pytorch-grad-cam does before
    ``KernelPCA``), the kernel matrix centred in feature space (scikit-learn's
    ``KernelCenterer``), ``sqrt(l1) u1`` of its top eigenpair, sign flipped."""
    *lead, h, w, k = maps.shape
    points = maps.reshape(*lead, h * w, k)
    points = points - points.mean(axis=-2, keepdims=True)
    gram = kernel_matrix(points, kernel, gamma)
    centred = (gram - gram.mean(axis=-1, keepdims=True) - gram.mean(axis=-2, keepdims=True)
               + gram.mean(axis=(-2, -1), keepdims=True))
    top, u = top_eigenpair(centred)
    projection = jnp.sqrt(jnp.maximum(top, 0))[..., None] * u
    return flip_sign(projection).reshape(*lead, h, w)
