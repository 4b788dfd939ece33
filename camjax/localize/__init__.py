"""``camjax localize``: CAM overlays, top-k boxes and predictions for a user's own images.

``localize(images, out_dir, model=..., weights=...)`` (a torchvision classifier with its
weights file) or ``localize(images, out_dir, workdir=...)`` (a camjax training run) ->
:class:`LocalizeResult`. Modules: ``inputs`` (files and folders, unique output names),
``frames`` (preprocessing and the way back to original pixels), ``predictor`` (the model
and the one jitted call per batch), ``classes`` (``--class``: the chosen classes),
``draw`` (the overlay picture), ``output`` (the predictions tables), ``maps``
(``--save_maps``: .npy files and maps.npz), ``job`` (the run). See docs/localization.md.
"""
from camjax.localize.job import DEFAULT_BATCH_SIZE, LocalizeResult, localize

__all__ = ["DEFAULT_BATCH_SIZE", "LocalizeResult", "localize"]
