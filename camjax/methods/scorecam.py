"""Score-CAM (Wang et al., CVPR Workshops 2020): channels weighted by the score they keep.

For each channel K of a layer's output (``layer=``; default the network's features):

1. ``U_K`` = the activation map upsampled to the image size, bilinear with half-pixel
   centres (``jax.image.resize``, as ``camjax.cam.upsample``; ``align_corners=False`` as
   in the authors' code and torchcam);
2. ``M_K = (U_K - min U_K) / (max U_K - min U_K + 1e-8)``, min-max per channel after
   upsampling, as the authors' code and pytorch-grad-cam order it (torchcam normalises
   before upsampling), with the epsilon of pytorch-grad-cam and torchcam (a constant
   channel gives the all-zero mask);
3. the masked input ``images * M_K`` goes through the network (the images as the network
   takes them, i.e. normalised; the baseline is the zero image, as in both libraries).

``weights="softmax"`` (default, the convention of torchcam and pytorch-grad-cam): the
channel weights are the softmax over K of the class logit on the masked inputs (torchcam
subtracts the logit on the unmasked image first, which the softmax ignores).
``weights="probability"``: the authors' code, the softmax class probability on each masked
input, with weight 0 for a constant channel (which their loop skips).
The map is ``ReLU(sum_K w_K A_K)`` at the feature resolution (``eigen_smooth``: the first
principal component of the ``w_K A_K``, as pytorch-grad-cam's ``BaseCAM`` offers it).

**Constant channels are skipped exactly.** A channel whose activation is constant over the
map (a dead ReLU channel: common in trained networks) has the all-zero mask, so its masked
input is the zero image whatever the channel: that score is computed once, by one forward
pass of the zero image, and the channel is not scored again. Per image, the channels that
vary are moved to the front (a one-hot permutation, exact) and the chunks that hold none
of them are not run (``lax.cond`` inside the ``lax.map``), so a batch costs
``ceil(max_b live_b / batch_size)`` chunks instead of ``ceil(K / batch_size)``. The maps
are those of scoring every channel (tested).

The masked inputs are built and scored ``batch_size`` channels at a time (``lax.map``
over chunks of channels, so a forward pass holds B x batch_size images), image-major so
that a batch sharded along ``data`` stays sharded through every chunk. The masks are
computed chunk by chunk, never all at once: (B, K, H, W) would not fit for K = 2048 at
224 px.
:func:`channel_scores` is this machinery for any score of the masks (SS-CAM, IS-CAM).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from camjax.cam import map_max_min
from camjax.methods.base import (channel_map, class_scores, eval_model, layer_activations,
                                 logits_of)
from camjax.methods.registry import register

WEIGHTS = ("softmax", "probability")
EPSILON = 1e-8
HIGHEST = jax.lax.Precision.HIGHEST


def channel_masks(activations, size):
    """(B, n, h, w) activations -> (B, n, H, W) masks in [0, 1] and (B, n) 'is constant'."""
    up = jax.image.resize(activations, activations.shape[:2] + tuple(size), "linear",
                          antialias=False)
    hi, lo = map_max_min(up)
    return (up - lo) / (hi - lo + EPSILON), (hi == lo)[:, :, 0, 0]


def constant_channels(features):
    """(B, h, w, K) -> (B, K): True where the channel is constant over the map (its
    upsampled map is constant too, so its Score-CAM mask is all zero)."""
    return features.max(axis=(1, 2)) == features.min(axis=(1, 2))


def check_batch_size(batch_size) -> None:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


def channel_scores(images, features, score_chunk, *, batch_size: int, skip_constant: bool,
                   zero_scores=None):
    """Scores (B, K, k) of every channel of ``features`` (B, h, w, K).

    ``score_chunk(activations (B, n, h, w), ids (B, n)) -> (B, n, k)`` scores n channels
    of every image (``ids``: their channel indices, K for padding). With
    ``skip_constant``, the constant channels take ``zero_scores`` (B, k) (the score of
    the zero image) and are never scored; each image's varying channels come first, and
    chunks holding none are not run.
    """
    b, h, w, channels = features.shape
    chunk = min(batch_size, channels)
    chunks = -(-channels // chunk)
    padded = chunks * chunk
    constant = constant_channels(features)
    if skip_constant:      # varying channels first, each image in its own order (stable)
        order = jnp.argsort(constant, axis=1, stable=True).astype(jnp.int32)
        needed = (channels - constant.sum(axis=1)).max()
    else:                  # the identity, built from ``constant`` so that it is sharded
        # like the batch (a broadcast arange is replicated: an explicit-axes einsum with
        # the sharded features below would refuse it)
        order = jnp.zeros_like(constant, jnp.int32) + jnp.arange(channels, dtype=jnp.int32)
        needed = channels
    order = jnp.pad(order, ((0, 0), (0, padded - channels)), constant_values=channels)
    # a one-hot permutation, not a gather: exact, and a batch sharded along an explicit
    # ``data`` axis stays sharded (a gather with sharded indices has no typed sharding)
    hot = jax.nn.one_hot(order, channels, dtype=features.dtype)          # (B, Kp, K)
    per_chunk = jnp.moveaxis(hot.reshape(b, chunks, chunk, channels), 1, 0)
    ids = jnp.moveaxis(order.reshape(b, chunks, chunk), 1, 0)            # (chunks, B, n)
    k = None if zero_scores is None else zero_scores.shape[-1]

    def scores_of(xs):
        index, select, chunk_ids = xs
        def run():
            acts = jnp.einsum("byxk,bnk->bnyx", features, select, precision=HIGHEST)
            return score_chunk(acts, chunk_ids)
        if not skip_constant:
            return run()
        return jax.lax.cond(index * chunk < needed, run,
                            lambda: jnp.zeros((b, chunk, k), features.dtype))

    sorted_scores = jax.lax.map(scores_of, (jnp.arange(chunks), per_chunk, ids))
    sorted_scores = jnp.moveaxis(sorted_scores, 0, 1).reshape(b, padded, -1)
    scores = jnp.einsum("bnk,bnc->bkc", hot, sorted_scores, precision=HIGHEST)   # unsort
    if skip_constant:
        scores = jnp.where(constant[..., None], zero_scores[:, None, :], scores)
    return scores, constant


def zero_image_scores(model, images, classes, probabilities: bool = False):
    """(B, k): the score of each image's classes on the zero image (one forward pass)."""
    logits = logits_of(model(jnp.zeros((1,) + images.shape[1:], images.dtype)))
    if probabilities:
        logits = jax.nn.softmax(logits, axis=-1)
    return class_scores(jnp.broadcast_to(logits, (images.shape[0], logits.shape[-1])),
                        classes)


