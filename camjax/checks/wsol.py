"""The checks of ``config.wsol_method`` and its options, before any work: an unknown
method, an option out of range, a network that cannot host the method, a method that
needs a ``val_split``. Each failure is one :class:`camjax.errors.ConfigError` line.

The method names and the network arguments a method adds live here, where the config is
checked, so the checks need nothing of the training stack (``camjax.training.wsol``
implements the methods and imports both)."""
from __future__ import annotations

import math
import numbers

from camjax.errors import ConfigError

METHODS = ("cam", "has", "acol", "spg", "adl", "cutmix", "fewshot")
HOSTS = ("tiny_gap", "vgg16_gap", "resnet50_gap", "inception_v3_gap")
_UNIT = (lambda v: 0 <= v <= 1, "in [0, 1]")
RANGES = {
    "has_grid_size": (lambda v: v >= 0 and float(v).is_integer(), "an integer >= 0 (pixels)"),
    "has_drop_rate": _UNIT, "acol_threshold": _UNIT, "adl_drop_rate": _UNIT,
    "adl_threshold": _UNIT, "cutmix_prob": _UNIT,
    "cutmix_beta": (lambda v: v >= 0, ">= 0"),
    "fewshot_cls_weight": (lambda v: v >= 0, ">= 0"),
}
_NEEDS = {"adl": "its ADL layers", "acol": "ACoL's two classifier branches",
          "spg": "SPG's branches on its intermediate layers",
          "fewshot": "a foreground head"}


def _number(value) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def check_options(config) -> None:
    for key, (ok, must) in RANGES.items():
        value = config.get(key)
        if key in config and (not _number(value) or not ok(value)):
            raise ConfigError(f"config.{key}={value!r} must be {must}")
    pairs = config.get("spg_thresholds")
    shape_ok = (isinstance(pairs, (tuple, list)) and len(pairs) == 3
                and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs))
    if not shape_ok or not all(_number(v) and 0 <= v <= 1 for p in pairs for v in p):
        raise ConfigError(f"config.spg_thresholds={pairs!r} must be three (high, low) pairs "
                          "in [0, 1]: ((h1, l1), (h2, l2), (h3, l3)) for B2, B1 and C")


def check_host(config) -> None:
    """The network can host the method; ACoL averages its maps (GAP only); the few-shot
    baseline trains on ``val_split``."""
    from camjax.models.registry import factory
    from camjax.models.wsol import NETWORK_METHODS
    method = config.wsol_method
    if method == "fewshot" and not config.get("val_split"):
        raise ConfigError("config.wsol_method='fewshot' trains on the val split's boxes or "
                          "masks (train-fullsup): set config.val_split")
    if method not in NETWORK_METHODS:
        return
    hosts = getattr(factory(config.model), "WSOL_METHODS", ())
    if method not in hosts:
        raise ConfigError(f"config.wsol_method={method!r} needs {_NEEDS[method]}, which "
                          f"{config.model} does not have: use one of {', '.join(HOSTS)}")
    if method == "acol" and config.pooling != "gap":
        raise ConfigError(f"config.wsol_method='acol' averages its class maps "
                          f"(wsolevaluation): config.pooling must be 'gap', not "
                          f"{config.pooling!r}")


def model_kwargs(config) -> dict:
    """The network arguments of ``config.wsol_method`` (none for methods that do not
    change the network, so those run on any network)."""
    from camjax.models.wsol import NETWORK_METHODS
    name = config.wsol_method
    if name not in NETWORK_METHODS:
        return {}
    extra = {"acol": {"acol_threshold": config.acol_threshold},
             "adl": {"adl_drop_rate": config.adl_drop_rate,
                     "adl_threshold": config.adl_threshold}}.get(name, {})
    return {"wsol_method": name, **extra}


def check(config) -> None:
    """Every check of the method and its options (the method itself is one of
    :data:`METHODS`: ``values.check_choices``)."""
    if "wsol_method" not in config:
        return
    check_options(config)
    check_host(config)
