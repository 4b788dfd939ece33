"""The CAM family: ``camjax.methods.<name>(model, images, classes, **options) -> (B, k, h, w)``.

Every module of this package that registers a method (``@register`` in
:mod:`camjax.methods.registry`) is imported here, and its method appears as
``camjax.methods.<name>`` (model form), ``<name>_fn`` (pure form, ``(graphdef, state,
images, classes, **options)`` over ``nnx.split(model)``, for use inside a jitted function)
and in :data:`METHODS`: adding a method is adding its file. The feature-resolution methods
other than ``cam`` take ``layer=`` (a module path as torchvision names it, e.g.
``"layer3"``; default the network's features). Maps are raw (each with the ReLU its
definition applies, none for ``cam``); for maps at the image size in [0, 1], use the map
engine, ``camjax.explain``. See docs/methods.md.
"""
import importlib
import pkgutil

from camjax.methods import base, registry
from camjax.methods.backprop import input_gradients, input_gradients_fn
from camjax.methods.guided import guided_gradients, guided_gradients_fn

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "registry") and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

METHODS = {name: base.on_model(spec) for name, spec in registry.methods().items()}
PURE_METHODS = {name: spec.pure for name, spec in registry.methods().items()}
IMAGE_RESOLUTION = frozenset(n for n, spec in registry.methods().items()
                             if spec.at_image_resolution)
globals().update(METHODS)
globals().update({f"{name}_fn": pure for name, pure in PURE_METHODS.items()})


def get(name: str):
    """The method ``name``: ``method(model, images, classes, **options) -> (B, k, h, w)``."""
    registry.get(name)
    return METHODS[name]


def get_pure(name: str):
    """The pure form of ``name``: ``fn(graphdef, state, images, classes, **options)``."""
    return registry.get(name).pure


def at_image_resolution(name: str) -> bool:
    """True for the pixel-space methods (maps already (B, k, H, W))."""
    return registry.get(name).at_image_resolution


def takes_layer(name: str) -> bool:
    """True for the methods that take ``layer=``."""
    return registry.get(name).layer


__all__ = ["METHODS", "PURE_METHODS", "IMAGE_RESOLUTION", "get", "get_pure",
           "at_image_resolution", "takes_layer", "base", "registry", "input_gradients",
           "input_gradients_fn", "guided_gradients", "guided_gradients_fn", *METHODS,
           *(f"{name}_fn" for name in METHODS)]
