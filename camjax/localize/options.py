"""``camjax localize``'s options checked before any work (the map options it passes to
the engine: ``camjax.methods.smoothing.config_options``)."""
from __future__ import annotations

from camjax import methods
from camjax.errors import UserError, did_you_mean


def check_options(method, top_k, threshold, batch_size, eigen_smooth=None) -> None:
    if method not in methods.METHODS:
        raise UserError(f"--method {method!r}: unknown map method; available: "
                        f"{', '.join(methods.METHODS)}{did_you_mean(method, methods.METHODS)}")
    if eigen_smooth and not methods.registry.get(method).eigen_smooth:
        takers = ", ".join(n for n in methods.METHODS if methods.registry.get(n).eigen_smooth)
        raise UserError(f"--eigen_smooth: the method {method!r} has no weighted channels to "
                        f"project (these do: {takers})")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise UserError(f"--top_k must be a positive integer, got {top_k!r}")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise UserError(f"--threshold must lie in [0, 1] (a fraction of each map's max), "
                        f"got {threshold!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise UserError(f"--batch_size must be a positive integer, got {batch_size!r}")
