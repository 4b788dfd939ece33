"""The optimiser: SGD with momentum, weight decay, step/cosine schedule, a higher
learning rate on the layers that fine-tuning adds (optax ``multi_transform``)."""
from __future__ import annotations

import jax
import optax

from camjax.checks.values import LR_SCHEDULES   # the names implemented here
from camjax.errors import ConfigError

# Top-level modules a camjax network adds on top of an ImageNet backbone (the WSOL
# methods' too: ACoL's branches, SPG's layers, the few-shot heads).
NEW_LAYER_PREFIXES = ("cam_conv", "head", "extra", "classifier_A", "classifier_B", "SPG_",
                      "fewshot_")


def learning_rate_schedule(config) -> optax.Schedule:
    base = config.learning_rate
    kind = config.lr_schedule
    warmup = config.warmup_steps
    if kind == "step":   # the released Caffe solver: lr x gamma every step_size iterations
        sched = optax.exponential_decay(base, config.lr_step_size, config.lr_gamma,
                                        staircase=True)
    elif kind == "cosine":
        sched = optax.cosine_decay_schedule(base, max(1, config.num_train_steps - warmup))
    elif kind == "constant":
        sched = optax.constant_schedule(base)
    else:
        raise ConfigError(f"config.lr_schedule must be one of {', '.join(LR_SCHEDULES)}, "
                          f"got {kind!r}")
    if warmup:
        sched = optax.join_schedules([optax.linear_schedule(0.0, base, warmup), sched], [warmup])
    return sched


def _sgd(schedule, config) -> optax.GradientTransformation:
    return optax.chain(
        optax.add_decayed_weights(config.weight_decay),
        optax.sgd(schedule, momentum=config.momentum),
    )


def param_labels(params) -> object:
    """'new' for parameters of layers added on top of a backbone, else 'backbone'."""
    def label(path, _):
        top = str(getattr(path[0], "key", path[0]))
        return "new" if top.startswith(NEW_LAYER_PREFIXES) else "backbone"
    return jax.tree_util.tree_map_with_path(label, params)


def make_optimizer(config, params) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """The transformation and the backbone's schedule (the one logged as learning_rate)."""
    schedule = learning_rate_schedule(config)
    mult = config.new_layer_lr_mult
    if mult == 1.0:
        return _sgd(schedule, config), schedule
    new_schedule = lambda step: mult * schedule(step)  # noqa: E731
    tx = optax.multi_transform({"backbone": _sgd(schedule, config),
                                "new": _sgd(new_schedule, config)}, param_labels(params))
    return tx, schedule
