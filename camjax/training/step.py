"""The pure train step over ``nnx.split`` state; jitted by the loop with shardings.

The WSOL method (``camjax.training.wsol``) composes onto it: HaS and CutMix change the
batch first, with a key derived from the method's seed and the step; ACoL, SPG and the
few-shot baseline read their network's training outputs in their loss.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx, struct

from camjax.data import transforms
from camjax.training import wsol


@struct.dataclass
class TrainState:
    step: jax.Array
    params: Any        # nnx.Param state
    rest: Any          # BatchNorm statistics, dropout RNG counters
    opt_state: Any


cross_entropy = wsol.losses.cross_entropy


def train_step(state: TrainState, batch: dict, *, graphdef, tx, compute_dtype=jnp.float32,
               method: wsol.Method = wsol.Method()) -> tuple[TrainState, dict]:
    """One SGD step. The batch is sharded along ``data``: the mean loss, its gradient
    and the BatchNorm statistics are over the global batch (the compiler inserts the
    all-reduces). Images arrive as uint8 (the input pipeline's) and are normalised here,
    on the device; float images are taken as already normalised."""
    images = batch["image"]
    if images.dtype == jnp.uint8:
        images = transforms.normalize_on_device(images)
    images, labels_b, weight = wsol.inputs(method, wsol.step_key(method, state.step),
                                           images.astype(compute_dtype), batch["label"])

    def loss_fn(params, rest):
        # fresh Variables at this trace level, so BatchNorm may update its statistics
        rest = jax.tree.map(lambda x: x, rest)
        model = nnx.merge(graphdef, params, rest)
        loss, logits = wsol.loss(method, model, images, batch, (labels_b, weight))
        return loss, (logits, nnx.state(model, nnx.Not(nnx.Param)))

    (loss, (logits, rest)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params,
                                                                          state.rest)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
    new_state = TrainState(step=state.step + 1, params=params, rest=rest, opt_state=opt_state)
    # a finite loss with a non-finite gradient would still poison the parameters
    return new_state, {"loss": loss, "accuracy": accuracy, "grad_norm": optax.global_norm(grads)}

