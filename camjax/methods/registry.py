"""The registry of map methods: one decorator per method, everything else reads it.

A method is one module of ``camjax.methods`` whose pure function carries
``@register(name, resolution=..., options={...})``::

    @register("grad_cam", resolution="features", options={"relu": True})
    @gradient_method
    def grad_cam_fn(activations, grads):
        return grads.mean(axis=(2, 3))

``camjax.methods`` imports every module of the package, so the file is all a new method
needs: ``camjax.methods.<name>`` (model form) and ``<name>_fn`` (pure form), the
``--method`` choices and help of ``camjax localize``, ``config.cam_method``'s choices, the
engine (``camjax.explain``) and the tests' lists come from here, and docs/methods.md's
table is :func:`markdown_table` (a test keeps it equal).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from camjax.errors import UserError, did_you_mean

RESOLUTIONS = ("features", "image")


@dataclass(frozen=True)
class Method:
    """A registered method: ``pure(graphdef, state, images, classes, **options)`` ->
    (B, k, h, w) maps (h, w the layer's for ``features``, the image's for ``image``)."""
    name: str
    pure: Callable
    resolution: str
    options: Mapping[str, Any] = field(default_factory=dict)   # name -> default
    layer: bool = False             # takes layer= (a module path of the network)
    summary: str = ""               # the first line of the pure function's docstring

    @property
    def at_image_resolution(self) -> bool:
        return self.resolution == "image"

    @property
    def eigen_smooth(self) -> bool:
        """Whether the method takes ``eigen_smooth`` (its map is a weighted sum of a
        layer's channels; its pure function has the keyword)."""
        return "eigen_smooth" in inspect.signature(self.pure).parameters

    def check_options(self, options: Mapping[str, Any]) -> None:
        """:class:`UserError` for an option the method does not take (``aug_smooth``:
        every method; ``eigen_smooth``: see :attr:`eigen_smooth`)."""
        allowed = (set(self.options) | ({"layer"} if self.layer else set())
                   | {"aug_smooth"} | ({"eigen_smooth"} if self.eigen_smooth else set()))
        unknown = sorted(set(options) - allowed)
        if unknown == ["eigen_smooth"]:
            raise UserError(f"map method {self.name!r} has no option 'eigen_smooth': its map "
                            "is not a weighted sum of a layer's channels; the methods that "
                            "take it: " + ", ".join(n for n, m in methods().items()
                                                    if m.eigen_smooth))
        if unknown:
            takes = ", ".join(sorted(allowed)) or "no options"
            hint = " (it always uses the final layer)" if "layer" in unknown else ""
            raise UserError(f"map method {self.name!r} has no option {unknown[0]!r}{hint}; "
                            f"it takes: {takes}")


# name -> Method; a test may add one for its duration (monkeypatch.setitem(REGISTRY, ...))
REGISTRY: dict[str, Method] = {}


def register(name: str, *, resolution: str, options: Mapping[str, Any] | None = None,
             layer: bool | None = None):
    """Decorator on a method's pure function ``fn(graphdef, state, images, classes,
    **options)``: registers it as ``name`` and returns it unchanged.

    ``resolution``: ``"features"`` (maps at a layer's resolution) or ``"image"`` (pixel
    space). ``options``: every option's name and default (the CLI and the docs show them).
    ``layer``: whether the method takes ``layer=`` (default: the feature-resolution ones).
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}")

    def wrap(pure):
        if name in REGISTRY and REGISTRY[name].pure is not pure:
            raise ValueError(f"map method {name!r} is registered twice")
        doc = (pure.__doc__ or "").strip().splitlines()
        REGISTRY[name] = Method(name, pure, resolution, dict(options or {}),
                                 resolution == "features" if layer is None else layer,
                                 doc[0] if doc else "")
        return pure
    return wrap


def methods() -> dict[str, Method]:
    """Every registered method, feature-resolution ones first, each group by name."""
    return {m.name: m for m in sorted(REGISTRY.values(),
                                      key=lambda m: (RESOLUTIONS.index(m.resolution), m.name))}


def get(name: str) -> Method:
    if name not in REGISTRY:
        raise UserError(f"unknown map method {name!r}; available: {', '.join(methods())}"
                        f"{did_you_mean(name, methods())}")
    return REGISTRY[name]


def markdown_table() -> str:
    """docs/methods.md's table of methods: name, what it is, resolution, ``layer=``,
    options (``eigen_smooth`` where the method takes it; ``aug_smooth``, which every
    method takes, is not repeated). Regenerate it with
    ``python -c "import camjax.methods as m; print(m.registry.markdown_table())"``."""
    rows = ["| method | what | resolution | `layer=` | options (defaults) |",
            "|---|---|---|---|---|"]
    for m in methods().values():
        shown = {**m.options, **({"eigen_smooth": False} if m.eigen_smooth else {})}
        options = ", ".join(f"`{k}={v!r}`" for k, v in shown.items()) or "-"
        summary = m.summary.replace("|", "\\|")        # a bar would end the cell
        rows.append(f"| `{m.name}` | {summary} | {m.resolution} | "
                    f"{'yes' if m.layer else 'no'} | {options} |")
    return "\n".join(rows)
