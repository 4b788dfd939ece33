"""The 1,000 ImageNet-1k class names, in torchvision's order (its ``_IMAGENET_CATEGORIES``:
index i is the class of output i of torchvision's and timm's ImageNet classifiers).

They ship with camjax as ``camjax/data/imagenet_classes.txt``, one name a line; nothing is
downloaded. Reading them imports nothing heavy.
"""
from __future__ import annotations

import functools
from importlib import resources

NUM_IMAGENET_CLASSES = 1000
_FILE = "imagenet_classes.txt"


@functools.lru_cache(maxsize=1)
def _read_names() -> tuple[str, ...]:
    text = resources.files("camjax.data").joinpath(_FILE).read_text(encoding="utf-8")
    names = tuple(line for line in text.splitlines() if line.strip())
    if len(names) != NUM_IMAGENET_CLASSES:  # a damaged install, not a user error
        raise RuntimeError(f"camjax/data/{_FILE} holds {len(names)} names, expected "
                           f"{NUM_IMAGENET_CLASSES}: reinstall camjax")
    return names


def imagenet_classes() -> list[str]:
    """The 1,000 class names, ``imagenet_classes()[i]`` for class index i (a new list)."""
    return list(_read_names())
