"""The images a ``camjax localize`` command names, and their unique output names.

Each argument is an image file or a folder. A folder is walked recursively (symbolic links
followed, as torchvision's ``ImageFolder`` does), in sorted order, and keeps the files whose
extension (any case) is one of ``camjax.data.images.IMAGE_EXTENSIONS`` (torchvision's
image extensions and ``.gif``, the list class folders use too); its other files are
*skipped*: listed, not decoded, not an error (a folder of photos often holds a ``.txt`` or
``.DS_Store``). A file named on the command line is always tried, whatever its extension.

Output names are stable: an image's name is its path relative to the folder argument it
was found in (``a/b/x.jpg``, ``/`` as separator), or the file's own name for a file
argument (``x.jpg``), extension kept, so ``x.jpg`` and ``x.png`` in one folder, or
``a/x.jpg`` and ``b/x.jpg``, never share a name. Only two arguments can produce the same
name (two folders that both hold ``x.jpg``, or the files ``a/x.jpg`` and ``b/x.jpg``): the
first in command-line order keeps it, the next gets ``x.jpg-2``, then ``x.jpg-3``, and so on.
Names are compared ignoring case, so that the outputs differ on a case-insensitive disk too.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from camjax.data.images import IMAGE_EXTENSIONS
from camjax.errors import ImageError, UserError


@dataclass(frozen=True)
class ImageInput:
    """One image to localize: its ``path`` and its unique output ``name``."""
    path: Path
    name: str


@dataclass
class Inputs:
    """The images of the arguments, and the folder files skipped by extension."""
    images: list[ImageInput] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def is_image_name(path) -> bool:
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def _walk(folder: Path) -> list[Path]:
    """Every file under ``folder``, sorted by relative path (deterministic on any disk)."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs.sort()
        found.extend(Path(root) / f for f in files)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def unique_names(names: list[str]) -> list[str]:
    """``names`` in order, each later repeat (ignoring case) suffixed ``-2``, ``-3``, ..."""
    taken, out = set(), []
    for name in names:
        candidate, n = name, 1
        while candidate.casefold() in taken:
            n += 1
            candidate = f"{name}-{n}"
        taken.add(candidate.casefold())
        out.append(candidate)
    return out


def collect(arguments) -> Inputs:
    """The images named by ``arguments`` (files and folders), with unique output names.

    A path that does not exist is a :class:`UserError` (nothing is run); so is a command
    that finds no image at all. A file reached twice (a file and its folder) is kept once.
    """
    arguments = [Path(a) for a in arguments]
    missing = [str(a) for a in arguments if not a.exists()]
    if missing:
        raise UserError(f"no such file or folder: {', '.join(missing)}")
    inputs, paths, names, seen = Inputs(), [], [], set()
    for argument in arguments:
        if argument.is_dir():
            found = []
            for path in _walk(argument):
                (found if is_image_name(path) else inputs.skipped).append(path)
            pairs = [(p, p.relative_to(argument).as_posix()) for p in found]
        else:
            pairs = [(argument, argument.name)]
        for path, name in pairs:
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                paths.append(path)
                names.append(name)
    if not paths:
        raise UserError(f"no image files in {', '.join(str(a) for a in arguments)} (image "
                        f"extensions: {' '.join(IMAGE_EXTENSIONS)})")
    inputs.images = [ImageInput(p, n) for p, n in zip(paths, unique_names(names))]
    return inputs


def load(item: ImageInput, preprocessing, max_pixels: int):
    """(item, (shown image, model input, frame) or None, error message or None): one image
    decoded (refused above ``max_pixels``) and preprocessed (``preprocessing``: a
    :class:`camjax.engine.Preprocessing`), on a worker thread."""
    from camjax.data.images import decode_image
    from camjax.localize.draw import shown_image
    try:
        image = decode_image(item.path, max_pixels=max_pixels, limit_name="--max_image_pixels")
        x, frame = preprocessing(image)
        return item, (shown_image(image), x, frame), None
    except ImageError as err:
        return item, None, str(err)
    except (ValueError, OSError, MemoryError) as err:   # a decoded image the transform refuses
        return item, None, f"{item.path}: cannot preprocess ({type(err).__name__}: {err})"
