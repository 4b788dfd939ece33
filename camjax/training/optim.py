"""The optimiser: SGD with momentum and weight decay (the released CAM solver) or AdamW
(``config.optimizer``: torch's ``AdamW`` with timm's weight-decay groups, the vision
transformers' recipe); a step (every ``lr_step_size`` steps or at ``lr_boundaries``),
cosine or constant schedule with optional warmup; a higher learning rate on the layers
that fine-tuning adds (optax ``multi_transform``)."""
from __future__ import annotations

import jax
import optax

from camjax.checks.values import LR_SCHEDULES, OPTIMIZERS   # the names implemented here
from camjax.errors import ConfigError

# Top-level modules a camjax network adds on top of an ImageNet backbone (the WSOL
# methods' too: ACoL's branches, SPG's layers, the few-shot heads).
NEW_LAYER_PREFIXES = ("cam_conv", "head", "extra", "classifier_A", "classifier_B", "SPG_",
                      "fewshot_")
# parameters timm's create_optimizer leaves undecayed besides vectors (biases, norms):
# the ViTs' ``no_weight_decay()`` (timm's and torchvision's names)
NO_DECAY_LEAVES = ("pos_embed", "cls_token", "pos_embedding", "class_token")


def learning_rate_schedule(config) -> optax.Schedule:
    base = config.learning_rate
    kind = config.lr_schedule
    warmup = config.warmup_steps
    boundaries = tuple(config.get("lr_boundaries") or ())
    if kind == "step" and boundaries:
        # x gamma from the update numbered b on (0-based, as lr_step_size counts);
        # boundaries count from the start, warmup included
        sched = optax.piecewise_constant_schedule(
            base, {int(b) - warmup: config.lr_gamma for b in boundaries})
    elif kind == "step":   # the released Caffe solver: lr x gamma every step_size iterations
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


def decayed(params) -> object:
    """timm's weight-decay groups (``add_weight_decay``): True for the parameters AdamW
    decays, False for vectors (biases, norm scales) and the position / class tokens."""
    def decay(path, leaf):
        name = str(getattr(path[-1], "key", path[-1]))
        return getattr(leaf, "ndim", 0) > 1 and name not in NO_DECAY_LEAVES
    return jax.tree_util.tree_map_with_path(decay, params)


def _base(schedule, config) -> optax.GradientTransformation:
    """``config.optimizer`` at ``schedule``."""
    kind = config.get("optimizer", "sgd")
    if kind == "adamw":   # torch.optim.AdamW's defaults, as timm's create_optimizer calls it
        return optax.adamw(schedule, b1=0.9, b2=0.999, eps=1e-8,
                           weight_decay=config.weight_decay, mask=decayed)
    if kind != "sgd":
        raise ConfigError(f"config.optimizer must be one of {', '.join(OPTIMIZERS)}, "
                          f"got {kind!r}")
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
        return _base(schedule, config), schedule
    new_schedule = lambda step: mult * schedule(step)  # noqa: E731
    tx = optax.multi_transform({"backbone": _base(schedule, config),
                                "new": _base(new_schedule, config)}, param_labels(params))
    return tx, schedule
