"""Input x Gradient (Shrikumar et al., 2016, "Not Just a Black Box"; Captum's
``InputXGradient``): the image times the class logit's gradient.

``map = sum_channels x * d logit_c / d x``: signed, summed over the colour channels as
:func:`camjax.methods.integrated_gradients` sums its attributions (Integrated Gradients
from the zero baseline with one step is this map). On a network that is linear with no
bias in the image (ReLU, no biases) the map sums to the logit.
"""
from __future__ import annotations

from functools import partial

import jax

from camjax.methods.base import input_gradients
from camjax.methods.registry import register


@register("input_x_gradient", resolution="image")
@partial(jax.jit, static_argnames=("graphdef",))
def input_x_gradient_fn(graphdef, state, images, classes):
    """Input x Gradient (Shrikumar et al. 2016): image times logit gradient, channels summed."""
    grads = input_gradients(graphdef, state, images, classes)[1]
    return (grads * images[:, None]).sum(axis=-1)
