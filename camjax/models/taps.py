"""Any layer of any NNX model, without hooks: a torchvision-style dotted path resolved on
the module tree, and that module's output tapped inside a pure function.

A layer is named as torchvision's ``named_modules()`` spells it (``layer3``,
``layer4.1.conv2``, ``features.6``, ``encoder.layers.encoder_layer_11.ln_1``):

* segments walk attributes, integer segments index an ``nnx.List`` (torch's
  ``nn.Sequential`` / ``nn.ModuleList``);
* the model's ``layer_aliases`` ({torch path: camjax path}, longest prefix first, the
  path as written last) map the names where camjax's tree differs from torch's (``fc`` ->
  ``head.classifier``);
* a path that ends on an ``nnx.List`` taps its last element, whose output is the
  Sequential's output in torch (``layer4`` is ``layer4.2`` in a ResNet-50).

:func:`perturbed` merges a fresh copy of the model (``nnx.merge``, evaluation mode) inside
the caller's pure function and replaces the named submodule by a :class:`Tap` that adds a
perturbation ``delta`` to its output and records it. With ``delta = 0`` the network is
unchanged and ``d logits / d delta`` is the gradient at that layer: it works under
``jax.jit``, ``jax.vmap``, ``jax.grad`` (second order) and on a batch sharded along
``data``, and neither the user's module nor its class is edited. A layer whose output is
tokens (B, N, D) becomes a (B, h, w, D) grid through ``model.to_grid(activation,
image_shape)`` (:func:`as_grid`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.errors import ModelError

Path = tuple


def eval_copy(graphdef, state) -> nnx.Module:
    """A fresh merged copy of ``(graphdef, state)`` in evaluation mode (BatchNorm running
    statistics, no dropout), whatever mode the graphdef was split in."""
    model = nnx.merge(graphdef, state)
    model.eval()
    return model


def logits_of(outputs) -> jax.Array:
    """A model's logits: its output itself, or the first of ``(logits, features)``."""
    if isinstance(outputs, (tuple, list)) and outputs:
        outputs = outputs[0]
    if not hasattr(outputs, "ndim") or outputs.ndim != 2:
        raise ModelError(f"the model's call must return logits (B, C) or (logits, features); "
                         f"got {type(outputs).__name__} {getattr(outputs, 'shape', '')}")
    return outputs


def _name(path: Path) -> str:
    return ".".join(str(p) for p in path)


def _arch(model) -> str:
    return getattr(model, "arch", "") or type(model).__name__


def module_paths(model: nnx.Module) -> list[str]:
    """Every layer name ``model`` resolves: its submodules' dotted paths and the torch names
    of its ``layer_aliases``, sorted."""
    paths = {_name(p) for p, node in nnx.iter_graph(model) if isinstance(node, nnx.Module) and p}
    return sorted(paths | set(getattr(model, "layer_aliases", None) or {}))


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def nearby(name: str, candidates, n: int = 6) -> list[str]:
    """The ``n`` candidates closest to ``name`` by edit distance (ties: shorter first)."""
    return sorted(candidates, key=lambda c: (_edit_distance(name, c), len(c), c))[:n]


def _unknown(model, layer: str, why: str) -> ModelError:
    close = ", ".join(nearby(layer, module_paths(model)))
    return ModelError(f"layer {layer!r} {why} in {_arch(model)}; nearby names: {close} "
                      "(camjax.models.taps.module_paths(model) lists them all)")


def _segments(layer: str) -> list:
    if not isinstance(layer, str) or not layer or any(not s for s in layer.split(".")):
        raise ModelError(f"layer must be a dotted module path such as 'layer4' or "
                         f"'features.6', got {layer!r}")
    return layer.split(".")


def _candidates(model, segments: list) -> list[list]:
    """The paths ``segments`` may name: through the longest alias prefix first, then
    shorter ones, then as written (an alias of a container, ``encoder`` -> ``encoder.ln``,
    must not capture the container's own children, ``encoder.layers``)."""
    aliases = getattr(model, "layer_aliases", None) or {}
    out = []
    for i in range(len(segments), 0, -1):
        target = aliases.get(".".join(segments[:i]))
        if target is not None:
            out.append((target.split(".") if target else []) + segments[i:])
    return out + [segments]


def _child(node, segment: str):
    """``(key, child)``: the List index or attribute name, and the submodule (or None)."""
    if isinstance(node, nnx.List):
        index = int(segment) if segment.lstrip("-").isdigit() else None
        if index is None or not -len(node) <= index < len(node):
            return None, None
        return index % len(node), node[index]
    if isinstance(node, dict):
        return segment, node.get(segment)
    child = None if segment.startswith("_") else getattr(node, segment, None)
    return segment, child if isinstance(child, (nnx.Module, dict)) else None


