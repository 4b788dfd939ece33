"""FullGrad (Srinivas & Fleuret, NeurIPS 2019): the input-gradient and every layer's bias-
gradient, post-processed and summed.

For a network whose output is positively homogeneous in its input and biases (a ReLU
network of convolutions, BatchNorm, linear layers and pooling) the score decomposes
exactly as ``f(x) = grad_x f . x + sum_l sum_c grad_{b_l} f . b_l`` (completeness, eq. 2);
the saliency map (eq. 7) is::

    S(x) = psi(grad_x f * x) + sum_l sum_c psi(g_l * b_l)_c

with ``g_l`` the gradient of the class logit at layer l's output (B, h, w, C) and ``b_l``
its bias per channel: a convolution's bias, or a BatchNorm's folded one, ``beta - mean
gamma / sqrt(var + eps)`` (the paper's code, ``tensor_extractor.py``, as pytorch-grad-cam
reads it); only layers whose output is a (B, h, w, C) grid count (a linear layer's bias
has no position). ``psi`` is the paper's post-processing: the absolute value, rescaled to
[0, 1] per map (``(v - min) / (max - min + 1e-7)``, pytorch-grad-cam's ``scale_cam_image``)
and upsampled bilinearly (half-pixel centres) to the image. As pytorch-grad-cam, each
channel is rescaled on its own (the paper's ``sum_c psi(.)_c``; the input term per colour
channel), at the layer's resolution, then summed; upsampling is linear, so the sum is
upsampled once. The authors' code rescales each layer (and the input) jointly over its
channels instead, and upsamples with ``align_corners=True``. The map is at the image
resolution, non-negative, raw (not rescaled at the end: the engine normalises).

A network FullGrad cannot account for is refused before anything runs, with a
:class:`camjax.errors.ModelError` naming the operation that breaks the decomposition (a
ReLU6 clip, a sigmoid gate, a LayerNorm, a position embedding...; checked on the traced
forward pass, :mod:`camjax.methods._homogeneous`): pytorch-grad-cam runs on any network,
where the sum no longer accounts for the score.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.cam import upsample
from camjax.errors import ModelError
from camjax.methods import _homogeneous
from camjax.methods.base import eval_model, logits_of
from camjax.methods.registry import register
from camjax.models import taps

EPSILON = 1e-7


def _module_paths(model):
    """``[(path, module)]``: the BatchNorms and the convolutions with a bias."""
    out = []
    for path, node in nnx.iter_graph(model):
        if isinstance(node, nnx.BatchNorm) or (isinstance(node, nnx.Conv)
                                                 and node.bias is not None):
            out.append((tuple(path), node))
    return out


def folded_bias(module) -> jax.Array:
    """A convolution's bias, or a BatchNorm's bias with its mean folded in (C,)."""
    if not isinstance(module, nnx.BatchNorm):
        return module.bias[...]
    bias = module.bias[...] if module.bias is not None else 0.0
    scale = module.scale[...] if module.scale is not None else 1.0
    return bias - module.mean[...] * scale / jnp.sqrt(module.var[...] + module.epsilon)


def check_network(graphdef, state, images) -> None:
    """:class:`ModelError` unless the network's logits are positively homogeneous in the
    images and its biases (BatchNorm means included)."""
    model = eval_model(graphdef, state)
    bn_means = {path + ("mean",) for path, m in _module_paths(model)
                if isinstance(m, nnx.BatchNorm)}
    leaves, treedef = jax.tree_util.tree_flatten_with_path(state)
    names = [tuple(k.key for k in path if isinstance(k, jax.tree_util.DictKey))
             for path, _ in leaves]
    scaled = [True] + [n[-1:] == ("bias",) or n in bn_means for n in names]

    def forward(x, *values):
        copy = eval_model(graphdef, jax.tree.unflatten(treedef, values))
        return logits_of(copy(x))
    shapes = [jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a))
              for a in [images, *(leaf for _, leaf in leaves)]]
    try:
        _homogeneous.check(forward, shapes, scaled)
    except _homogeneous.NotHomogeneous as err:
        arch = getattr(model, "arch", "") or type(model).__name__
        raise ModelError(
            f"full_grad cannot account for {arch}'s biases: its output is not piecewise "
            f"linear in its input and biases (FullGrad's completeness needs convolutions, "
            f"BatchNorm, ReLU, pooling and linear layers only); it has {err}. Use grad_cam, "
            f"hires_cam or integrated_gradients on it instead") from None


def _at(model, path):
    node = model
    for key in path:
        node = node[key] if isinstance(node, (nnx.List, dict)) else getattr(node, key)
    return node


def _tapped(graphdef, state, paths, images, deltas, shapes=None):
    """``(logits, outputs)`` of a fresh copy with ``deltas[i]`` added to module
    ``paths[i]``'s output (its last call's output; each call's shape into ``shapes[i]``)."""
    model = eval_model(graphdef, state)
    tapped = []
    for path, delta in zip(paths, deltas):
        tap = taps.Tap(_at(model, path), delta)
        taps.install(model, path, tap)
        tapped.append(tap)
    logits = logits_of(model(images))
    if shapes is not None:
        shapes.extend(t.shapes for t in tapped)
    return logits, [t.output for t in tapped]


