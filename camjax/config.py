"""Configs: a file (or a packaged name) merged onto the packaged defaults, then overrides.

Every key has its default in ``camjax/configs/default.py``; a config file's
``get_config()`` may return the whole config or only what it changes, and
``--config.key=value`` overrides come last. Code reads ``config.key`` directly.
"""
from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import ml_collections

from camjax.errors import ConfigError, did_you_mean

PACKAGED = Path(__file__).resolve().parent / "configs"
# keys whose value is a free-form mapping (a model's constructor arguments)
FREE_FORM = ("model_kwargs",)

__all__ = ["ConfigError", "defaults", "from_json", "load", "packaged", "set_key"]


def defaults() -> ml_collections.ConfigDict:
    from camjax.configs import default
    return default.get_config()


def packaged(name: str) -> Path:
    """The file of a packaged config (``"demo"``, ``"default"``)."""
    path = PACKAGED / f"{name}.py"
    if not path.is_file():
        names = sorted(p.stem for p in PACKAGED.glob("*.py") if not p.stem.startswith("_"))
        raise ConfigError(f"no packaged config {name!r}; packaged: {', '.join(names)}"
                          f"{did_you_mean(name, names)}")
    return path


def _resolve(path) -> Path:
    """A file path, or the name of a packaged config when no such file exists."""
    p = Path(path)
    if p.is_file():
        return p
    if p.suffix == "" and p.parent == Path(".") and (PACKAGED / f"{p.name}.py").is_file():
        return PACKAGED / f"{p.name}.py"
    hint = ""
    if p.suffix == "" and p.parent == Path("."):   # meant as a packaged name
        names = sorted(q.stem for q in PACKAGED.glob("*.py") if not q.stem.startswith("_"))
        hint = f" (nor a packaged config: {', '.join(names)}){did_you_mean(p.name, names)}"
    raise ConfigError(f"config file not found: {p}{hint}")


def _from_file(path: Path) -> ml_collections.ConfigDict:
    spec = importlib.util.spec_from_file_location(f"camjax_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise ConfigError(f"config file {path} failed to load: "
                          f"{type(err).__name__}: {_first_line(err)}") from err
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config file {path} has no get_config() function")
    try:
        config = module.get_config()
    except Exception as err:
        raise ConfigError(f"get_config() of {path} raised {type(err).__name__}: "
                          f"{_first_line(err)}") from err
    if isinstance(config, dict):
        config = ml_collections.ConfigDict(config)
    if not isinstance(config, ml_collections.ConfigDict):
        raise ConfigError(f"get_config() of {path} returned {type(config).__name__}, "
                          "not an ml_collections.ConfigDict")
    return config


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else "(no message)"


def load(path="default", overrides: dict | None = None) -> ml_collections.ConfigDict:
    """The defaults, the config file ``path`` merged onto them, then ``overrides``
    (``{"a.b": value}``; a string value is parsed as a Python literal). Locked."""
    path = _resolve(path)
    config = defaults()
    merge(config, _from_file(path), source=str(path))
    for key, value in (overrides or {}).items():
        set_key(config, key, value, source=f"--config.{key}={value}")
    config.lock()
    return config


def from_json(path, overrides: dict | None = None) -> ml_collections.ConfigDict:
    """A run's saved ``config.json`` merged onto today's defaults, then ``overrides``:
    a run saved before a key existed gets that key's default."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} not found: is {path.parent} a camjax train workdir?")
    try:
        saved = json.loads(path.read_text(encoding="utf-8-sig"))
    except ValueError as err:
        raise ConfigError(f"{path} is not valid JSON: {err}") from err
    config = defaults()
    merge(config, ml_collections.ConfigDict(saved), source=str(path), from_json=True)
    for key, value in (overrides or {}).items():
        set_key(config, key, value, source=f"--config.{key}={value}")
    config.lock()
    return config


def merge(config, update, *, source: str, prefix: str = "", from_json: bool = False) -> None:
    """Set every key of ``update`` in ``config``; a key ``config`` lacks is an error."""
    for key, value in update.items():
        dotted = prefix + key
        if key not in config:
            raise ConfigError(f"unknown config key {dotted!r} in {source}{_hint(config, key)}")
        old = config[key]
        if (dotted in FREE_FORM or isinstance(old, ml_collections.ConfigDict)) \
                and not hasattr(value, "items"):
            raise ConfigError(f"config key {dotted!r} expects a mapping, got {value!r} "
                              f"(in {source})")
        with config.unlocked():
            if dotted in FREE_FORM:
                config[key] = ml_collections.ConfigDict(dict(value))
            elif isinstance(old, ml_collections.ConfigDict):
                merge(old, value, source=source, prefix=dotted + ".", from_json=from_json)
            else:
                config[key] = _coerce(old, value, dotted, source, from_json)


def _hint(node, leaf: str) -> str:
    """"; did you mean ...?" over the keys of ``node`` (edit distance)."""
    return did_you_mean(leaf, list(node.keys()))


def _coerce(old, value, dotted: str, source: str, from_json: bool = False):
    """``value`` for a key whose default is ``old``: an int where a float is expected
    becomes a float; a list from JSON becomes a tuple; another type is an error."""
    if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if from_json and isinstance(old, tuple) and isinstance(value, list):
        return tuple(value)
    if old is None or type(value) is type(old):
        return value
    if isinstance(old, str):
        return str(value)
    raise ConfigError(f"config key {dotted!r} expects {type(old).__name__}, got {value!r} "
                      f"(in {source})")


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
            raise ConfigError(f"unknown config key {dotted!r} in {source}{_hint(node, name)}")
        node = node[name]
    free = ".".join(parents) in FREE_FORM
    if leaf not in node and not free:
        raise ConfigError(f"unknown config key {dotted!r} in {source}{_hint(node, leaf)}")
    value = _parse(value) if isinstance(value, str) else value
    if not free:
        old = node[leaf]
        if not isinstance(old, ml_collections.ConfigDict):
            value = _coerce(old, value, dotted, source)
        elif not isinstance(value, dict):
            raise ConfigError(f"config key {dotted!r} expects a mapping, got {value!r} "
                              f"(in {source})")
        else:
            value = ml_collections.ConfigDict(value)
    with node.unlocked():
        node[leaf] = value
