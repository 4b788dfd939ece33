"""Load an ml_collections config file and apply ``--config.key=value`` overrides."""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import ml_collections


class ConfigError(ValueError):
    """A config file or override a user can fix."""


def load(path, overrides: dict | None = None) -> ml_collections.ConfigDict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    spec = importlib.util.spec_from_file_location(f"camjax_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise ConfigError(f"config file {path} failed to load: "
                          f"{type(err).__name__}: {err}") from err
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config file {path} has no get_config() function")
    config = module.get_config()
    for key, value in (overrides or {}).items():
        set_key(config, key, value, source=str(path))
    config.lock()
    return config


def _parse(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text   # a bare string such as a model name


def set_key(config, dotted: str, value, source: str = "config") -> None:
    """Set ``a.b.c`` to ``value`` (a string is parsed as a Python literal); unknown keys fail."""
    *parents, leaf = dotted.split(".")
    node = config
    for name in parents:
        if name not in node:
            raise ConfigError(f"unknown config key {dotted!r} in {source}")
        node = node[name]
    if leaf not in node:
        close = [k for k in node.keys() if k.split("_")[0] == leaf.split("_")[0]]
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown config key {dotted!r} in {source}{hint}")
    value = _parse(value) if isinstance(value, str) else value
    old = node[leaf]
    if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    both_str = isinstance(old, str) and isinstance(value, str)
    if old is not None and not isinstance(old, ml_collections.ConfigDict) \
            and type(value) is not type(old) and not both_str:
        if isinstance(old, str):
            value = str(value)
        else:
            raise ConfigError(f"config key {dotted!r} expects {type(old).__name__}, got {value!r}")
    with node.unlocked():
        node[leaf] = value
