"""Random weights for a model built abstractly (``nnx.eval_shape``), filled from numpy.

Eager flax initialisation compiles one random op per parameter shape (tens of seconds for
GoogLeNet on CPU), which costs more than most tests that use the model; filling from numpy
compiles nothing.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


def fill(model, seed: int = 0, *, bn: str = "random", gain: float = 2.0,
         head_std: float | None = None, other_std: float = 0.1):
    """Give every leaf of ``model`` a concrete value; returns the model.

    Kernels are He-normal with ``gain``; the classifier's are N(0, head_std) when it is
    given. ``bn``: "random" (means N(0, 0.3), variances and scales U(0.5, 1.5)), "unit"
    (variances and scales 1, means like biases) or "zero_unit" (means 0, variances and
    scales 1). Biases and everything else: N(0, other_std).
    """
    rng = np.random.default_rng(seed)
    for path, var in nnx.to_flat_state(nnx.state(model)):
        x = var.get_value()
        name = path[-1]
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            var.set_value(jax.random.key(seed))
            continue
        if not jnp.issubdtype(x.dtype, jnp.floating):
            value = np.zeros(x.shape)
        elif head_std is not None and "classifier" in path:
            value = rng.normal(0, head_std, x.shape)
        elif len(x.shape) >= 2:
            value = rng.normal(0, math.sqrt(gain / math.prod(x.shape[:-1])), x.shape)
        elif bn == "zero_unit" and name in ("mean", "var", "scale"):
            value = np.zeros(x.shape) if name == "mean" else np.ones(x.shape)
        elif bn == "unit" and name in ("var", "scale"):
            value = np.ones(x.shape)
        elif bn == "random" and name == "mean":
            value = rng.normal(0, 0.3, x.shape)
        elif bn == "random" and name in ("var", "scale"):
            value = rng.uniform(0.5, 1.5, x.shape)
        else:
            value = rng.normal(0, other_std, x.shape)
        var.set_value(jnp.asarray(value, x.dtype))
    return model


TORCH_LEAVES = {"kernel": "weight", "scale": "weight", "mean": "running_mean",
                "var": "running_var"}


def torch_state_dict(model, seed: int = 0, head_std: float = 0.05) -> dict:
    """A random state dict under torch's names and layouts for a network that mirrors
    torch's module tree (``TorchLayout``: ``features.3.0.block.1.0.weight``), from the
    shapes of ``model`` (built shape-only is enough): He-normal conv / linear weights
    (OIHW, (out, in); the classifier's N(0, ``head_std``)), norm scales and running
    variances in [0.5, 1.5], everything else N(0, 0.1). Names with torch renames (a
    ResNet's ``fc``) are not produced; ``load_pretrained`` checks every name and shape."""
    rng = np.random.default_rng(seed)
    head = tuple(getattr(model, "classifier_path", ()))
    out = {}
    for path, var in nnx.to_flat_state(nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat))):
        *modules, leaf = path
        shape = tuple(var.get_value().shape)
        if leaf == "kernel" and len(shape) == 4:                     # HWIO -> OIHW
            shape = (shape[3], shape[2], shape[0], shape[1])
        elif len(shape) == 2:                                        # (in, out) -> (out, in)
            shape = shape[::-1]
        if tuple(modules) == head and leaf == "kernel":
            value = rng.normal(0, head_std, shape)
        elif leaf == "kernel" or len(shape) == 2:
            value = rng.normal(0, math.sqrt(1 / math.prod(shape[1:])), shape)
        elif leaf in ("scale", "var"):
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0, 0.1, shape)
        name = ".".join(str(m) for m in (*modules, TORCH_LEAVES.get(leaf, leaf)))
        out[name] = value.astype(np.float32)
    return out
