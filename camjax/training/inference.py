"""Predict functions for the evaluation job, built from (graphdef, state, mesh) and a
config: this process's numpy rows in, the batch sharded along ``data``, any map method.

``config.cam_method`` picks the map: ``cam`` (the one jitted ``camjax.cam.predict``) or
any method of ``camjax.methods``, whose maps are upsampled to the evaluation map size
and normalised like CAMs (:func:`predict_maps`, which ``camjax localize`` uses too).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from flax import nnx

from camjax import cam, methods
from camjax.checks.stages import DEFAULT_TOP_K
from camjax.training import mesh as mesh_lib


def map_size(config) -> int:
    """The side of the maps and ground truth that localization is evaluated at."""
    return config.eval_map_size or config.image_size


@partial(jax.jit, static_argnames=("graphdef", "name", "k", "method", "mode", "size"))
def predict_maps(graphdef, state, images, labels=None, *, name: str = "cam", k: int = 5,
                 method: str = "bilinear", mode: str = "minmax", size=None):
    """:func:`camjax.cam.predict` for any map method ``name`` of ``camjax.methods``:
    ``(logits, top, maps)``, the maps of ``[label, top-1, ..., top-k]`` (of the top-k alone
    without ``labels``) upsampled to ``size`` (default the images') and normalised like
    CAMs. ``state``: one state or a tuple of states. The evaluation job and ``camjax
    localize`` both predict through this one function."""
    if name == "cam":
        return cam.predict(graphdef, state, images, labels, k=k, method=method, mode=mode,
                           size=size)
    state = nnx.merge_state(*state) if isinstance(state, tuple) else state
    logits, _ = nnx.merge(graphdef, state)(images)
    top = jax.lax.top_k(logits, k)[1]
    classes = top if labels is None else jnp.concatenate([labels[:, None], top], axis=1)
    maps = methods.get_pure(name)(graphdef, state, images, classes)
    maps = cam.upsample(maps.astype(jnp.float32), size or images.shape[1:3], method=method)
    return logits, top, cam.normalize(maps, mode=mode)


def predict_function(graphdef, states, mesh, config):
    """``(images, labels)`` -> ``(logits, top, maps)``: the predict function of
    ``evaluator.localization``, maps of ``[label, top-1, ..., top-k]`` by
    ``config.cam_method`` (k: ``config.top_k`` as ``checks.with_classes`` resolves it; an
    unresolved 0 is 5)."""
    size = (map_size(config),) * 2
    k = config.top_k or DEFAULT_TOP_K

    def predict(images, labels):
        batch = mesh_lib.global_batch(mesh, {"image": images, "label": labels})
        return predict_maps(graphdef, states, batch["image"], batch["label"],
                            name=config.cam_method, k=k, method=config.upsample,
                            mode=config.normalize, size=size)
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
    on this process's default device (the perturbed batches are not sharded)."""
    return partial(_probabilities, graphdef, states)
