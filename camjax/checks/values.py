"""A config's values alone: numeric ranges, the keys that depend on each other, the
choices of the enumerated keys (with "did you mean"), the network and its weights file.

Every failure is a :class:`camjax.errors.ConfigError` naming the key and its value.
"""
from __future__ import annotations

import math

from camjax.checks.model import check_model, check_pretrained
from camjax.errors import ConfigError, did_you_mean

# the names training/optim.py and training/state.py implement (defined here, where the
# config is checked, so that the checks need nothing of the training stack)
LR_SCHEDULES = ("step", "cosine", "constant")
COMPUTE_DTYPES = ("float32", "bfloat16")

# key -> (test, what the value must be); keys a config lacks are skipped
_AT_LEAST_0 = (lambda v: v >= 0, ">= 0")
_AT_LEAST_1 = (lambda v: v >= 1, ">= 1")
_POSITIVE = (lambda v: v > 0, "> 0")
RANGES = {
    "batch_size": _AT_LEAST_1, "eval_batch_size": _AT_LEAST_1, "image_size": _AT_LEAST_1,
    "num_train_steps": _AT_LEAST_1, "log_every_steps": _AT_LEAST_1,
    "checkpoint_every_steps": _AT_LEAST_1, "eval_every_steps": _AT_LEAST_0,
    "keep_checkpoints": (lambda v: v >= 1, ">= 1 (0 would delete every checkpoint)"),
    "stop_check_every_steps": _AT_LEAST_1, "eval_during_training_images": _AT_LEAST_1,
    "top_k": (lambda v: v >= 0, ">= 0 (0: 5, at most the number of classes)"),
    "max_boxes": _AT_LEAST_1, "data_workers": _AT_LEAST_0,
    "data_threads": _AT_LEAST_1, "eval_map_size": _AT_LEAST_0, "warmup_steps": _AT_LEAST_0,
    "lr_step_size": _AT_LEAST_1, "seed": _AT_LEAST_0, "max_image_pixels": _AT_LEAST_1,
    "learning_rate": _POSITIVE, "lr_gamma": _POSITIVE, "new_layer_lr_mult": _POSITIVE,
    "weight_decay": _AT_LEAST_0,
    "momentum": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "cam_threshold": (lambda v: 0 <= v <= 1, "in [0, 1] (a fraction of the map's max)"),
    "cam_curve_interval": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "faithfulness_steps": _AT_LEAST_1, "faithfulness_batch_size": _AT_LEAST_1,
}


def choices() -> dict[str, tuple[str, ...]]:
    """The allowed values of each enumerated config key (imports the library)."""
    from camjax import cam, methods, models
    from camjax.data import transforms
    from camjax.models.registry import POOLINGS
    return {"model": tuple(models.available()), "pooling": POOLINGS,
            "upsample": tuple(cam.UPSAMPLE_METHODS), "normalize": tuple(cam.NORMALIZE_MODES),
            "lr_schedule": LR_SCHEDULES, "augment": tuple(transforms.AUGMENTATIONS),
            "compute_dtype": COMPUTE_DTYPES, "cam_method": tuple(methods.METHODS),
            "eval_transform": tuple(transforms.EVAL_TRANSFORMS)}


def check_values(config) -> None:
    """The numeric ranges of RANGES, then the keys that bound each other (no import
    beyond the config)."""
    for key, (ok, must) in RANGES.items():
        if key not in config:
            continue
        value = config[key]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or not ok(value):
            raise ConfigError(f"config.{key}={value!r} must be {must}")
    warmup, steps = config.get("warmup_steps", 0), config.get("num_train_steps", 1)
    if warmup and warmup >= steps:
        raise ConfigError(f"config.warmup_steps={warmup} must be below "
                          f"config.num_train_steps={steps} (the warm-up would never end); "
                          f"lower it or set --config.warmup_steps=0")


def check_choices(config) -> None:
    for key, allowed in choices().items():
        if key in config and config[key] not in allowed:
            hint = did_you_mean(config[key], allowed) if isinstance(config[key], str) else ""
            raise ConfigError(f"config.{key}={config[key]!r} is not one of: "
                              f"{', '.join(allowed)}{hint}")


def check_config(config, *, pretrained: bool = True) -> None:
    """Every check of the config's values alone; ``pretrained``: also read and fit
    ``config.pretrained`` (off when resuming: the checkpoint holds the weights)."""
    check_values(config)
    check_choices(config)
    check_model(config)
    if pretrained and config.get("pretrained"):
        check_pretrained(config)
