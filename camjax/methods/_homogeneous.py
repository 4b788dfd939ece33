"""Whether a network is one whose biases FullGrad can account for, read from its jaxpr.

FullGrad's completeness (Srinivas & Fleuret 2019, eq. 2), ``f(x) = grad_x f . x +
sum_b grad_b f . b``, holds when the output is positively homogeneous of degree 1 in the
input and the biases together, ``f(a x, a b) = a f(x, b)`` for ``a > 0``: ReLU networks
of convolutions, BatchNorm (its running mean is part of its bias, as the paper's code
folds it), linear layers, sums, concatenations and max / average pooling. A constant the
network adds that is not a bias (ReLU6's 6, hard-swish's 3, a position embedding, a class
token), a product of two activations (squeeze-and-excitation, attention, LayerNorm's
variance) or a smooth nonlinearity (sigmoid, GELU, SiLU) breaks it.

:func:`check` traces the forward pass (``jax.make_jaxpr``: nothing is compiled) and
propagates, for every value, whether it scales with ``a`` (``SCALED``), is a constant
(``CONST``; ``ZERO`` for known zeros), or is invariant to it (``PRED``: comparisons of
scaled values, ReLU's mask). The first operation that breaks the homogeneity is named, with
the line of the network's code that made it.
"""
from __future__ import annotations

import jax
import numpy as np
from jax.extend import core

SCALED, CONST, ZERO, PRED = "scaled", "const", "zero", "pred"

# y(a x) = a y(x) for one scaled operand (the others constant or index operands)
_LINEAR = {"neg", "reshape", "broadcast_in_dim", "transpose", "squeeze", "expand_dims",
           "convert_element_type", "copy", "copy_p", "reduce_sum", "reduce_max",
           "reduce_min", "reduce_window_sum", "reduce_window_max", "reduce_window_min",
           "cumsum", "cummax", "cummin", "rev", "slice", "dynamic_slice", "gather",
           "reduce_precision", "stop_gradient", "abs", "real", "optimization_barrier"}
# every operand must be scaled (or a known zero): a constant among them is an offset
_ADDITIVE = {"add", "add_any", "sub", "max", "min", "concatenate", "pad",
             "dynamic_update_slice", "scatter_add", "select_n"}
_BILINEAR = {"mul", "dot_general", "conv_general_dilated"}
_COMPARE = {"gt", "ge", "lt", "le", "eq", "ne"}
_INVARIANT = {"sign", "argmax", "argmin", "and", "or", "not", "is_finite"}
_SUBJAXPRS = ("jaxpr", "call_jaxpr", "fun_jaxpr")


class NotHomogeneous(Exception):
    """The first operation that breaks the homogeneity: ``reason``, ``where``."""

    def __init__(self, reason: str, where: str):
        super().__init__(f"{reason}{f' ({where})' if where else ''}")
        self.reason, self.where = reason, where


def _where(eqn) -> str:
    """``file:line`` of the innermost frame outside jax and flax that made ``eqn``."""
    try:
        frames = eqn.source_info.traceback.frames
    except AttributeError:
        return ""
    for frame in frames:
        name = frame.file_name.replace("\\", "/")
        if not any(part in name for part in ("/jax/", "/jaxlib/", "/flax/", "_homogeneous")):
            return f"{name.rsplit('/camjax/', 1)[-1] if '/camjax/' in name else name}:" \
                   f"{frame.line_num}"
    return ""


def _kind_of(atom, env) -> str:
    if isinstance(atom, core.Literal):
        return ZERO if np.all(np.asarray(atom.val) == 0) else CONST
    return env.get(atom, CONST)


def _constant_text(eqn, env) -> str:
    for atom in eqn.invars:
        if isinstance(atom, core.Literal) and _kind_of(atom, env) == CONST:
            return f" ({np.asarray(atom.val).item():g})" if np.size(atom.val) == 1 else ""
    return ""


