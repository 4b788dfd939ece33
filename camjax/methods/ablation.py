"""Ablation-CAM (Desai & Ramaswamy, WACV 2020): channels weighted by the score lost when
each is removed.

For the class score ``y_c`` (the logit) and ``y_c^K``, the score with channel K of the
layer's output set to zero (every position), the weight is the paper's drop ratio (eq. 3)

    w_K = (y_c - y_c^K) / y_c,        map = ReLU(sum_K w_K A_K)

at the layer (``layer=``; default the network's features). pytorch-grad-cam computes the
same ratio, ``(original - ablated) / original`` with no epsilon: a negative ``y_c`` flips
every weight's sign (and the map then shows what the class score's magnitude depends on),
which camjax keeps. Where pytorch-grad-cam departs from the paper: its ``AblationLayer``
sets the channel to zero only when the layer's minimum is 0 and otherwise to
``min - 1e7`` (for layers with negative values), and ``ratio_channels_to_ablate < 1``
ablates a subset chosen by an EigenCAM heuristic; camjax ablates every channel, to zero.

Every channel is ablated in one batched computation, not one forward pass per channel:
the network **from the layer onward** is evaluated on B x K ablated activations. At the
default layer of a network with ``classify(features)`` that is ``classify`` alone. At any
other layer the zero-perturbation tap of :func:`camjax.models.taps.perturbed` carries the
ablation as ``delta = -A_K`` on that channel, vmapped over the channels: the part of the
network before the layer does not depend on ``delta`` and runs once per chunk for the B
images (XLA hoists it or not; never per channel), only the rest runs B x ``batch_size``
times. Chunks of ``batch_size`` channels go
through ``lax.map``.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from camjax.methods.base import (class_scores, classifier, eval_model, features_of,
                                 logits_of)
from camjax.methods.registry import register
from camjax.methods.scorecam import check_batch_size, weighted_map
from camjax.models import taps


def _scores(tail, output, classes, batch_size):
    """(B, K, k) class scores with each channel of ``output`` (B, ..., K) ablated."""
    channels = output.shape[-1]
    chunk = min(batch_size, channels)
    chunks = -(-channels // chunk)
    ids = jnp.arange(chunks * chunk).reshape(chunks, chunk)   # K and above: no channel

    def drop_chunk(chunk_ids):
        hot = jax.nn.one_hot(chunk_ids, channels, dtype=output.dtype)    # (n, K)
        deltas = -output[None] * hot.reshape((chunk,) + (1,) * (output.ndim - 1) + (channels,))
        ablated = jax.vmap(tail)(deltas)                                  # (n, B, C)
        return class_scores(jnp.moveaxis(ablated, 0, 1), classes)        # (B, n, k)

    scores = jax.lax.map(drop_chunk, ids)                                # (chunks, B, n, k)
    scores = jnp.moveaxis(scores, 0, 1).reshape(output.shape[0], chunks * chunk, -1)
    return scores[:, :channels]


def ablated_scores(graphdef, state, images, classes, layer, batch_size):
    """``(scores (B, k), ablated (B, K, k), activations (B, h, w, K))``."""
    model = eval_model(graphdef, state)
    fn = classifier(model)
    if layer is None and fn is not None:          # the rest of the network: classify
        features = features_of(model, images)
        ablated = _scores(lambda delta: fn(features + delta), features, classes, batch_size)
        return class_scores(logits_of(fn(features)), classes), ablated, features
    layer = layer or taps.default_layer(model)

    # per image (vmapped): the network's batch inside is the n ablations of one image, so
    # the vmap over images keeps a batch sharded along an explicit ``data`` axis sharded
    def one(image, image_classes):
        forward, zeros, tapped = taps.perturbed(graphdef, state, layer, image[None])
        logits, output = forward(zeros)
        ablated = _scores(lambda delta: forward(delta)[0], output, image_classes[None],
                          batch_size)
        grid = taps.as_grid(tapped, output, (1,) + image.shape)
        return class_scores(logits, image_classes[None])[0], ablated[0], grid[0]
    return jax.vmap(one)(images, classes)


@register("ablation_cam", resolution="features", options={"batch_size": 32})
@partial(jax.jit, static_argnames=("graphdef", "layer", "batch_size"))
def ablation_cam_fn(graphdef, state, images, classes, *, layer=None, batch_size: int = 32):
    """Ablation-CAM (Desai & Ramaswamy 2020): the class score's drop ratio per channel."""
    check_batch_size(batch_size)
    original, ablated, activations = ablated_scores(graphdef, state, images, classes, layer,
                                                    batch_size)
    weights = (original[:, None, :] - ablated) / original[:, None, :]    # (B, K, k)
    return weighted_map(activations, weights)
