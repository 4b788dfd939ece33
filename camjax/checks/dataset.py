"""The dataset of a config, before any work: a TFDS name looked up (registered, or
prepared in the data folder) with its builder config, version and splits; the boxes file
``config.eval_annotations`` read. ``wsol:`` and ``folder:`` datasets are checked when they
are opened (``camjax.data.wsol``, ``camjax.data.folders``).
"""
from __future__ import annotations

import logging

from camjax.errors import ConfigError, UserError, did_you_mean


class _Quiet:
    """absl (TFDS) warnings off while a dataset is looked up."""

    def __enter__(self):
        self.logger = logging.getLogger("absl")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)


def dataset_builder(name: str, directory: str, what: str = "config.dataset"):
    """The TFDS builder of ``name`` (registered, or prepared in ``directory``); ``what``
    names the input in the error (``--dataset`` for ``camjax prepare``)."""
    import tensorflow_datasets as tfds

    from camjax.data.builders import shapes  # noqa: F401  (registers camjax_shapes)
    with _Quiet():
        try:
            return tfds.builder(name, data_dir=directory)
        except tfds.core.registered.DatasetNotFoundError as err:
            # the error lists the registered names ("\t- mnist"); tfds.list_builders()
            # would import TensorFlow and ask GCS
            known = [line.strip()[2:] for line in str(err).splitlines()
                     if line.strip().startswith("- ")]
            hint = did_you_mean(name.split("/")[0].split(":")[0], known)
            raise ConfigError(f"{what}={name!r} is not a TFDS dataset (nor prepared in "
                              f"{directory}){hint}") from err
        except Exception as err:   # a bad builder config or version
            raise ConfigError(f"{what}={name!r}: {_builder_problem(name, err)}") from err


def _builder_problem(name: str, err: BaseException) -> str:
    """TFDS's "Failed to construct dataset ..." in a few words."""
    import tensorflow_datasets as tfds
    base, _, variant = name.partition("/")
    if "BuilderConfig" in str(err) and variant:
        try:
            configs = [c.name for c in tfds.builder_cls(base.split(":")[0]).BUILDER_CONFIGS]
            return (f"{base} has no config {variant.split(':')[0]!r}; it has: "
                    f"{', '.join(configs)}{did_you_mean(variant.split(':')[0], configs)}")
        except Exception:   # noqa: BLE001  (fall back to TFDS's words)
            pass
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text.split('": ', 1)[-1][:240]   # drop "Failed to construct dataset X, kwargs"


def check_dataset(config, workdir) -> None:
    """``config.dataset`` is a TFDS dataset camjax can build, and when it is prepared its
    splits include the configured ones. ``wsol:`` / ``folder:`` datasets are checked
    when they are opened."""
    name = config.dataset
    if name.startswith(("wsol:", "folder:")):
        return
    from camjax.data import pipeline
    builder = dataset_builder(name, pipeline.data_dir(config, workdir))
    if not builder.is_prepared():
        return
    splits = list(builder.info.splits)
    if not splits:   # no split information to check against
        return
    for key in ("train_split", "eval_split", "val_split"):
        split = config.get(key) or ""
        base = split.split("[")[0]
        if base and "+" not in split and base not in splits:
            raise ConfigError(f"config.{key}={split!r}: dataset {name!r} has the splits "
                              f"{', '.join(splits)}{did_you_mean(base, splits)}")


_READ: set = set()   # (eval_annotations, synsets) that read without an error


def check_annotations(config) -> None:
    """``config.eval_annotations`` reads (now, not at the final evaluation); a file read
    once in this process is not read again."""
    path = config.get("eval_annotations")
    key = (path, config.get("synsets"))
    if not path or key in _READ:
        return
    from camjax.data import pipeline
    try:
        pipeline.box_lookup(config)
    except (UserError, FileNotFoundError):
        raise
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(f"config.eval_annotations={path!r} cannot be read "
                          f"({type(err).__name__}: {err})") from err
    _READ.add(key)