def masked_scores(model, images, classes, masks, probabilities: bool = False):
    """(B, n, k) class scores of ``images[:, None] * masks[..., None]``, masks (B, n, H, W)."""
    b, n = masks.shape[:2]
    masked = images[:, None] * masks[..., None].astype(images.dtype)
    logits = logits_of(model(masked.reshape((b * n,) + images.shape[1:]))).reshape(b, n, -1)
    if probabilities:
        logits = jax.nn.softmax(logits, axis=-1)
    return class_scores(logits, classes)


def weighted_map(features, channel_weights, eigen_smooth: bool = False):
    """``ReLU(sum_K w_K A_K)`` for weights (B, K, k) -> (B, k, h, w) (``eigen_smooth``:
    :func:`base.channel_map`'s first principal component instead of the sum)."""
    return jax.nn.relu(channel_map(features, jnp.swapaxes(channel_weights, 1, 2),
                                   eigen_smooth))


@register("score_cam", resolution="features",
          options={"batch_size": 32, "weights": "softmax"})
@partial(jax.jit, static_argnames=("graphdef", "layer", "batch_size", "weights",
                                   "eigen_smooth"))
def score_cam_fn(graphdef, state, images, classes, *, layer=None, batch_size: int = 32,
                 weights: str = "softmax", eigen_smooth: bool = False):
    """Score-CAM (Wang et al. 2020): channels weighted by the score of the masked input."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    check_batch_size(batch_size)
    model = eval_model(graphdef, state)
    _, features = layer_activations(graphdef, state, images, layer)
    size = images.shape[1:3]
    probabilities = weights == "probability"

    def score_chunk(activations, ids):
        masks, _ = channel_masks(activations, size)
        return masked_scores(model, images, classes, masks, probabilities)

    scores, constant = channel_scores(
        images, features, score_chunk, batch_size=batch_size, skip_constant=True,
        zero_scores=zero_image_scores(model, images, classes, probabilities))
    if weights == "softmax":
        channel_weights = jax.nn.softmax(scores, axis=1)               # over channels
    else:
        channel_weights = jnp.where(constant[..., None], 0.0, scores)
    return weighted_map(features, channel_weights, eigen_smooth)
