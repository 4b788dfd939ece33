"""A config's values alone: numeric ranges, the keys that depend on each other, the
choices of the enumerated keys (with "did you mean"), the network and its weights file.

Every failure is a :class:`camjax.errors.ConfigError` naming the key and its value.
"""
from __future__ import annotations

import math

from camjax.checks import wsol
from camjax.checks.model import check_model, check_pretrained
from camjax.errors import ConfigError, did_you_mean

# the names training/optim.py and training/state.py implement (defined here, where the
# config is checked, so that the checks need nothing of the training stack)
LR_SCHEDULES = ("step", "cosine", "constant")
COMPUTE_DTYPES = ("float32", "bfloat16")
# the scorers training/scoring.py builds (config.metrics)
METRICS = ("wsol", "faithfulness", "road", "pointing", "complexity", "sanity")

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
    "road_noise": _AT_LEAST_0, "road_batch_size": _AT_LEAST_1,
    "pointing_tolerance": _AT_LEAST_0, "sanity_images": _AT_LEAST_1,
    "sanity_threshold": (lambda v: -1 <= v <= 1, "in [-1, 1] (a rank correlation)"),
}
LISTS = ("cam_method", "metrics")       # comma-separated choices


def choices() -> dict[str, tuple[str, ...]]:
    """The allowed values of each enumerated config key (imports the library)."""
    from camjax import cam, methods, models
    from camjax.data import transforms
    from camjax.models.registry import POOLINGS
    return {"model": tuple(models.available()), "pooling": POOLINGS,
            "wsol_method": wsol.METHODS,
            "upsample": tuple(cam.UPSAMPLE_METHODS), "normalize": tuple(cam.NORMALIZE_MODES),
            "lr_schedule": LR_SCHEDULES, "augment": tuple(transforms.AUGMENTATIONS),
            "compute_dtype": COMPUTE_DTYPES, "cam_method": tuple(methods.METHODS),
            "eval_transform": tuple(transforms.EVAL_TRANSFORMS), "metrics": METRICS}


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
    """Each enumerated key's value is one of its choices (each item of a comma list, for
    :data:`LISTS`), with "did you mean"; ``road_percentiles`` a tuple of percentiles."""
    for key, allowed in choices().items():
        if key not in config:
            continue
        value = config[key]
        given = [v.strip() for v in str(value).split(",")] if key in LISTS else [value]
        bad = [v for v in given if v not in allowed]
        if bad:
            which = f" ({bad[0]!r})" if key in LISTS and len(given) > 1 else ""
            hint = did_you_mean(bad[0], allowed) if isinstance(bad[0], str) else ""
            raise ConfigError(f"config.{key}={value!r}{which} is not one of: "
                              f"{', '.join(allowed)}{hint}")
    if "road_percentiles" in config:
        q = config.road_percentiles
        if not (isinstance(q, tuple) and q and all(
                isinstance(v, (int, float)) and 0 <= v <= 100 for v in q)):
            raise ConfigError(f"config.road_percentiles={q!r} must be a tuple of numbers in "
                              "[0, 100]")


def check_config(config, *, pretrained: bool = True) -> None:
    """Every check of the config's values alone; ``pretrained``: also read and fit
    ``config.pretrained`` (off when resuming: the checkpoint holds the weights)."""
    check_values(config)
    check_choices(config)
    wsol.check(config)
    check_model(config)
    if pretrained and config.get("pretrained"):
        check_pretrained(config)
