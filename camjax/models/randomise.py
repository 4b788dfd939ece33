"""Model-parameter randomisation (Adebayo et al., "Sanity checks for saliency maps",
NeurIPS 2018) on the NNX state of any camjax network.

A *layer* is a module that owns parameters (``nnx.Param``) directly: a convolution, a
dense layer, a BatchNorm or LayerNorm, a transformer's embedding module. Layers are
listed in the order the forward pass first uses their parameters, found by tracing the
network once (``jax.make_jaxpr``, nothing compiled): NNX keeps a module's attributes
sorted by name after ``nnx.split``/``merge``, so attribute order is not the network's.
For the networks that mirror torchvision's module tree this is torchvision's
``named_modules()`` order, the one Quantus's ``MPRT`` walks.

A layer is re-initialised with Flax's default initialisers of ``nnx.Conv``,
``nnx.Linear``, ``nnx.BatchNorm`` and ``nnx.LayerNorm``: a parameter of two or more axes
(a kernel) from ``lecun_normal`` (fan-in: all axes but the last), ``scale`` to ones,
any other 1-D or scalar parameter (biases) to zeros. The running statistics of a
BatchNorm are kept (the paper randomises "weights and other trainable variables";
torch's ``reset_parameters``, which Quantus calls, also resets them). The values are drawn
with numpy's generator seeded with (the data of a ``jax.random`` key, the layer's index,
the parameter's rank), so layer ``i`` takes the same values in the cascading and in the
independent test (numpy's, not ``jax.random``: the latter compiles for every parameter
shape, seconds each on a CPU).

* Cascading: the top ``j`` layers (logits first) randomised, ``j = 1..L``.
* Independent: layer ``i`` alone randomised, each ``i``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.extend import core as jcore

Path = tuple


def _params(state) -> tuple[nnx.State, nnx.State]:
    """(params, rest) of a whole state, or of (params, rest) already split."""
    if isinstance(state, tuple):
        return state[0], nnx.merge_state(*state[1:]) if len(state) > 1 else nnx.State({})
    return nnx.split_state(state, nnx.Param, ...)


def _first_uses(jaxpr, positions: dict, env: dict, prefix: tuple) -> None:
    """Record the position (a tuple of equation indices, nested into sub-programs that
    take the same inputs) where each input of ``env`` (var -> input index) is first read."""
    for i, eqn in enumerate(jaxpr.eqns):
        here = prefix + (i,)
        subs = [v.jaxpr if isinstance(v, jcore.ClosedJaxpr) else v
                for v in eqn.params.values() if isinstance(v, (jcore.Jaxpr, jcore.ClosedJaxpr))]
        # a call whose program takes the call's inputs one to one (pjit, custom_jvp, remat):
        # look inside for the first read; otherwise the call itself is the first read
        if len(subs) == 1 and len(subs[0].invars) == len(eqn.invars):
            sub_env = {iv: env[ov] for ov, iv in zip(eqn.invars, subs[0].invars)
                       if isinstance(ov, jcore.Var) and ov in env}
            if sub_env:
                _first_uses(subs[0], positions, sub_env, here)
        for v in eqn.invars:
            if isinstance(v, jcore.Var) and v in env:
                positions.setdefault(env[v], here)


def parameter_layers(graphdef, state, image_shape=(1, 32, 32, 3)) -> list[Path]:
    """The paths of the layers (modules owning parameters), in the order the forward
    pass of the eval-mode network uses them. ``state``: the whole state of
    ``nnx.split(model)`` or a (params, rest) tuple; ``image_shape`` any input the network
    takes."""
    params, rest = _params(state)
    flat = list(nnx.to_flat_state(params))
    if not flat:
        raise ValueError("the network has no parameters (nnx.Param) to randomise")

    def forward(p, images):
        model = nnx.merge(graphdef, p, rest)
        model.eval()
        return model(images)[0]

    closed = jax.make_jaxpr(forward)(params, jax.ShapeDtypeStruct(image_shape, jnp.float32))
    invars = closed.jaxpr.invars[:len(flat)]             # the params' leaves come first
    positions: dict[int, tuple] = {}
    _first_uses(closed.jaxpr, positions, {v: i for i, v in enumerate(invars)}, ())
    never = (float("inf"),)                              # unused parameters go last
    first: dict[Path, tuple] = {}
    for i, (path, _) in enumerate(flat):
        owner = tuple(path[:-1])
        first[owner] = min(first.get(owner, never), positions.get(i, never))
    return sorted(first, key=lambda owner: (first[owner], tuple(map(str, owner))))


def layer_name(path: Path, aliases: dict | None = None) -> str:
    """The dotted name of a layer path: torchvision's for a network that mirrors its tree,
    through ``aliases`` (a network's ``layer_aliases``, torch path -> camjax path) where
    the trees differ."""
    name = ".".join(str(p) for p in path) or "(top)"
    return {v: k for k, v in (aliases or {}).items()}.get(name, name)


def truncated_lecun_normal(rng: np.random.Generator, shape) -> np.ndarray:
    """Flax's ``lecun_normal``: a normal truncated to two standard deviations, scaled to
    variance 1 / fan-in (fan-in: all axes but the last)."""
    x = rng.standard_normal(shape)
    while (out := np.abs(x) > 2).any():           # redraw the tails: a truncated normal
        x[out] = rng.standard_normal(int(out.sum()))
    fan_in = int(np.prod(shape[:-1]))
    return x * np.sqrt(1.0 / fan_in) / 0.87962566103423978   # std of N(0, 1) on [-2, 2]


def reinitialised(value: jax.Array, name: str, rng: np.random.Generator) -> jax.Array:
    """A fresh value for a parameter called ``name`` (Flax's default initialisers)."""
    if value.ndim >= 2:
        fresh = truncated_lecun_normal(rng, value.shape)
    elif name == "scale":
        fresh = np.ones(value.shape)
    else:
        fresh = np.zeros(value.shape)
    fresh = np.asarray(fresh, value.dtype)
    sharding = getattr(value, "sharding", None)
    return jax.device_put(fresh, sharding) if sharding is not None else jnp.asarray(fresh)


def randomise(state, layers: list[Path], chosen, key):
    """``state`` (whole, or a (params, rest) tuple, returned in the same form) with the
    parameters of ``layers[i]`` re-initialised for each ``i`` in ``chosen``: parameter
    ``r`` (in sorted order) of layer ``i`` drawn by numpy's generator seeded with
    (``key``'s data, i, r)."""
    whole = not isinstance(state, tuple)
    params, rest = _params(state)
    owners = {tuple(layers[i]): i for i in chosen}
    words = [int(w) for w in np.asarray(jax.random.key_data(key)).ravel()]
    out, seen = [], {}
    for path, var in nnx.to_flat_state(params):       # sorted: a parameter's rank in its
        owner = tuple(path[:-1])                       # layer is stable
        rank = seen[owner] = seen.get(owner, -1) + 1
        if owner in owners:
            rng = np.random.default_rng([*words, owners[owner], rank])
            var = var.replace(reinitialised(var.get_value(), str(path[-1]), rng))
        out.append((path, var))
    params = nnx.from_flat_state(out)
    if whole:
        return nnx.merge_state(params, rest)
    return (params, *state[1:])


def cascading(num_layers: int) -> list[list[int]]:
    """The layers randomised at each step of the cascading test: top 1, top 2, ..., all."""
    return [list(range(num_layers - 1, num_layers - 2 - j, -1)) for j in range(num_layers)]


def independent(num_layers: int) -> list[list[int]]:
    """One layer at a time, from the top (the order the cascading test reports)."""
    return [[i] for i in range(num_layers - 1, -1, -1)]
