"""What every map method shares: input checks, the eval-mode model, the activations and
gradients at a layer, and the ``weights_fn`` form of the gradient methods.

The methods are pure functions of ``nnx.split`` state, in the manner of pytorch-grad-cam's
``base_cam.py`` (which owns the forward pass and the gradients; each method supplies only
its channel weights, ``get_cam_weights``), without hooks:

* :func:`layer_activations` - the logits and a layer's output as a (B, h, w, K) grid;
* :func:`layer_gradients` - the same and ``d logit[b, classes[b, j]] / d activations[b]``.
  At the default layer (``layer=None``) of a network with ``classify(features)`` (or a
  ``head``) the activations are the network's features (its second output) and only
  ``classify`` is differentiated. Any other layer, or a network without ``classify``, goes
  through :func:`camjax.models.taps.perturbed`: a zero perturbation added to that module's
  output in a fresh copy of the network, and the gradient with respect to it.
* :func:`gradient_method` - turns ``weights_fn(activations, grads) -> weights`` into a
  method: ``ReLU(sum_K weights_K A_K)`` (Grad-CAM is ``grads.mean(axis=(2, 3))``).
* :func:`input_gradients` - ``d logit / d images``: saliency, SmoothGrad, IG.

The model is merged in evaluation mode inside the pure function (BatchNorm running
statistics, no dropout), so each image's maps are independent of the rest of the batch and
a batch sharded along ``data`` gives the maps of the whole batch computed on one device.
Everything is differentiable: a loss on the maps can be differentiated with respect to
``state`` (second-order for the gradient methods).
"""
from __future__ import annotations

import functools
import inspect

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.cam import class_columns, weighted_sum  # noqa: F401  (re-exported for methods)
from camjax.errors import ModelError
from camjax.methods import smoothing
from camjax.methods.projection import first_component
from camjax.models import class_weights, taps
from camjax.models.taps import logits_of  # noqa: F401  (re-exported for methods)

eval_model = taps.eval_copy


# Class selection is a contraction with one-hot vectors, not a gather: a gather whose
# indices are sharded along an explicit mesh axis has no unambiguous output sharding
# (jax raises ShardingTypeError), a contraction over the class axis does. HIGHEST keeps it
# exact where the default matmul precision is lower (TPU).
def class_scores(logits, classes):
    """(B, ..., C) scores, (B, k) classes -> (B, ..., k) scores of the requested classes."""
    hot = jax.nn.one_hot(classes, logits.shape[-1], dtype=logits.dtype)      # (B, k, C)
    return jnp.einsum("b...c,bkc->b...k", logits, hot, precision=jax.lax.Precision.HIGHEST)


def per_class_gradients(fn, x, classes):
    """Logits ``fn(x)`` (B, C) and ``d fn(x)[b, classes[b, j]] / d x[b]`` (B, k, ...).

    ``fn`` maps (N, ...) to (N, C) row by row (an eval-mode network or head). The batch is
    repeated k times, image-major, and one VJP of the summed class scores gives every
    gradient: unlike a vmap over k of the pullback, this keeps a batch sharded along an
    explicit ``data`` axis sharded (the vmapped transpose would merge k into the batch
    axis, which jax refuses), at the price of k forward passes instead of one.
    """
    b, k = classes.shape
    repeated = jnp.broadcast_to(x[:, None], (b, k) + x.shape[1:]).reshape((b * k,) + x.shape[1:])

    def total(inputs):
        logits = fn(inputs)
        if logits.ndim != 2:
            raise ModelError(f"expected logits (N, C) from the network's classifier, got "
                             f"shape {logits.shape}")
        hot = jax.nn.one_hot(classes.reshape(b * k), logits.shape[-1], dtype=logits.dtype)
        return (logits * hot).sum(), logits

    grads, logits = jax.grad(total, has_aux=True)(repeated)
    return logits.reshape((b, k) + logits.shape[1:])[:, 0], grads.reshape((b, k) + x.shape[1:])


def classifier(model):
    """``model.classify`` (the network after its features), else a pooling ``model.head``
    (one with a ``classifier``: camjax's earlier contract), or None."""
    fn = getattr(model, "classify", None)
    head = getattr(model, "head", None)
    if fn is None and callable(head) and hasattr(head, "classifier"):
        fn = head
    return fn


def features_of(model, images):
    """The network's features: the second output of ``model(images)``."""
    outputs = model(images)
    if not isinstance(outputs, (tuple, list)) or len(outputs) < 2:
        raise ModelError(f"{type(model).__name__} returns no (logits, features): give layer=")
    return outputs[1]


