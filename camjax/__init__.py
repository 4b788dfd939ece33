"""camjax: Class Activation Mapping and weakly supervised localization in JAX/Flax NNX.

Submodules load on first use (``camjax.cam``, ``camjax.models``, ...), so
``import camjax`` costs milliseconds and pulls in neither JAX nor OpenCV. It sets one
XLA:CPU flag for the process (``camjax.xla_cpu``: XLA's own CPU kernels instead of
YNNPACK's fusions, measured faster), so import camjax before the first JAX computation.
"""
import importlib

from camjax import xla_cpu

# before any JAX computation of the process: XLA reads its flags once (see xla_cpu.py)
xla_cpu.apply_defaults()

__version__ = "0.1.0"

_SUBMODULES = ("boxes", "cam", "config", "data", "distributed", "engine", "errors",
               "evaluation", "evaluator", "geometry", "localize", "methods", "models", "tencrop",
               "training", "viz")
__all__ = [*_SUBMODULES, "explain"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"camjax.{name}")
    if name == "explain":   # the map engine's front door: camjax.explain(model, images, ...)
        return importlib.import_module("camjax.engine").explain
    raise AttributeError(f"module 'camjax' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBMODULES, "explain"])
