"""The mixin of the networks that host the WSOL methods which change a network (ADL, ACoL,
SPG and the few-shot baseline); HaS and CutMix change the inputs and work on any network.

A host implements ``trunk(images) -> taps``: ``features`` (the CAM layer's output),
optionally ``head_input`` (what the classifier sees, when a dropout sits between) and,
for SPG, ``b1`` / ``b2`` (the intermediate layers SPG's branches read); it applies its
ADL layers itself. The mixin builds the method's extra modules and gives the network
contract's ``model(images) -> (logits, features)`` and ``cam_weights``:

- ``cam`` / ``adl`` / ``spg``: the pooling head on ``features``; the CAM is exact.
- ``acol``: ``features`` are the fused class maps (B, h, w, C), branch B run on the
  features erased by branch A's top-1 map, and ``cam_weights`` the identity (C, C), so
  the CAM of class c is the fused map of c. ``class_maps(images, classes)`` gives
  wsolevaluation's exact map of any class (branch B rerun per requested class).
- ``fewshot``: ``features`` are the class-agnostic foreground logit map (B, h, w, 1) and
  ``cam_weights`` ones (1, C): every class's map is that map. Logits come from a
  separate classifier head (``fewshot_classifier``) on the same features.

``wsol_outputs(images, labels)`` is the training forward: a dict with ``logits`` and what
the method's loss reads (``camjax.training.wsol``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.models.heads import PoolingHead
from camjax.models.wsol import acol, spg
from camjax.models.wsol.adl import ADL
from camjax.models.wsol.layers import conv, run

# methods that change the network (the others change the inputs or nothing)
NETWORK_METHODS = ("adl", "acol", "spg", "fewshot")


class ConstantKernel(nnx.Module):
    """A classifier stand-in whose ``kernel`` is a fixed (K, C) matrix (no parameter)."""

    def __init__(self, rows: int, num_classes: int):
        self.rows, self.num_classes = rows, num_classes

    @property
    def kernel(self) -> jax.Array:
        if self.rows == self.num_classes:
            return jnp.eye(self.num_classes, dtype=jnp.float32)
        return jnp.ones((self.rows, self.num_classes), jnp.float32)


class MapHead(nnx.Module):
    """The head of a network whose ``features`` already are its maps: the spatial mean of
    each map, times the constant ``classifier.kernel`` (identity for class maps, ones for
    one foreground map)."""

    def __init__(self, rows: int, num_classes: int):
        self.classifier = ConstantKernel(rows, num_classes)

    def __call__(self, maps: jax.Array) -> jax.Array:
        return maps.mean(axis=(1, 2)) @ self.classifier.kernel.astype(maps.dtype)


class WsolNetwork:
    """Mixin; a host calls :meth:`init_wsol` at the end of its ``__init__``."""
    WSOL_METHODS = ("cam", *NETWORK_METHODS)
    # the top-level modules a method adds: new to a torchvision state dict
    WSOL_MODULES = ("head", "classifier_A", "classifier_B", "SPG_A_3", "SPG_B_1a",
                    "SPG_B_2a", "SPG_B_shared", "SPG_C", "fewshot_classifier",
                    "fewshot_foreground")
    wsol_method = "cam"

    def init_wsol(self, method: str, *, num_classes: int, pooling: str, features: int,
                  rngs: nnx.Rngs, acol_input: int = 0, acol_width: int = 1024,
                  acol_threshold: float = 0.7, acol_init: str = "xavier",
                  spg_channels: tuple = (), spg_init: str = "xavier",
                  adl_drop_rate: float = 0.75, adl_threshold: float = 0.9,
                  classifier_bias: bool = False, dropout_rate: float = 0.0,
                  head: PoolingHead | None = None) -> None:
        """The method's modules. ``features``: channels of ``taps["features"]``;
        ``acol_input``: channels ACoL's branches read (its ``features`` tap);
        ``spg_channels``: (b1, b2, branch width, SPG_C width); ``head``: the host's own
        pooling head, when it made one (else one is made here)."""
        if method not in self.WSOL_METHODS:
            raise ValueError(f"wsol_method must be one of {self.WSOL_METHODS}, got {method!r}")
        self.wsol_method = method
        self.adl = ADL(adl_drop_rate, adl_threshold, rngs=rngs) if method == "adl" else None
        if method == "acol":
            if pooling != "gap":
                raise ValueError("ACoL's branches average their class maps: pooling must be "
                                 f"'gap', got {pooling!r}")
            self.acol_threshold = float(acol_threshold)
            self.classifier_A, self.classifier_B = acol.branches(
                acol_input, acol_width, num_classes, init=acol_init, rngs=rngs)
            self.head = MapHead(num_classes, num_classes)
            return
        head = head or PoolingHead(features, num_classes, pooling=pooling,
                                   dropout_rate=dropout_rate, use_bias=classifier_bias,
                                   rngs=rngs)
        if method == "fewshot":
            self.fewshot_classifier = head
            self.fewshot_foreground = conv(features, 1, 1, rngs=rngs)
            self.head = MapHead(1, num_classes)
            return
        self.head = head
        if method == "spg":
            b1, b2, width, c_width = spg_channels
            for name, module in spg.modules(b1, b2, width, features, c_width, init=spg_init,
                                            rngs=rngs).items():
                setattr(self, name, module)

    def maybe_adl(self, x: jax.Array) -> jax.Array:
        """x through the ADL layer when the method is ADL (at the host's ADL positions)."""
        return x if self.adl is None else self.adl(x)

    def _logits(self, taps: dict) -> jax.Array:
        """Logits from the taps (a host may override, e.g. tiny_gap's centred head)."""
        return self.head(taps.get("head_input", taps["features"]))

    def classify(self, features: jax.Array) -> jax.Array:
        """The network contract's rest of the network from ``features``: the pooling head
        (``cam``, ``adl``, ``spg``), or for ``acol`` / ``fewshot`` the mean of each map
        (their ``features`` are maps already; their logits come from elsewhere)."""
        return self._logits({"features": features})

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        taps = self.trunk(images)
        if self.wsol_method == "acol":
            out = acol.forward(self, taps["features"])
            return out["logits"], acol.fused(out["maps_a"], out["maps_b"])
        if self.wsol_method == "fewshot":
            features = taps["features"]
            return self.fewshot_classifier(features), run([self.fewshot_foreground], features)
        return self._logits(taps), taps["features"]

    def cam_weights(self, features: jax.Array) -> jax.Array:
        """(K, C): the classifier kernel, or the constant selection of acol / fewshot."""
        del features
        return self.head.classifier.kernel[...]

    @property
    def maps_by_class(self) -> bool:
        """True when a class's exact map needs a forward pass of its own (ACoL, which
        erases by the class it explains): the map engine's ``cam`` then calls
        :meth:`class_maps` instead of contracting ``features`` with ``cam_weights``."""
        return self.wsol_method == "acol"

    def class_maps(self, images: jax.Array, classes: jax.Array) -> jax.Array:
        """The map of each requested class before upsampling and normalisation,
        (B, k, h, w), as wsolevaluation computes it: ACoL reruns branch B on the
        features erased by each requested class's own map (its ``__call__`` erases by
        the prediction); every other method's is the CAM of its features. The map
        engine's hook for networks whose map is not one contraction of one feature
        grid."""
        if self.wsol_method == "acol":
            return acol.class_maps(self, self.trunk(images)["features"], classes)
        _, features = self(images)
        weights = jnp.take(self.cam_weights(features), classes, axis=1)     # (K, B, k)
        return jnp.einsum("byxk,kbj->bjyx", features, weights.astype(features.dtype))

    def wsol_outputs(self, images: jax.Array, labels: jax.Array) -> dict:
        """The training forward with the ground-truth ``labels`` (B,)."""
        taps = self.trunk(images)
        if self.wsol_method == "acol":
            return acol.forward(self, taps["features"], labels)
        if self.wsol_method == "fewshot":
            features = taps["features"]
            return {"logits": self.fewshot_classifier(features),
                    "foreground": run([self.fewshot_foreground], features)[..., 0]}
        out = {"logits": self._logits(taps)}
        if self.wsol_method == "spg":
            out.update(spg.forward(self, taps, labels))
        return out
