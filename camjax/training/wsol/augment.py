"""The WSOL methods that change the training images, as pure functions of an explicit
PRNG key and the global batch (the same result on any number of devices).

- HaS, hide-and-seek (Singh & Lee, "Hide-and-Seek: Forcing a Network to be Meticulous for
  Weakly-supervised Object and Action Localization", ICCV 2017), as wsolevaluation's
  ``wsol/method/has.py``: the image is cut into ``grid_size`` x ``grid_size`` pixel
  patches and each is hidden with probability ``drop_rate``, filled with 0, which in
  normalised images is the dataset mean.
- CutMix (Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers with
  Localizable Features", ICCV 2019), as wsolevaluation's ``wsol/method/cutmix.py`` and
  ``main.py``: with probability ``prob`` (one draw per batch) a box of the batch's images
  is replaced by the same box of the images in a random permutation; lambda ~
  Beta(beta, beta) sizes the box, and the loss weighs the two labels by the box's real
  share of the image.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def has_mask(u: jax.Array, grid_size: int, drop_rate: float, height: int,
             width: int) -> jax.Array:
    """(B, H, W) bool, True where hidden: patch (i, j) of image b is hidden when its draw
    ``u[b, i, j]`` (uniform [0, 1), shape (B, ceil(H / g), ceil(W / g))) is <= drop_rate."""
    hide = u <= drop_rate
    hide = jnp.repeat(jnp.repeat(hide, grid_size, axis=1), grid_size, axis=2)
    return hide[:, :height, :width]


def has(key: jax.Array, images: jax.Array, grid_size: int, drop_rate: float) -> jax.Array:
    """HaS on NHWC ``images``; ``grid_size`` 0 leaves them as they are (wsolevaluation)."""
    if grid_size == 0:
        return images
    b, h, w = images.shape[:3]
    u = jax.random.uniform(key, (b, -(-h // grid_size), -(-w // grid_size)))
    hidden = has_mask(u, grid_size, drop_rate, h, w)
    return jnp.where(hidden[..., None], jnp.zeros((), images.dtype), images)


def cutmix_box(lam, cx, cy, height: int, width: int) -> tuple:
    """wsolevaluation's ``rand_bbox`` for an NCHW batch of ``height`` x ``width``: the box
    ``[x1, x2) x [y1, y2)`` along (H, W) (its "w" is the height, its "x" indexes rows),
    sides ``int(H * sqrt(1 - lam))`` and ``int(W * sqrt(1 - lam))`` centred on (cx, cy)
    and clipped; and the label weight ``1 - box area / (H W)``."""
    cut = jnp.sqrt(1.0 - jnp.asarray(lam, jnp.float32))
    cut_h = jnp.floor(height * cut).astype(jnp.int32)
    cut_w = jnp.floor(width * cut).astype(jnp.int32)
    x1, x2 = jnp.clip(cx - cut_h // 2, 0, height), jnp.clip(cx + cut_h // 2, 0, height)
    y1, y2 = jnp.clip(cy - cut_w // 2, 0, width), jnp.clip(cy + cut_w // 2, 0, width)
    weight = 1.0 - ((x2 - x1) * (y2 - y1)).astype(jnp.float32) / (height * width)
    return (x1, y1, x2, y2), weight


def cutmix_draws(key: jax.Array, batch: int, height: int, width: int, beta: float,
                 prob: float) -> tuple:
    """The random part of CutMix: (apply, lam, permutation, cx, cy). ``apply`` is False
    when the draw is >= ``prob`` or ``beta`` is 0 (wsolevaluation's ``main.py``)."""
    k_apply, k_lam, k_perm, k_x, k_y = jax.random.split(key, 5)
    apply = (jax.random.uniform(k_apply) < prob) & (beta > 0)
    lam = jax.random.beta(k_lam, max(beta, 1e-6), max(beta, 1e-6))
    return (apply, lam, jax.random.permutation(k_perm, batch),
            jax.random.randint(k_x, (), 0, height), jax.random.randint(k_y, (), 0, width))


def mix(images: jax.Array, labels: jax.Array, apply, lam, perm, cx, cy) -> tuple:
    """The deterministic part: (mixed images, the second labels, the first labels'
    weight); unchanged images and weight 1 when not ``apply``."""
    h, w = images.shape[1:3]
    (x1, y1, x2, y2), weight = cutmix_box(lam, cx, cy, h, w)
    rows, cols = jnp.arange(h)[:, None], jnp.arange(w)[None, :]
    inside = (rows >= x1) & (rows < x2) & (cols >= y1) & (cols < y2) & apply
    mixed = jnp.where(inside[None, :, :, None], images[perm], images)
    return mixed, labels[perm], jnp.where(apply, weight, 1.0)


def cutmix(key: jax.Array, images: jax.Array, labels: jax.Array, beta: float,
           prob: float) -> tuple[jax.Array, jax.Array, jax.Array]:
    """CutMix of a batch: :func:`mix` of :func:`cutmix_draws`."""
    b, h, w = images.shape[:3]
    return mix(images, labels, *cutmix_draws(key, b, h, w, beta, prob))