def _step(eqn, kinds, env, outer: str) -> list[str]:
    """The kinds of ``eqn``'s outputs from its inputs' ``kinds``; raises on a break."""
    name = eqn.primitive.name
    n_out = len(eqn.outvars)
    if SCALED not in kinds:          # a function of constants and scale-invariant values
        if PRED in kinds:
            return [PRED] * n_out
        zero = name in _LINEAR | _ADDITIVE and set(kinds) <= {ZERO}
        return [ZERO if zero else CONST] * n_out
    fail = lambda why: NotHomogeneous(why, _where(eqn) or outer)   # noqa: E731
    if name in ("scan", "while", "cond"):
        raise fail(f"control flow (`{name}`) on an activation")
    if any(p in eqn.params for p in _SUBJAXPRS):
        return _sub_jaxpr(eqn, kinds, _where(eqn) or outer)
    if name in _LINEAR:
        return [kinds[0]] * n_out
    if name in _ADDITIVE:
        values = kinds[1:] if name == "select_n" else kinds
        if any(k not in (SCALED, ZERO) for k in values):
            raise fail(f"`{name}` of an activation and a constant that is not a bias"
                       f"{_constant_text(eqn, env)}")
        return [SCALED] * n_out
    if name in _BILINEAR:
        if kinds.count(SCALED) > 1:
            raise fail(f"a product of two activations (`{name}`)")
        return [ZERO if ZERO in kinds else SCALED] * n_out
    if name == "div":
        if kinds[1] == SCALED:
            raise fail("a division by an activation")
        return [kinds[0]] * n_out
    if name in _COMPARE:
        if any(k not in (SCALED, ZERO) for k in kinds):
            raise fail(f"a comparison of an activation with a constant (`{name}`)"
                       f"{_constant_text(eqn, env)}")
        return [PRED] * n_out
    if name in _INVARIANT:
        return [PRED] * n_out
    raise fail(f"`{name}` of an activation")


def _sub_jaxpr(eqn, kinds, where: str) -> list[str]:
    closed = next(eqn.params[p] for p in _SUBJAXPRS if p in eqn.params)
    jaxpr = getattr(closed, "jaxpr", closed)
    consts = getattr(closed, "consts", [])
    if len(jaxpr.invars) != len(kinds):
        raise NotHomogeneous(f"`{eqn.primitive.name}` of an activation", where)
    env = {v: _const_kind(c) for v, c in zip(jaxpr.constvars, consts)}
    env.update(zip(jaxpr.invars, kinds))
    return _walk(jaxpr, env, where)


def _const_kind(value) -> str:
    try:
        return ZERO if np.all(np.asarray(value) == 0) else CONST
    except Exception:            # a tracer or an opaque constant
        return CONST


def _walk(jaxpr, env, outer: str = "") -> list[str]:
    for eqn in jaxpr.eqns:
        kinds = [_kind_of(a, env) for a in eqn.invars]
        env.update(zip(eqn.outvars, _step(eqn, kinds, env, outer)))
    return [_kind_of(a, env) for a in jaxpr.outvars]


def check(fn, args, scaled) -> None:
    """Raise :class:`NotHomogeneous` unless ``fn(*args)``'s outputs are positively
    homogeneous of degree 1 in the arguments whose flag in ``scaled`` is True (the other
    arguments constants). ``args``: arrays or ``jax.ShapeDtypeStruct``; nothing is run."""
    closed = jax.make_jaxpr(fn)(*args)
    env = {v: _const_kind(c) for v, c in zip(closed.jaxpr.constvars, closed.consts)}
    env.update({v: SCALED if s else CONST for v, s in zip(closed.jaxpr.invars, scaled)})
    outputs = _walk(closed.jaxpr, env)
    if any(kind != SCALED for kind in outputs):
        raise NotHomogeneous("the output does not scale with the input and the biases", "")
