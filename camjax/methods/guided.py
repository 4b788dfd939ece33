"""Guided backpropagation (Springenberg et al., ICLR workshop 2015, "Striving for
Simplicity", Sec. 3.4).

The gradient of the class logit with respect to the image, computed with every ReLU's
backward pass replaced by the guided rule ``R_in = [x > 0] [R_out > 0] R_out`` (only
positive signals, and only through active units). The swap is a trace-time rewrite of the
network's jaxpr (:mod:`camjax.methods._relu_swap`): no hooks, no edited modules, any
network whose ReLUs are ``jax.nn.relu`` / ``nnx.relu`` calls (every camjax network) or a
user's own such model. The (B, k, H, W) map is the max over the colour channels of the
gradient's magnitude, as :func:`camjax.methods.saliency` reduces its gradient;
:func:`guided_gradients` gives the raw (B, k, H, W, 3) gradients that pytorch-grad-cam's
``GuidedBackpropReLUModel`` returns (it swaps ``nn.ReLU`` modules only: see
``_relu_swap``).
"""
from __future__ import annotations

from functools import partial

import jax

from camjax.methods._relu_swap import guided
from camjax.methods.backprop import saliency_of
from camjax.methods.base import eval_model, logits_of, on_model, per_class_gradients
from camjax.methods.registry import Method, register


def guided_input_gradients(graphdef, state, images, classes):
    """``(logits (B, C), grads (B, k, H, W, 3))`` through the guided ReLUs. Pure."""
    logits = guided(lambda s, x: logits_of(eval_model(graphdef, s)(x)))
    return per_class_gradients(lambda x: logits(state, x), images, classes)


@partial(jax.jit, static_argnames=("graphdef",))
def guided_gradients_fn(graphdef, state, images, classes):
    """Guided-backpropagation gradients of ``logit[b, classes[b, j]]``: (B, k, H, W, 3)."""
    return guided_input_gradients(graphdef, state, images, classes)[1]


@register("guided_backprop", resolution="image")
@partial(jax.jit, static_argnames=("graphdef",))
def guided_backprop_fn(graphdef, state, images, classes):
    """Guided backpropagation (Springenberg et al. 2015): saliency through guided ReLUs."""
    return saliency_of(guided_input_gradients(graphdef, state, images, classes)[1])


# not a map method (the raw (B, k, H, W, 3) gradients), so not registered
guided_gradients = on_model(Method("guided_gradients", guided_gradients_fn, "image"))
