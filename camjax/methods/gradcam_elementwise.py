"""Grad-CAM element-wise: pytorch-grad-cam's ``GradCAMElementWise`` (no paper of its own).

``map(i, j) = sum_K ReLU(g_K(i, j) A_K(i, j))``: HiResCAM's element-wise products with the
ReLU taken per channel before the sum instead of after it (``g = d logit_c / d A``), so a
channel that lowers the score at a position cannot cancel one that raises it. As a
``weights_fn``: the per-position weight is ``g`` where ``g A > 0`` and 0 elsewhere, whose
product with ``A`` is ``ReLU(g A)``; ``eigen_smooth`` projects those products, as
pytorch-grad-cam's does. The map is non-negative, so it takes no ``relu`` option.
"""
from __future__ import annotations

import jax.numpy as jnp

from camjax.methods.base import gradient_method
from camjax.methods.registry import register


@register("grad_cam_element_wise", resolution="features")
@gradient_method
def grad_cam_element_wise_fn(activations, grads):
    """Grad-CAM element-wise (pytorch-grad-cam): the sum of ReLU(gradient x activation)."""
    return jnp.where(grads * activations[:, None] > 0, grads, 0)
