"""Guided backpropagation's ReLU, swapped into any network inside a pure function.

Guided backpropagation (Springenberg et al., ICLR workshop 2015, Sec. 3.4) changes only
the backward pass of each ReLU: the gradient goes back where the ReLU's input was positive
**and** the incoming gradient is positive, ``R_in = [x > 0] [R_out > 0] R_out``. camjax
writes that rule once, :func:`guided_relu` (a ``jax.custom_vjp`` whose forward is the
ReLU), and :func:`guided` puts it in place of every ReLU of any function, without hooks
and without editing a module: the function is traced to a jaxpr (``jax.make_jaxpr``) and
evaluated again, equation by equation, with each call of ``jax.nn.relu`` (which flax's
``nnx.relu`` and camjax's ``layers.Activation("relu")`` are) replaced by the guided one,
and ``jax.nn.relu6`` by ``min(guided_relu(x), 6)``. Calls are recognised in the jaxpr as
jax's own ReLU (its ``custom_jvp_call`` of the function named ``relu`` / ``relu6``), so a
LayerNorm's ``max(0, variance)`` or an ELU's ``max(x, 0)`` are left alone. Nested jits,
``custom_jvp``/``custom_vjp`` calls and remat are inlined where they hold a ReLU
(elsewhere bound unchanged); ``scan``/``while``/``cond`` bodies holding one are rewritten
the same way. A hand-written ``jnp.maximum(x, 0)`` is not a ReLU call and keeps its
gradient: write ``jax.nn.relu``.

Being a trace-time rewrite, it works under ``jax.jit``, ``vmap``, on a batch sharded along
``data``, and on a user's own model. pytorch-grad-cam swaps ``torch.nn.ReLU`` modules
only, so functional ReLUs (DenseNet's final ``F.relu``) and ``nn.ReLU6`` keep their
gradient there; camjax guides every ReLU and ReLU6 call.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.extend import core

RELUS = ("relu", "relu6")
INLINED = ("jit", "pjit", "closed_call", "core_call", "remat2", "checkpoint",
           "custom_jvp_call", "custom_vjp_call", "custom_vjp_call_jaxpr")


@jax.custom_vjp
def guided_relu(x):
    """``max(x, 0)`` forward; backward ``[x > 0] [g > 0] g`` (guided backpropagation)."""
    return jnp.maximum(x, 0)


def _forward(x):
    return jnp.maximum(x, 0), x


def _backward(x, g):
    return (jnp.where((x > 0) & (g > 0), g, jnp.zeros_like(g)),)


guided_relu.defvjp(_forward, _backward)

GUIDED = {"relu": guided_relu, "relu6": lambda x: jnp.minimum(guided_relu(x), 6)}


def relu_kind(eqn) -> str | None:
    """'relu' / 'relu6' for jax's own ReLU calls, else None."""
    if eqn.primitive.name != "custom_jvp_call":
        return None
    inner = eqn.params["call_jaxpr"].jaxpr.eqns
    if len(inner) == 1 and inner[0].primitive.name in ("jit", "pjit") and \
            inner[0].params.get("name") in RELUS:
        return inner[0].params["name"]
    return None


def _sub_jaxprs(value):
    if isinstance(value, core.ClosedJaxpr):
        yield value.jaxpr
    elif isinstance(value, core.Jaxpr):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _sub_jaxprs(v)


def holds_relu(jaxpr) -> bool:
    return any(relu_kind(e) or any(holds_relu(j) for v in e.params.values()
                                   for j in _sub_jaxprs(v)) for e in jaxpr.eqns)


def _closed(jaxpr_or_closed):
    if isinstance(jaxpr_or_closed, core.ClosedJaxpr):
        return jaxpr_or_closed.jaxpr, jaxpr_or_closed.consts
    return jaxpr_or_closed, ()


def _rewritten(closed):
    """A ClosedJaxpr computing the same with its ReLUs guided (for scan/while/cond)."""
    avals = [v.aval for v in closed.jaxpr.invars]
    return jax.make_jaxpr(lambda *args: evaluate(closed.jaxpr, closed.consts, args))(*avals)


def _rewrite_param(value):
    if isinstance(value, core.ClosedJaxpr):
        return _rewritten(value) if holds_relu(value.jaxpr) else value
    if isinstance(value, (tuple, list)):
        return type(value)(_rewrite_param(v) for v in value)
    return value


def _inline_jaxpr(eqn):
    for name in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        if name in eqn.params:
            return _closed(eqn.params[name])
    raise NotImplementedError(f"guided backpropagation: cannot inline {eqn.primitive}")


def evaluate(jaxpr, consts, args):
    """Evaluate ``jaxpr`` with every ReLU call guided; returns the list of outputs."""
    env = {}

    def read(v):
        return v.val if isinstance(v, core.Literal) else env[v]
    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        invals = [read(v) for v in eqn.invars]
        kind = relu_kind(eqn)
        subs = [j for v in eqn.params.values() for j in _sub_jaxprs(v)]
        if kind:
            outs = [GUIDED[kind](*invals)]
        elif subs and any(holds_relu(j) for j in subs) and eqn.primitive.name in INLINED:
            inner, inner_consts = _inline_jaxpr(eqn)
            n = len(inner.invars)
            outs = evaluate(inner, inner_consts, invals[-n:] if n else [])
        else:
            params = ({k: _rewrite_param(v) for k, v in eqn.params.items()} if subs
                      else eqn.params)
            with eqn.ctx.manager:
                outs = eqn.primitive.bind(*invals, **eqn.primitive.get_bind_params(params))
            if not eqn.primitive.multiple_results:
                outs = [outs]
        env.update(zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def guided(fn):
    """``fn`` (a function of arrays and pytrees of arrays) with its ReLUs guided."""
    def wrapped(*args):
        closed, shape = jax.make_jaxpr(fn, return_shape=True)(*args)
        outs = evaluate(closed.jaxpr, closed.consts, jax.tree.leaves(args))
        return jax.tree.unflatten(jax.tree.structure(shape), outs)
    return wrapped
