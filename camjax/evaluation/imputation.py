"""ROAD's noisy linear imputation (Rong et al., ICML 2022), many images at once.

Each removed pixel takes the weighted mean of its 8 neighbours inside the image, known or
removed (weights 1/6 for the 4 edge neighbours, 1/12 for the 4 corners; a neighbour off
the image drops out and the others keep their weights, so a border pixel is the mean
over fewer neighbours), then Gaussian noise of standard deviation ``noise`` (0.01,
absolute) is added to it. The removed pixels of an image are the unknowns of one sparse
linear system, per channel:

    (sum_j w_j) x_i - sum_{removed j} w_j x_j = sum_{known j} w_j v_j,

over i's in-image neighbours j: the authors' ``NoisyLinearImputer.setup_sparse_system``
(kept by pytorch-grad-cam, which writes it with the opposite sign). Many images are one
block-diagonal system, built at once and solved exactly, block by block, by scipy's sparse
LU (SuperLU in symmetric mode with a minimum-degree ordering of A + A^T: the matrix is
symmetric; about twice as fast as one ``spsolve`` of the whole system, which orders the
blocks together) for the three channels at once.

The matrix is symmetric and diagonally dominant; it is singular only for an image whose
every pixel is removed (the 8-neighbour grid is connected, so any smaller removed region
borders a known pixel). The references then get a singular LU (NaN); camjax fills such
an image with 0, the system's least-norm solution (for normalised inputs, the dataset
mean), plus the noise.
"""
from __future__ import annotations

import jax
import numpy as np
import scipy.sparse
import scipy.sparse.linalg

# (dy, dx), weight: the authors' table (pytorch-grad-cam's ``neighbors_weights``)
NEIGHBOUR_WEIGHTS = (((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12),
                     ((0, -1), 1 / 6), ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6))


def linear_system(images, keep):
    """The imputation system of ``images`` (M, H, W, C) with ``keep`` (M, H, W) bool (True:
    known). Returns (A (U, U) CSR, b (U, C) float64, unknown (U,) flat indices into
    M x H x W), unknowns in row-major order image by image."""
    images, keep = np.asarray(images, np.float64), np.asarray(keep, bool)
    m, h, w = keep.shape
    values = images.reshape(m * h * w, -1)
    known = keep.ravel()
    unknown = np.flatnonzero(~known)
    variable = np.full(m * h * w, -1, np.int64)
    variable[unknown] = np.arange(len(unknown))
    n_img, rest = np.divmod(unknown, h * w)
    y, x = np.divmod(rest, w)
    diagonal = np.zeros(len(unknown))
    b = np.zeros((len(unknown), values.shape[1]))
    rows, cols, data = [], [], []
    for (dy, dx), weight in NEIGHBOUR_WEIGHTS:
        ny, nx = y + dy, x + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        i = np.flatnonzero(inside)
        j = (n_img[i] * h + ny[i]) * w + nx[i]
        diagonal[i] += weight
        is_known = known[j]
        np.add.at(b, i[is_known], weight * values[j[is_known]])
        rows.append(i[~is_known])
        cols.append(variable[j[~is_known]])
        data.append(np.full(int((~is_known).sum()), -weight))
    u = np.arange(len(unknown))
    a = scipy.sparse.csr_matrix(
        (np.concatenate([diagonal, *data]), (np.concatenate([u, *rows]),
                                             np.concatenate([u, *cols]))),
        shape=(len(unknown), len(unknown)))
    return a, b, unknown


def solve_blocks(a, b, block) -> np.ndarray:
    """Solve the block-diagonal ``a x = b`` one block at a time; ``block`` (U,) the
    (non-decreasing) block of each unknown."""
    cuts = [0, *(np.flatnonzero(np.diff(block)) + 1), len(block)]
    x = np.empty_like(b)
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        lu = scipy.sparse.linalg.splu(a[lo:hi, lo:hi].tocsc(), permc_spec="MMD_AT_PLUS_A",
                                      options={"SymmetricMode": True})
        x[lo:hi] = lu.solve(b[lo:hi]).reshape(hi - lo, -1)
    return x


def impute(images, keep, *, noise: float = 0.01, draws=None, key=None) -> np.ndarray:
    """``images`` (M, H, W, C) with the pixels where ``keep`` (M, H, W) is False replaced by
    the noisy linear imputation; float32 out.

    ``noise``: standard deviation of the Gaussian noise added to each imputed value (0: the
    exact linear imputation). The noise is ``noise * draws`` at the imputed pixels, ``draws``
    (M, H, W, C) standard normal values; without them, numpy's generator seeded with the
    data of the ``jax.random`` key ``key`` (default ``jax.random.key(0)``) draws them.
    """
    images = np.asarray(images)
    keep = np.asarray(keep, bool)
    if images.ndim != 4 or keep.shape != images.shape[:3]:
        raise ValueError(f"images must be (M, H, W, C) and keep (M, H, W); got shapes "
                         f"{images.shape} and {keep.shape}")
    out = images.astype(np.float64)                     # a copy
    flat = out.reshape(-1, images.shape[-1])            # a view of it
    solvable = keep.any(axis=(1, 2))                    # an image with a known pixel
    out[~solvable] = 0.0                                # the least-norm solution
    if solvable.any():
        a, b, unknown = linear_system(images[solvable], keep[solvable])
        if len(unknown):
            # the unknowns' flat indices among the solvable images -> among all images
            h, w = keep.shape[1:]
            image_index = np.flatnonzero(solvable)[unknown // (h * w)]
            flat[image_index * h * w + unknown % (h * w)] = solve_blocks(a, b, image_index)
    if noise:
        if draws is None:
            key = jax.random.key(0) if key is None else key
            words = [int(w) for w in np.asarray(jax.random.key_data(key)).ravel()]
            draws = np.random.default_rng(words).standard_normal(images.shape, np.float32)
        draws = np.asarray(draws, np.float64)
        if draws.shape != images.shape:
            raise ValueError(f"draws must be shaped like the images {images.shape}, got "
                             f"{draws.shape}")
        out = np.where(keep[..., None], out, out + noise * draws)
    return out.astype(np.float32)
