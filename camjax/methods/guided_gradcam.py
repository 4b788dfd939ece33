"""Guided Grad-CAM (Selvaraju et al., ICCV 2017, Sec. 3.1): guided backpropagation times
the Grad-CAM map upsampled to the image.

``map = GB * up(Grad-CAM)`` with ``GB`` the guided-backpropagation map
(:mod:`camjax.methods.guided`: the max over colour channels of its gradient's magnitude)
and ``up`` bilinear with half-pixel centres (``camjax.cam.upsample``) of the ReLU'd
Grad-CAM at ``layer=`` (default the network's features). The paper and pytorch-grad-cam
multiply the three-channel gradient by the map; as the map is non-negative, the max over
channels of ``|GB_rgb| * map`` is this map. Non-negative, image resolution.
"""
from __future__ import annotations

from functools import partial

import jax

from camjax.cam import upsample
from camjax.methods.backprop import saliency_of
from camjax.methods.gradcam import grad_cam_fn
from camjax.methods.guided import guided_input_gradients
from camjax.methods.registry import register


@register("guided_grad_cam", resolution="image", layer=True)
@partial(jax.jit, static_argnames=("graphdef", "layer"))
def guided_grad_cam_fn(graphdef, state, images, classes, *, layer=None):
    """Guided Grad-CAM (Selvaraju et al. 2017): guided backprop x upsampled Grad-CAM."""
    gb = saliency_of(guided_input_gradients(graphdef, state, images, classes)[1])
    cam = grad_cam_fn(graphdef, state, images, classes, layer=layer)
    return gb * upsample(cam, images.shape[1:3]).astype(gb.dtype)
