"""Checks of a weights file: errors that name the file, a warning for NaN/inf tensors.

``camjax.models.pretrained`` reads the file; this module says what is wrong with it.
"""
from __future__ import annotations

import warnings
from typing import Mapping

import numpy as np

from camjax.errors import ModelError


class WeightsFileError(ModelError):
    """A weights file that cannot be read: not found, corrupt, or of an unknown format."""


class TorchMissingError(WeightsFileError, ImportError):
    """A ``.pth`` file on a machine without PyTorch (also an ``ImportError``)."""


def unreadable(path, err: BaseException) -> WeightsFileError:
    """The error for a file whose reader failed with ``err``."""
    lines = str(err).strip().splitlines()
    why = f"{type(err).__name__}: {lines[0][:200]}" if lines else type(err).__name__
    return WeightsFileError(f"weights file {str(path)!r} is not a readable state dict ({why}); "
                            "is it a complete torchvision .safetensors or .pth file?")


def non_finite_tensors(state: Mapping[str, np.ndarray]) -> list[str]:
    """Names of the floating-point tensors of ``state`` holding NaN or inf."""
    bad = []
    for name, array in state.items():
        array = np.asarray(array)
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            bad.append(name)
    return bad


def warn_non_finite(state: Mapping[str, np.ndarray], source) -> list[str]:
    """Warn (``UserWarning``) naming the tensors of ``state`` that hold NaN or inf; returns
    their names. Such weights load, but every output they touch is NaN."""
    bad = non_finite_tensors(state)
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        warnings.warn(f"{source}: {len(bad)} tensor(s) hold NaN or inf values ({shown}); "
                      "the outputs they feed will be NaN: is the file corrupt?",
                      UserWarning, stacklevel=3)
    return bad
