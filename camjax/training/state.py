"""The model, the replicated train state and the jitted, sharded train step of a config."""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from camjax import models
from camjax.checks import values
from camjax.errors import ConfigError
from camjax.training import mesh as mesh_lib, optim, step as step_lib, wsol

COMPUTE_DTYPES = dict(zip(values.COMPUTE_DTYPES, (jnp.float32, jnp.bfloat16), strict=True))
# layers whose computation dtype follows config.compute_dtype (parameters stay float32;
# BatchNorm statistics are reduced in float32 whatever the dtype)
_DTYPE_LAYERS = (nnx.Conv, nnx.ConvTranspose, nnx.Linear, nnx.LinearGeneral, nnx.Einsum,
                 nnx.BatchNorm, nnx.LayerNorm, nnx.GroupNorm)


class Setup(NamedTuple):
    train_graphdef: Any
    eval_graphdef: Any
    state: step_lib.TrainState
    tx: optax.GradientTransformation
    schedule: optax.Schedule


def compute_dtype(config):
    name = config.compute_dtype
    if name not in COMPUTE_DTYPES:
        raise ConfigError(f"config.compute_dtype must be one of {sorted(COMPUTE_DTYPES)}, "
                         f"got {name!r}")
    return COMPUTE_DTYPES[name]


def set_compute_dtype(model: nnx.Module, dtype) -> nnx.Module:
    """Compute every conv, dense and norm layer in ``dtype`` (mixed precision)."""
    for _, module in nnx.iter_modules(model):
        if isinstance(module, _DTYPE_LAYERS):
            module.dtype = dtype
    return model


def build_model(config, num_classes: int, *, load_weights: bool = True,
                log=print) -> nnx.Module:
    """``config.model`` with fresh weights, then ``config.pretrained`` (a torchvision
    state dict) when set and ``load_weights`` (False on resume: the checkpoint has them)."""
    model = models.create(config.model, num_classes=num_classes, pooling=config.pooling,
                          rngs=nnx.Rngs(config.seed), **config.model_kwargs,
                          **wsol.model_kwargs(config))
    if config.pretrained and load_weights:
        try:
            report = models.load_pretrained(model, config.pretrained)
        except (ValueError, FileNotFoundError) as err:   # named errors, one line
            raise ConfigError(f"config.pretrained={config.pretrained!r}: {err}") from err
        log(f"pretrained {config.pretrained}: {len(report.loaded)} tensors loaded, "
            f"{len(report.new)} new ({', '.join(sorted({n.split('.')[0] for n in report.new}))})")
    return set_compute_dtype(model, compute_dtype(config))


def initial_state(model: nnx.Module, config, mesh) -> Setup:
    """Graphdefs for training and evaluation and the replicated initial TrainState."""
    model.train()
    train_graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    model.eval()
    eval_graphdef = nnx.graphdef(model)
    tx, schedule = optim.make_optimizer(config, params)
    state = step_lib.TrainState(step=jnp.zeros((), jnp.int32), params=params, rest=rest,
                                opt_state=tx.init(params))
    state = jax.device_put(state, mesh_lib.replicated(mesh))
    return Setup(train_graphdef, eval_graphdef, state, tx, schedule)


def compile_train_step(train_graphdef, tx, mesh, config):
    """``train_step`` jitted with the state replicated and the batch sharded along ``data``.

    The state is donated: its buffers are reused for the new state.
    """
    repl, data = mesh_lib.replicated(mesh), mesh_lib.batch_sharded(mesh)
    fn = functools.partial(step_lib.train_step, graphdef=train_graphdef, tx=tx,
                           compute_dtype=compute_dtype(config),
                           method=wsol.from_config(config))
    return jax.jit(fn, in_shardings=(repl, data), out_shardings=(repl, repl), donate_argnums=0)
