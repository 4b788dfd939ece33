"""ACoL, adversarial complementary learning (Zhang et al., "Adversarial Complementary
Learning for Weakly Supervised Object Localization", CVPR 2018), as wsolevaluation's
``wsol/method/acol.py`` and its networks' ``classifier_A`` / ``classifier_B``.

Two classifier branches on the same features, each conv 3x3 (width), ReLU, conv 3x3,
ReLU, conv 1x1 to the classes; a branch's logits are the spatial mean of its class maps.
Branch B sees the features erased where branch A's min-max normalised map of the label
(the prediction when no label is given) reaches ``threshold`` (``acol_threshold``, 0.7).
Training loss: cross-entropy of both branches. The map: per class, the maximum of the
two branches' min-max normalised class maps (the fused map).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.models.wsol.layers import minmax, run, stack


def branches(cin: int, width: int, num_classes: int, *, init: str, rngs: nnx.Rngs):
    """(classifier_A, classifier_B) as wsolevaluation builds them."""
    def one():
        return stack((cin, width, 3), "relu", (width, width, 3), "relu",
                     (width, num_classes, 1), init=init, rngs=rngs)
    return one(), one()


def erase(features: jax.Array, label_map: jax.Array, threshold: float) -> jax.Array:
    """``features`` (B, h, w, K) with every position where the min-max normalised
    ``label_map`` (B, h, w) is >= ``threshold`` set to 0. A constant map (NaN in
    wsolevaluation, so never >= threshold) erases nothing."""
    attention, varies = minmax(jax.lax.stop_gradient(label_map).astype(jnp.float32))
    keep = ~(varies & (attention >= threshold))
    return features * keep[..., None].astype(features.dtype)


def forward(net, features: jax.Array, labels=None) -> dict:
    """Both branches: ``maps_a``, ``maps_b`` (B, h, w, C), ``logits``, ``logits_b``;
    ``labels`` (B,) pick the map that erases, default branch A's prediction."""
    maps_a = run(net.classifier_A, features)
    logits = maps_a.mean(axis=(1, 2))
    if labels is None:
        labels = jnp.argmax(logits, axis=-1)
    label_map = jnp.take_along_axis(maps_a, labels[:, None, None, None], axis=-1)[..., 0]
    maps_b = run(net.classifier_B, erase(features, label_map, net.acol_threshold))
    return {"maps_a": maps_a, "maps_b": maps_b, "logits": logits,
            "logits_b": maps_b.mean(axis=(1, 2))}


def fused(maps_a: jax.Array, maps_b: jax.Array) -> jax.Array:
    """Per class, max of the two branches' min-max normalised maps (B, h, w, C)."""
    return jnp.maximum(minmax(maps_a.astype(jnp.float32))[0],
                       minmax(maps_b.astype(jnp.float32))[0])


def class_maps(net, features: jax.Array, classes: jax.Array) -> jax.Array:
    """wsolevaluation's exact ACoL map of each requested class, (B, k, h, w): branch B
    rerun on the features erased by that class's own map (k passes of branch B)."""
    def one(labels):
        out = forward(net, features, labels)
        pick = labels[:, None, None, None]
        a = jnp.take_along_axis(minmax(out["maps_a"].astype(jnp.float32))[0], pick, -1)
        b = jnp.take_along_axis(minmax(out["maps_b"].astype(jnp.float32))[0], pick, -1)
        return jnp.maximum(a, b)[..., 0]
    return jnp.stack([one(classes[:, j]) for j in range(classes.shape[1])], axis=1)
