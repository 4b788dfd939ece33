"""Grad-CAM++ (Chattopadhyay et al., WACV 2018) with the closed-form higher-order terms.

For an exponential score ``Y = exp(S)`` (``S`` the class logit) the paper's eq. 19 gives the
pixel weights from the first derivative ``g = dS / dA`` alone::

    alpha_K(i, j) = g^2 / (2 g^2 + sum_ab A_K(a, b) g^3)        (g at (i, j), channel K)
    w_K = sum_ij alpha_K(i, j) ReLU(g(i, j))
    map = ReLU(sum_K w_K A_K)

as pytorch-grad-cam's ``grad_cam_plusplus.py`` computes it (the sum of the activations times
the third power of the gradient at each position, like the authors' code; torchcam sums
``A * g^3`` instead). Conventions: the ``exp(S)`` factor of ``dY/dA`` is left out, as
pytorch-grad-cam and torchcam leave it out (it cancels in alpha and scales each map by a
positive constant); where the denominator is 0 the authors' code divides by 1 instead, and
so does camjax (alpha = 0 there, as the numerator is 0 or ReLU(g) is), with no epsilon:
pytorch-grad-cam's ``+1e-6`` would dominate the small gradients of a GAP head (``W / (h w)``,
about 1e-5). The authors' code also divides alpha by its spatial sum, a step outside the
paper's equations that neither library takes; camjax does not take it either.
On a linear-in-features score (GAP, no bias) ``g = W[K, c] / (h w)`` and the weights reduce
to ``w_K = ReLU(W[K, c]) / (2 + pooled_K W[K, c])``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from camjax.methods.base import gradient_method
from camjax.methods.registry import register


def plus_plus_weights(features, grads):
    """Channel weights (B, k, K) from features (B, h, w, K) and grads (B, k, h, w, K)."""
    g2 = grads * grads
    return moment_weights(features, grads, g2, g2 * grads)


def moment_weights(features, g1, g2, g3):
    """The weights from the gradient's powers (B, k, h, w, K) given apart (Smooth
    Grad-CAM++ averages each over noisy inputs): ``alpha = g2 / (2 g2 + sum_ab A g3)``,
    ``w = sum_ij alpha ReLU(g1)``, alpha 0 where the denominator is."""
    total = features.sum(axis=(1, 2))[:, None, None, None, :]         # sum_ab A_K(a, b)
    denominator = 2 * g2 + total * g3
    nonzero = denominator != 0
    alpha = jnp.where(nonzero, g2 / jnp.where(nonzero, denominator, 1), 0)
    return (alpha * jax.nn.relu(g1)).sum(axis=(2, 3))


@register("grad_cam_plus_plus", resolution="features", options={"relu": True})
@gradient_method
def grad_cam_plus_plus_fn(activations, grads):
    """Grad-CAM++ (Chattopadhyay et al. 2018): the closed form of eq. 19 for exp(score)."""
    return plus_plus_weights(activations, grads)