def layer_activations(graphdef, state, images, layer: str | None = None):
    """``(logits (B, C), activations (B, h, w, K))`` at ``layer`` (a module path, see
    :mod:`camjax.models.taps`; None: the network's features, or its ``features_layer``
    when its call returns logits alone). Pure, traceable."""
    model = eval_model(graphdef, state)
    if layer is None:
        outputs = model(images)
        if isinstance(outputs, (tuple, list)) and len(outputs) >= 2:
            return logits_of(outputs), outputs[1]
        layer = taps.default_layer(model)
    forward, zeros, model = taps.perturbed(graphdef, state, layer, images)   # checked
    logits, output = forward(zeros)
    return logits, taps.as_grid(model, output, images.shape)


def layer_gradients(graphdef, state, images, classes, layer: str | None = None):
    """``(logits (B, C), activations (B, h, w, K), grads (B, k, h, w, K))``, ``grads[b, j]
    = d logits[b, classes[b, j]] / d activations[b]`` at ``layer`` (None: the network's
    features, differentiating only ``classify``; or its ``features_layer``). Pure."""
    model = eval_model(graphdef, state)
    fn = classifier(model)
    if layer is None and fn is not None:
        features = features_of(model, images)
        logits, grads = per_class_gradients(fn, features, classes)
        return logits, features, grads
    forward, zeros, model = taps.perturbed(graphdef, state, layer or taps.default_layer(model),
                                           images)
    logits, pullback, output = jax.vjp(forward, zeros, has_aux=True)
    hot = jax.nn.one_hot(classes, logits.shape[-1], dtype=logits.dtype)      # (B, k, C)

    # one forward pass, one pullback per class (lax.map over k keeps the batch axis whole,
    # so a batch sharded along ``data`` stays sharded)
    def pull(cotangent):
        return taps.as_grid(model, pullback(cotangent)[0], images.shape)
    grads = jax.lax.map(pull, jnp.moveaxis(hot, 1, 0))                      # (k, B, h, w, K)
    return logits, taps.as_grid(model, output, images.shape), jnp.moveaxis(grads, 0, 1)


# backward compatible name (the gradient at the network's features)
logits_features_gradients = layer_gradients


def channel_map(activations, weights, eigen_smooth: bool = False):
    """``sum_K weights_K A_K`` (B, k, h, w) from activations (B, h, w, K) and channel
    (B, k, K) or per-position (B, k, h, w, K) weights; ``eigen_smooth``: instead the
    projection of the weighted activations on their first principal component
    (pytorch-grad-cam's ``eigen_smooth``; :func:`projection.first_component`)."""
    if not eigen_smooth:
        return weighted_sum(activations, weights)
    weights = weights if weights.ndim == 5 else weights[:, :, None, None, :]
    return first_component(activations[:, None] * weights.astype(activations.dtype))


def gradient_method(weights_fn):
    """A Grad-CAM-like pure method from its weights, as pytorch-grad-cam's
    ``get_cam_weights``: ``weights_fn(activations (B, h, w, K), grads (B, k, h, w, K),
    *, option=default, ...)`` returns channel weights (B, k, K) or per-position weights
    (B, k, h, w, K); the map is ``sum_K weights_K A_K`` (:func:`channel_map`, or its first
    principal component with ``eigen_smooth=True``), after a ReLU unless ``relu=False``.
    The result, ``fn(graphdef, state, images, classes, *, layer=None, relu=True,
    eigen_smooth=False, **options)``, is jitted with the model, the layer and the options
    static."""
    options = tuple(p.name for p in inspect.signature(weights_fn).parameters.values()
                    if p.kind == p.KEYWORD_ONLY)

    def pure(graphdef, state, images, classes, *, layer=None, relu=True, eigen_smooth=False,
             **kwargs):
        _, activations, grads = layer_gradients(graphdef, state, images, classes, layer)
        maps = channel_map(activations, weights_fn(activations, grads, **kwargs), eigen_smooth)
        return jax.nn.relu(maps) if relu else maps
    # the weights function's name and docstring, not its signature (no __wrapped__)
    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        setattr(pure, attr, getattr(weights_fn, attr))
    pure.weights_fn = weights_fn
    return jax.jit(pure, static_argnames=("graphdef", "layer", "relu", "eigen_smooth")
                   + options)


def input_gradients(graphdef, state, images, classes):
    """``(logits (B, C), grads (B, k, H, W, 3))`` with ``grads[b, j] = d logits[b,
    classes[b, j]] / d images[b]``. Pure, traceable."""
    model = eval_model(graphdef, state)
    return per_class_gradients(lambda x: logits_of(model(x)), images, classes)