def resolve(model: nnx.Module, layer: str) -> tuple[Path, nnx.Module]:
    """``(path, module)``: the camjax path (attribute names and list indices) of the module
    ``layer`` names, and the module. Raises :class:`ModelError` naming the layer and the
    nearest valid names."""
    for segments in _candidates(model, _segments(layer)):
        node, path = model, []
        for segment in segments:
            key, node = _child(node, segment)
            if node is None:
                break
            path.append(key)
        if node is not None:
            break
    else:
        raise _unknown(model, layer, "is not a module")
    while isinstance(node, nnx.List) and len(node):   # a Sequential's output is its last's
        path.append(len(node) - 1)
        node = node[-1]
    if not path or not callable(node):
        raise _unknown(model, layer, "is not a callable module")
    return tuple(path), node


def _at(model, path) -> object:
    node = model
    for key in path:
        node = node[key] if isinstance(node, (nnx.List, dict)) else getattr(node, key)
    return node


class Tap:
    """Stands in for a module: calls it, adds ``delta`` to its output (when given) and keeps
    the result in ``output`` (the last call's) and the output shapes in ``shapes``; other
    attributes are the module's."""

    def __init__(self, module, delta=None):
        self.module, self.delta, self.output, self.shapes = module, delta, None, []

    def __call__(self, *args, **kwargs):
        out = self.module(*args, **kwargs)
        if not hasattr(out, "shape"):
            raise ModelError(f"the tapped layer returns {type(out).__name__}, not an array")
        if self.delta is not None:
            out = out + self.delta
        self.output = out
        self.shapes.append(tuple(out.shape))
        return out

    def __getattr__(self, name):
        return getattr(self.__dict__["module"], name)


def install(model: nnx.Module, path: Path, tap: Tap) -> None:
    """Put ``tap`` in place of the module at ``path`` of ``model`` (a copy the caller owns)."""
    parent = _at(model, path[:-1])
    if isinstance(parent, (nnx.List, dict)):
        parent[path[-1]] = tap
    else:
        setattr(parent, path[-1], tap)


def tapped_call(graphdef, state, path: Path, images, delta=None):
    """``(logits, layer output)`` of a fresh eval-mode copy with ``delta`` added at ``path``."""
    model = eval_copy(graphdef, state)
    tap = Tap(_at(model, path), delta)
    install(model, path, tap)
    logits = logits_of(model(images))
    return logits, tap.output, tap.shapes


def perturbed(graphdef, state, layer: str, images):
    """``(forward, zeros, model)`` for the layer ``layer``: ``forward(delta) -> (logits,
    output)`` runs a fresh eval-mode copy with ``delta`` added to that layer's output, and
    ``zeros`` is the zero perturbation, shaped (and sharded, on an explicit mesh) like the
    output. Call it inside a pure function (it traces the model once more to learn the
    output's shape). A module called more than once gets ``delta`` at every call and
    ``output`` is its last (the gradient is then the sum over the calls, e.g. a ViT whose
    call also reads its features layer on the side, where the side call adds nothing).
    Raises :class:`ModelError` for a layer that is not a module, is not called, or is
    called with outputs of different shapes."""
    model = eval_copy(graphdef, state)
    path, _ = resolve(model, layer)
    shapes = []

    def record():
        _, output, seen = tapped_call(graphdef, state, path, images)
        shapes.extend(seen)
        return output
    out = jax.eval_shape(record)
    if len(set(shapes)) != 1:
        why = ("is not called" if not shapes else
               f"is called with outputs of shapes {', '.join(map(str, shapes))}")
        raise ModelError(f"layer {layer!r} {why} in {_arch(model)}'s forward pass: name "
                         "one of its submodules, or a module called once")
    if out is None or out.ndim not in (3, 4):
        raise ModelError(f"layer {layer!r} of {_arch(model)} outputs shape "
                         f"{getattr(out, 'shape', None)}: expected (B, h, w, K) maps or "
                         "(B, N, D) tokens")
    sharding = getattr(out, "sharding", None)
    explicit = isinstance(sharding, jax.sharding.NamedSharding) and any(
        t == jax.sharding.AxisType.Explicit for t in sharding.mesh.axis_types)
    zeros = jnp.zeros(out.shape, out.dtype, **({"out_sharding": sharding} if explicit else {}))

    def forward(delta):
        logits, output, _ = tapped_call(graphdef, state, path, images, delta)
        return logits, output
    return forward, zeros, model


def as_grid(model, activation, image_shape) -> jax.Array:
    """A layer output as a (B, h, w, K) grid: 4-D NHWC as it is, (B, N, D) tokens through
    ``model.to_grid(activation, image_shape)`` (class tokens dropped, patches reshaped)."""
    if activation.ndim == 4:
        return activation
    to_grid = getattr(model, "to_grid", None)
    if to_grid is None:
        raise ModelError(f"{_arch(model)}: the layer's output is (B, N, D) tokens and the "
                         "network has no to_grid(activation, image_shape) to make them a grid")
    return to_grid(activation, image_shape)


def default_layer(model) -> str:
    """``model.features_layer``, or a :class:`ModelError` asking for ``layer=``."""
    layer = getattr(model, "features_layer", None)
    if not layer:
        raise ModelError(f"{_arch(model)} names no features_layer and has no classify("
                         f"features): give layer=, one of: "
                         f"{', '.join(module_paths(model)[:12])}, ...")
    return layer