def _zeros_like(out):
    """Zeros shaped like ``out`` (a ShapeDtypeStruct), sharded like it on an explicit mesh."""
    sharding = getattr(out, "sharding", None)
    explicit = isinstance(sharding, jax.sharding.NamedSharding) and any(
        t == jax.sharding.AxisType.Explicit for t in sharding.mesh.axis_types)
    return jnp.zeros(out.shape, out.dtype, **({"out_sharding": sharding} if explicit else {}))


def _rescaled(x, axes):
    """``(x - min) / (max - min + 1e-7)`` over ``axes``."""
    lo, hi = x.min(axis=axes, keepdims=True), x.max(axis=axes, keepdims=True)
    return (x - lo) / (hi - lo + EPSILON)


@register("full_grad", resolution="image")
@partial(jax.jit, static_argnames=("graphdef",))
def full_grad_fn(graphdef, state, images, classes):
    """FullGrad (Srinivas & Fleuret 2019): input-gradient x input and every bias-gradient."""
    check_network(graphdef, state, images)
    found = _module_paths(eval_model(graphdef, state))
    shapes = []
    _, outputs = jax.eval_shape(lambda: _tapped(graphdef, state, [p for p, _ in found],
                                                images, [None] * len(found), shapes))
    keep = [i for i, out in enumerate(outputs) if out is not None and out.ndim == 4]
    for i in keep:
        if len(set(shapes[i])) != 1:
            raise ModelError(f"full_grad: module {'.'.join(map(str, found[i][0]))} is called "
                             f"with outputs of shapes {shapes[i]}")
    paths = [found[i][0] for i in keep]
    biases = [folded_bias(found[i][1]) for i in keep]
    zeros = [_zeros_like(outputs[i]) for i in keep]
    logits, pullback = jax.vjp(
        lambda x, d: _tapped(graphdef, state, paths, x, d)[0], images, zeros)
    size = images.shape[1:3]

    def one_class(hot):                                     # (B, C) -> (B, H, W)
        grad_x, grads = pullback(hot)
        total = _rescaled(jnp.abs(grad_x * images), (1, 2)).sum(axis=-1)
        for g, b in zip(grads, biases):
            layer = _rescaled(jnp.abs(g * b.astype(g.dtype)), (1, 2)).sum(axis=-1)
            total = total + upsample(layer, size)
        return total

    hot = jax.nn.one_hot(classes, logits.shape[-1], dtype=logits.dtype)       # (B, k, C)
    return jnp.moveaxis(jax.lax.map(one_class, jnp.moveaxis(hot, 1, 0)), 0, 1)
