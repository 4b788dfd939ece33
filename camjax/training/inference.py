"""Predict functions for the evaluation job, built from (graphdef, state, mesh) and a
config: this process's numpy rows in, the batch sharded along ``data``, any map method.

``config.cam_method`` picks the map (``cam``, the classifier weights, or any
``camjax.methods`` name) and ``config.cam_layer`` the layer a feature method looks at
(``config.aug_smooth`` and ``config.eigen_smooth``: the options every method, or every
weighted-channel method, takes; ``methods.smoothing.config_options``); the maps come from
the map engine (``camjax.engine.predict``, which ``camjax localize`` calls too), upsampled
to the evaluation map size and normalised.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from flax import nnx

from camjax import engine, methods
from camjax.checks.stages import DEFAULT_TOP_K
from camjax.methods import smoothing
from camjax.training import mesh as mesh_lib


def map_size(config) -> int:
    """The side of the maps and ground truth that localization is evaluated at."""
    return config.eval_map_size or config.image_size


def predict_function(graphdef, states, mesh, config, method: str | None = None):
    """``(images, labels)`` -> ``(logits, top, maps)``: the predict function of
    ``evaluator.localization``, maps of ``[label, top-1, ..., top-k]`` by the map method
    ``method`` (default ``config.cam_method``, one method) at ``config.cam_layer`` (for a
    method that takes a layer); k: ``config.top_k`` as ``checks.with_classes`` resolves it (an
    unresolved 0 is 5). ``states`` is fixed, or chosen per call by ``predict(images,
    labels, states=...)`` (the sanity checks' randomised networks)."""
    size = (map_size(config),) * 2
    method = method or config.cam_method
    layer = (config.get("cam_layer") or None) if methods.takes_layer(method) else None
    options = smoothing.config_options(config, method)
    fixed, k = states, config.top_k or DEFAULT_TOP_K

    def predict(images, labels, states=None):
        batch = mesh_lib.global_batch(mesh, {"image": images, "label": labels})
        return engine.predict(graphdef, fixed if states is None else states, batch["image"],
                              batch["label"], method=method, k=k, layer=layer,
                              size=size, upsample=config.upsample, normalize=config.normalize,
                              options=options)
    return predict


@partial(jax.jit, static_argnames=("graphdef", "k"))
def _top_k(graphdef, states, images, k):
    logits, _ = nnx.merge(graphdef, *states)(images)
    return jax.lax.top_k(logits, k)[1]


def top_k_function(graphdef, states, mesh, k: int):
    """``images`` (this process's rows) -> top-k classes: ``evaluator.classification``'s."""
    def top_k(images):
        images = mesh_lib.global_batch(mesh, {"image": images})["image"]
        return _top_k(graphdef, states, images, k)
    return top_k


@partial(jax.jit, static_argnames=("graphdef",))
def _probabilities(graphdef, states, images):
    logits, _ = nnx.merge(graphdef, *states)(images)
    return jax.nn.softmax(logits.astype(jnp.float32), axis=-1)


def score_function(graphdef, states):
    """``images -> class probabilities``: the ``score_fn`` of the faithfulness metrics,
    traced into their jitted programs: it runs where the images are (sharded along
    ``data`` over this process's devices by ``scoring.local_scoring``'s ``place``)."""
    return partial(_probabilities, graphdef, states)
