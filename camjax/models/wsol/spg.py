"""SPG, self-produced guidance (Zhang et al., "Self-produced Guidance for Weakly-supervised
Object Localization", ECCV 2018): the network side, as wsolevaluation's ``VggSpg``,
``ResNetSpg`` and ``InceptionSpg``.

Two intermediate layers feed ``SPG_B_1a`` and ``SPG_B_2a`` (conv 3x3 + ReLU each), then a
shared ``SPG_B_shared`` (conv 3x3, ReLU, conv 1x1 to one channel): the logits of two
foreground maps, B1 and B2. ``SPG_C`` (conv 3x3, ReLU, conv 1x1) makes a third from the
final features. The classifier is the usual pooling head (wsolevaluation's ``SPG_A4``, a
1x1 conv whose spatial mean is the logits: the same thing), so the CAM is exact. The
seed masks and losses are in ``camjax.training.wsol``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.models.wsol.layers import run, stack


def modules(b1: int, b2: int, width: int, final: int, c_width: int, *, init: str = "xavier",
            rngs: nnx.Rngs) -> dict:
    """SPG_B_1a, SPG_B_2a, SPG_B_shared, SPG_C for intermediate inputs of ``b1`` and
    ``b2`` channels, branches ``width`` wide, final features of ``final`` channels and
    SPG_C ``c_width`` wide."""
    return {"SPG_B_1a": stack((b1, width, 3), "relu", init=init, rngs=rngs),
            "SPG_B_2a": stack((b2, width, 3), "relu", init=init, rngs=rngs),
            "SPG_B_shared": stack((width, width, 3), "relu", (width, 1, 1), init=init,
                                  rngs=rngs),
            "SPG_C": stack((final, c_width, 3), "relu", (c_width, 1, 1), init=init, rngs=rngs)}


def label_maps(head, features: jax.Array, labels: jax.Array) -> jax.Array:
    """wsolevaluation's ``feat_map[label]``: ``SPG_A4``'s class map of each label
    (B, h, w), bias included, from the head's classifier."""
    kernel = head.classifier.kernel[...]
    maps = jnp.einsum("byxk,kb->byx", features, jnp.take(kernel, labels, axis=1)
                      .astype(features.dtype))
    bias = getattr(head.classifier, "bias", None)
    return maps if bias is None else maps + jnp.take(bias[...], labels)[:, None, None]


def forward(net, taps: dict, labels: jax.Array) -> dict:
    """The three foreground logit maps (B, h, w) and the label's class map."""
    shared = net.SPG_B_shared
    head_input = taps.get("head_input", taps["features"])
    return {"logits_b1": run(shared, run(net.SPG_B_1a, taps["b1"]))[..., 0],
            "logits_b2": run(shared, run(net.SPG_B_2a, taps["b2"]))[..., 0],
            "logits_c": run(net.SPG_C, head_input)[..., 0],
            "label_map": label_maps(net.head, head_input, labels)}
