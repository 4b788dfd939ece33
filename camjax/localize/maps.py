"""``--save_maps``: each image's maps on its own pixels, one ``.npy`` per image and all of
them in one ``.npz``.

* ``maps/<name>.npy``: float32, ``(H, W)`` when one class is mapped (``--class N``,
  ``--top_k 1``), else ``(k, H, W)`` in the tables' rank order; H x W the image as
  decoded (EXIF orientation applied), the maps the overlay draws: bilinear from the
  model input's resolution onto the part of the image the model saw, 0 outside it (the
  strips a centre crop cut off), in [0, 1] as the config's ``normalize`` leaves them.
  ``<name>`` is the image's unique output name (``a/x.jpg`` -> ``maps/a/x.jpg.npy``), as
  wsolevaluation names its score maps (``np.save(root / image_id, map)``), so ``camjax
  score --scoremaps OUT/maps`` reads a one-class run of a wsolevaluation image folder;
* ``maps.npz``: the same arrays keyed by ``<name>`` (``np.load(path)["a/x.jpg"]``), built
  from the ``.npy`` files when the run ends (finished, failed images or interrupted:
  the images done), so it never holds more than one image's maps in memory.

Each file is written through a temporary file and a rename: a file is whole or absent.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from camjax.errors import UserError


def map_path(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / "maps" / f"{name}.npy"


def on_photo(frame, maps) -> np.ndarray:
    """(k, S, S) maps on the model input -> float32 (k, H, W) on the photo, or (H, W) for
    k = 1 (``frame``: :class:`camjax.engine.Frame`)."""
    out = np.stack([frame.map_onto(m, frame.height, frame.width) for m in np.asarray(maps)])
    return out[0] if len(out) == 1 else out


def save(out_dir: Path, name: str, frame, maps) -> None:
    """``maps/<name>.npy`` of one image (:func:`on_photo` of its (k, S, S) ``maps``)."""
    path = map_path(out_dir, name)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.save(f, on_photo(frame, maps))
        os.replace(tmp, path)
    except OSError as err:
        raise UserError(f"cannot write {path}: {err.strerror or err}") from None


def write_npz(out_dir: Path, names: list[str]) -> Path:
    """``maps.npz``: the ``.npy`` files of ``names`` (written by :func:`save`) as the
    members ``<name>.npy`` of one uncompressed zip, the layout ``np.savez`` writes."""
    path = Path(out_dir) / "maps.npz"
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name in names:
                archive.write(map_path(out_dir, name), arcname=f"{name}.npy")
        os.replace(tmp, path)
    except OSError as err:
        raise UserError(f"cannot write {path}: {err.strerror or err}") from None
    return path
