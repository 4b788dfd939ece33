"""Score-CAM (Wang et al., CVPR Workshops 2020): channels weighted by the score they keep.

For each channel K of a layer's output (``layer=``; default the network's features):

1. ``U_K`` = the activation map upsampled to the image size, bilinear with half-pixel
   centres (``jax.image.resize``, as ``camjax.cam.upsample``; ``align_corners=False`` as
   in the authors' code and torchcam);
2. ``M_K = (U_K - min U_K) / (max U_K - min U_K + 1e-8)``, min-max per channel after
   upsampling, as the authors' code and pytorch-grad-cam order it, with the epsilon of
   pytorch-grad-cam and torchcam (a constant channel gives the all-zero mask);
3. the masked input ``images * M_K`` goes through the network (the images as the network
   takes them, i.e. normalised; the baseline is the zero image, as in both libraries).

``weights="softmax"`` (default, the convention of torchcam and pytorch-grad-cam): the
channel weights are the softmax over K of the class logit on the masked inputs (torchcam
subtracts the logit on the unmasked image first, which the softmax ignores).
``weights="probability"``: the authors' code, the softmax class probability on each masked
input, with weight 0 for a constant channel (which their loop skips).
The map is ``ReLU(sum_K w_K A_K)`` at the feature resolution (``eigen_smooth``: the first
principal component of the ``w_K A_K``, as pytorch-grad-cam's ``BaseCAM`` offers it).

The masked inputs are built and scored ``batch_size`` channels at a time (``lax.map`` over
chunks of channels, so a forward pass holds B x batch_size images), image-major so that
a batch sharded along ``data`` stays sharded through every chunk. The masks are computed
chunk by chunk, never all at once: (B, K, H, W) would not fit for K = 2048 at 224 px.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from camjax.methods.base import (channel_map, class_scores, eval_model, layer_activations,
                                 logits_of)
from camjax.methods.registry import register

WEIGHTS = ("softmax", "probability")
EPSILON = 1e-8


def channel_masks(activations, size):
    """(B, n, h, w) activations -> (B, n, H, W) masks in [0, 1] and (B, n) 'is constant'."""
    up = jax.image.resize(activations, activations.shape[:2] + tuple(size), "linear",
                          antialias=False)
    lo = up.min(axis=(2, 3), keepdims=True)
    hi = up.max(axis=(2, 3), keepdims=True)
    return (up - lo) / (hi - lo + EPSILON), (hi == lo)[:, :, 0, 0]


@register("score_cam", resolution="features",
          options={"batch_size": 32, "weights": "softmax"})
@partial(jax.jit, static_argnames=("graphdef", "layer", "batch_size", "weights",
                                   "eigen_smooth"))
def score_cam_fn(graphdef, state, images, classes, *, layer=None, batch_size: int = 32,
                 weights: str = "softmax", eigen_smooth: bool = False):
    """Score-CAM (Wang et al. 2020): channels weighted by the score of the masked input."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    model = eval_model(graphdef, state)
    _, features = layer_activations(graphdef, state, images, layer)
    b, h, w, channels = features.shape
    size = images.shape[1:3]
    chunk = min(batch_size, channels)
    chunks = -(-channels // chunk)
    padded = jnp.pad(features, ((0, 0), (0, 0), (0, 0), (0, chunks * chunk - channels)))
    # (chunks, B, chunk, h, w): the scanned axis first, the batch axis kept whole
    per_chunk = jnp.moveaxis(padded.reshape(b, h, w, chunks, chunk), (3, 4), (0, 2))

    def scores_of(activations):                               # (B, chunk, h, w)
        masks, constant = channel_masks(activations, size)
        masked = images[:, None] * masks[..., None].astype(images.dtype)
        logits = logits_of(model(masked.reshape((b * chunk,) + images.shape[1:])))
        logits = logits.reshape(b, chunk, -1)
        if weights == "probability":
            logits = jax.nn.softmax(logits, axis=-1)
        return class_scores(logits, classes), constant        # (B, chunk, k), (B, chunk)

    scores, constant = jax.lax.map(scores_of, per_chunk)
    scores = jnp.moveaxis(scores, 0, 1).reshape(b, chunks * chunk, -1)[:, :channels]
    constant = jnp.moveaxis(constant, 0, 1).reshape(b, chunks * chunk)[:, :channels]
    if weights == "softmax":
        channel_weights = jax.nn.softmax(scores, axis=1)               # over channels
    else:
        channel_weights = jnp.where(constant[..., None], 0.0, scores)
    return jax.nn.relu(channel_map(features, jnp.swapaxes(channel_weights, 1, 2), eigen_smooth))
