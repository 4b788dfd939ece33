"""XGrad-CAM (Fu et al., BMVC 2020, "Axiom-based Grad-CAM").

The channel weights that satisfy the paper's sensitivity and conservation axioms (eq. 9)::

    w_K = sum_ij (A_K(i, j) / sum_ab A_K(a, b)) g_K(i, j),   map = ReLU(sum_K w_K A_K)

with ``g = d logit_c / d A``: each channel's gradient averaged with its own activation
as the weight. For a score that is linear in the features after global average pooling,
``g = W[K, c] / (h w)`` everywhere and XGrad-CAM is Grad-CAM. A channel whose activations
sum to 0 gets weight 0 (the quotient is 0 / 0 there for non-negative activations);
pytorch-grad-cam (``+1e-7``) and torchcam (``+1e-8``) add an epsilon to the denominator
instead, a difference below their precision for any channel that fires.
"""
from __future__ import annotations

import jax.numpy as jnp

from camjax.methods.base import gradient_method
from camjax.methods.registry import register


@register("x_grad_cam", resolution="features", options={"relu": True})
@gradient_method
def x_grad_cam_fn(activations, grads):
    """XGrad-CAM (Fu et al. 2020): gradients averaged with the activations as weights."""
    total = activations.sum(axis=(1, 2))[:, None, :]                   # (B, 1, K)
    numerator = (grads * activations[:, None]).sum(axis=(2, 3))         # (B, k, K)
    nonzero = total != 0
    return jnp.where(nonzero, numerator / jnp.where(nonzero, total, 1), 0)
