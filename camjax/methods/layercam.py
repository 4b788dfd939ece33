"""LayerCAM (Jiang et al., IEEE TIP 2021): positive gradients weight each position.

``map(i, j) = ReLU(sum_K ReLU(g_K(i, j)) A_K(i, j))`` with ``g = d logit_c / d A`` (eq. 5-6;
pytorch-grad-cam's ``layer_cam.py`` and torchcam's ``LayerCAM`` use the same), at one layer
(the paper also fuses several layers' maps; name each with ``layer=``).
"""
from __future__ import annotations

import jax

from camjax.methods.base import gradient_method
from camjax.methods.registry import register


@register("layer_cam", resolution="features", options={"relu": True})
@gradient_method
def layer_cam_fn(activations, grads):
    """LayerCAM (Jiang et al. 2021): each position weighted by its positive gradient."""
    return jax.nn.relu(grads)