# --------------------------------------------------------------------------- wrappers
def check_images(images) -> jax.Array:
    images = images if isinstance(images, jax.Array) else jnp.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (B, H, W, 3), got shape {images.shape}")
    if not jnp.issubdtype(images.dtype, jnp.floating):
        raise TypeError(f"images must be floating point, got {images.dtype}")
    return images


def check_classes(classes, batch: int, num_classes: int | None = None) -> jax.Array:
    """(B, k) or (B,) integer class indices -> (B, k), each in [0, num_classes)."""
    classes = classes if isinstance(classes, jax.Array) else jnp.asarray(classes)
    if classes.ndim == 1:
        classes = classes[:, None]
    if classes.ndim != 2 or classes.shape[0] != batch or classes.shape[1] < 1:
        raise ValueError(f"classes must be (B={batch}, k) or (B,), got shape {classes.shape}")
    if not jnp.issubdtype(classes.dtype, jnp.integer):
        raise TypeError(f"classes must be integers, got {classes.dtype}")
    if num_classes is not None and classes.size:
        lo, hi = int(classes.min()), int(classes.max())
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"classes must lie in [0, {num_classes}), got values in "
                             f"[{lo}, {hi}]")
    return classes


def num_classes(model, images=None) -> int | None:
    """C of the model's logits: its class weights' width, else from a shape-only call on
    ``images`` (no compile); None when neither is known."""
    try:
        return int(class_weights(model).shape[-1])
    except ModelError:
        pass
    if images is None:
        return None
    out = nnx.eval_shape(lambda m, x: logits_of(m(x)), model,
                         jax.ShapeDtypeStruct(images.shape, images.dtype))
    return int(out.shape[-1])


def on_model(spec):
    """The model form of a registered method ``spec`` (:class:`registry.Method`):
    ``method(model, images, classes, **options)`` checks the options and the inputs, splits
    the model (left in the mode it is in) and calls the pure function."""
    @functools.wraps(spec.pure)
    def method(model: nnx.Module, images, classes, **options) -> jax.Array:
        spec.check_options(options)
        images = check_images(images)
        classes = check_classes(classes, images.shape[0], num_classes(model, images))
        graphdef, state = nnx.split(model)
        return smoothing.run(spec, graphdef, state, images, classes, **options)
    method.__doc__ = (f"{spec.pure.__doc__}\n\n    Called as ``(model, images (B, H, W, 3), "
                      f"classes (B, k) or (B,), **options)``; the pure form is "
                      f"``{spec.name}_fn``.")
    method.__name__ = method.__qualname__ = spec.name
    return method


def weighted_input_gradients(graphdef, state, point, weights, classes, batch_size: int):
    """``sum_s weights[s] * d logit / d image`` at the images ``point(s)``, s = 0..n-1.

    ``point(s)`` maps a scalar index to a (B, H, W, 3) batch (traceable); the n points are
    differentiated ``batch_size`` at a time (``lax.scan`` over chunks, a backward pass
    holding B x batch_size images, image-major so a ``data``-sharded batch stays sharded).
    Returns (B, k, H, W, 3): the sum, e.g. a mean (SmoothGrad) or a quadrature (IG).
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    n = weights.shape[0]
    chunk = min(batch_size, n)
    chunks = -(-n // chunk)
    index = jnp.arange(chunks * chunk).reshape(chunks, chunk)
    padded = jnp.pad(weights, (0, chunks * chunk - n)).reshape(chunks, chunk)  # pads: 0
    b, k = classes.shape
    repeated = jnp.broadcast_to(classes[:, None], (b, chunk, k)).reshape(b * chunk, k)

    def add_chunk(total, xs):
        ids, w = xs
        points = jax.vmap(point, out_axes=1)(ids)                      # (B, chunk, H, W, 3)
        shape = points.shape
        _, grads = input_gradients(graphdef, state, points.reshape((b * chunk,) + shape[2:]),
                                   repeated)
        grads = grads.reshape((b, chunk, k) + shape[2:])
        # a product and a sum, not a contraction: exact where matmuls default to bf16 (TPU)
        w = w.astype(grads.dtype).reshape((1, chunk) + (1,) * (grads.ndim - 2))
        return total + (grads * w).sum(axis=1), None

    # zeros shaped and sharded like the images (an explicit mesh types the scan's carry)
    first = point(0)
    start = jnp.broadcast_to(jnp.zeros_like(first)[:, None], (b, k) + first.shape[1:])
    total, _ = jax.lax.scan(add_chunk, start, (index, padded))
    return total
