"""The pure train step over ``nnx.split`` state; jitted by the loop with shardings."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx, struct

from camjax.data import transforms


@struct.dataclass
class TrainState:
    step: jax.Array
    params: Any        # nnx.Param state
    rest: Any          # BatchNorm statistics, dropout RNG counters
    opt_state: Any


def cross_entropy(logits, labels) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32),
                                                           labels).mean()


def train_step(state: TrainState, batch: dict, *, graphdef, tx,
               compute_dtype=jnp.float32) -> tuple[TrainState, dict]:
    """One SGD step. The batch is sharded along ``data``: the mean loss, its gradient
    and the BatchNorm statistics are over the global batch (the compiler inserts the
    all-reduces). Images arrive as uint8 (the input pipeline's) and are normalised here,
    on the device; float images are taken as already normalised."""
    images = batch["image"]
    if images.dtype == jnp.uint8:
        images = transforms.normalize_on_device(images)
    images = images.astype(compute_dtype)

    def loss_fn(params, rest):
        # fresh Variables at this trace level, so BatchNorm may update its statistics
        rest = jax.tree.map(lambda x: x, rest)
        model = nnx.merge(graphdef, params, rest)
        logits, _ = model(images)
        loss = cross_entropy(logits, batch["label"])
        return loss, (logits, nnx.state(model, nnx.Not(nnx.Param)))

    (loss, (logits, rest)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params,
                                                                          state.rest)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
    new_state = TrainState(step=state.step + 1, params=params, rest=rest, opt_state=opt_state)
    # a finite loss with a non-finite gradient would still poison the parameters
    return new_state, {"loss": loss, "accuracy": accuracy, "grad_norm": optax.global_norm(grads)}

