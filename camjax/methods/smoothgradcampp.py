"""Smooth Grad-CAM++ (Omeiza et al., 2019): Grad-CAM++ with the gradient's powers averaged
over noisy copies of the image.

With ``g_s = d logit_c / d A`` at the layer for the noisy input ``x + n_s``, s = 1..n, and
``D_p = (1/n) sum_s g_s^p`` (the p-th derivatives of ``exp(logit)`` over its value, as in
:mod:`camjax.methods.gradcampp`)::

    alpha_K(i, j) = D_2 / (2 D_2 + sum_ab A_K(a, b) D_3)      (at (i, j), channel K)
    w_K = sum_ij alpha_K(i, j) ReLU(D_1(i, j)),    map = ReLU(sum_K w_K A_K)

``A`` the activations of the image itself. With ``sigma=0`` it is Grad-CAM++ exactly (the
same conventions: ``sum_ab A`` times ``D_3`` at each position, alpha 0 where the
denominator is 0, no epsilon). Where the peers depart: the paper's alpha has ``D_1`` in its
numerator, which torchcam's ``SmoothGradCAMpp`` replaces by ``D_2`` ("a personal
correction", so that sigma = 0 gives Grad-CAM++), and camjax follows; torchcam's ``w``
multiplies alpha by ``ReLU`` of the *last* noisy sample's gradient (its hook keeps only that
one), camjax by that of the mean gradient ``D_1``, the SmoothGrad estimate; torchcam sums
``A D_3`` over the positions where the paper (and camjax's Grad-CAM++) takes ``sum_ab A``
times ``D_3(i, j)``, and adds ``1e-8`` to the denominator; its noise is ``N(0, 0.3^2)`` in
absolute terms with 4 samples. camjax draws the noise of SmoothGrad
(:mod:`camjax.methods.smoothgrad`): sample s is ``sigma (max - min)
jax.random.normal(jax.random.fold_in(key, s), images.shape)`` with ``max - min`` each
image's range, defaults SmoothGrad's (50 samples, ``sigma`` 0.15, ``key``
``jax.random.key(0)``), ``batch_size`` samples per backward pass (B x batch_size images).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from camjax.methods.base import channel_map, check_images, layer_activations, layer_gradients
from camjax.methods.gradcampp import moment_weights
from camjax.methods.registry import register


def noise_scale(images, sigma):
    """(B, 1, 1, 1): ``sigma`` times each image's range of values."""
    span = images.max(axis=(1, 2, 3), keepdims=True) - images.min(axis=(1, 2, 3),
                                                                   keepdims=True)
    return sigma * span


@partial(jax.jit, static_argnames=("graphdef", "layer", "samples", "batch_size", "relu",
                                   "eigen_smooth"))
def _smooth_plus_plus(graphdef, state, images, classes, key, sigma, layer, samples,
                      batch_size, relu, eigen_smooth):
    _, activations = layer_activations(graphdef, state, images, layer)
    b, k = classes.shape
    scale = noise_scale(images, sigma)
    chunk = min(batch_size, samples)
    chunks = -(-samples // chunk)
    repeated = jnp.broadcast_to(classes[:, None], (b, chunk, k)).reshape(b * chunk, k)

    def noisy(s):
        return images + scale * jax.random.normal(jax.random.fold_in(key, s), images.shape,
                                                  images.dtype)

    def add_chunk(sums, ids):
        points = jax.vmap(noisy, out_axes=1)(ids)                   # (B, chunk, H, W, 3)
        _, _, g = layer_gradients(graphdef, state, points.reshape((b * chunk,) + images.shape[1:]),
                                  repeated, layer)
        g = g.reshape((b, chunk) + g.shape[1:])                      # (B, chunk, k, h, w, K)
        g = g * (ids < samples).astype(g.dtype).reshape((1, chunk) + (1,) * (g.ndim - 2))
        return tuple(total + (g ** p).sum(axis=1) for total, p in zip(sums, (1, 2, 3))), None

    zeros = jnp.broadcast_to(jnp.zeros_like(activations)[:, None], (b, k) + activations.shape[1:])
    sums, _ = jax.lax.scan(add_chunk, (zeros,) * 3,
                           jnp.arange(chunks * chunk).reshape(chunks, chunk))
    d1, d2, d3 = (total / samples for total in sums)
    maps = channel_map(activations, moment_weights(activations, d1, d2, d3), eigen_smooth)
    return jax.nn.relu(maps) if relu else maps


@register("smooth_grad_cam_plus_plus", resolution="features",
          options={"samples": 50, "sigma": 0.15, "key": None, "batch_size": 16, "relu": True})
def smooth_grad_cam_plus_plus_fn(graphdef, state, images, classes, *, layer=None,
                                 samples: int = 50, sigma: float = 0.15, key=None,
                                 batch_size: int = 16, relu: bool = True,
                                 eigen_smooth: bool = False):
    """Smooth Grad-CAM++ (Omeiza et al. 2019): Grad-CAM++ of gradients averaged over noise."""
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive int, got {samples!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    key = jax.random.key(0) if key is None else key
    return _smooth_plus_plus(graphdef, state, check_images(images), classes, key, sigma,
                             layer, samples, batch_size, relu, eigen_smooth)
