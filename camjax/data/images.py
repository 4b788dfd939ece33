"""Image files to arrays: the one decode of training, evaluation and ``camjax localize``.

:func:`decode_image` reads a file with Pillow the way a photo library shows it:

* the first frame of an animation (GIF, APNG, WebP);
* EXIF orientation applied (``ImageOps.exif_transpose``) unless the caller asks for the
  stored frame: datasets whose ground truth was drawn on the stored pixels (the
  wsolevaluation layout, ILSVRC XML boxes) read that frame, as wsolevaluation and TFDS do;
* grey, grey + alpha, palette, RGBA, CMYK, YCbCr, 1-bit -> RGB (alpha is dropped, as
  torchvision's ``ImageFolder`` and wsolevaluation do with ``convert("RGB")``);
* 16-bit images scaled by the 16-bit range (``x * 255 / 65535``, rounded) instead of
  Pillow's clipping at 255 (saturated); float images (``F`` TIFFs) whose finite values lie
  in [0, 1] scaled by 255, others stretched from their min..max (instead of black);
* images above ``max_pixels`` (default: Pillow's decompression-bomb limit) refused before
  their pixels are decoded.

A missing file, a file that is not an image, a truncated or corrupt one raise
:class:`camjax.errors.ImageError` naming the file.
"""
from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from camjax.errors import ImageError

# torchvision.datasets.folder.IMG_EXTENSIONS, compared in lower case as torchvision does
TORCHVISION_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff",
                          ".webp")
# the files camjax reads as images wherever it lists a folder (class folders, camjax
# localize): torchvision's list plus GIF (its first frame), which Pillow reads too
IMAGE_EXTENSIONS = TORCHVISION_EXTENSIONS + (".gif",)
MAX_PIXELS = 89_478_485   # Pillow's Image.MAX_IMAGE_PIXELS: 1024 ** 3 // 4 // 3
LIMIT_NAME = "--config.max_image_pixels"   # how a user raises max_pixels (errors say it)
# warnings.catch_warnings swaps a process-wide filter list: threads that open images at
# once (grain readers, localize's decoders) would restore each other's filters and let
# Pillow's DecompressionBombWarning through beside camjax's own message
_OPEN_LOCK = threading.Lock()
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


def _open(path: Path, max_pixels: int, limit_name: str = LIMIT_NAME) -> Image.Image:
    """Image.open with camjax's own pixel limit in charge (Pillow's is lifted to it)."""
    if Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels   # Pillow refuses at twice its limit
    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except FileNotFoundError:
        raise ImageError(path, "no such file (check the image folder: config.image_root, "
                               "or the path given)") from None
    except IsADirectoryError:
        raise ImageError(path, "is a folder, not an image file") from None
    except Image.DecompressionBombError:
        with _header_only(path) as header:
            _check_pixels(path, header, max_pixels, limit_name)
        raise
    except UnidentifiedImageError:
        raise ImageError(path, "not an image Pillow can read (wrong extension, or not an "
                               "image file)") from None
    except OSError as err:
        raise ImageError(path, f"cannot read: {err.strerror or err}") from None


def _header_only(path: Path) -> Image.Image:
    """The image's header, read past Pillow's limit (to name the size it refused)."""
    with _OPEN_LOCK:
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def _check_pixels(path, image: Image.Image, max_pixels: int,
                  limit_name: str = LIMIT_NAME) -> None:
    w, h = image.size
    if w * h > max_pixels:
        raise ImageError(path, f"{w}x{h} = {w * h:,} pixels, more than the limit of "
                               f"{max_pixels:,}; if you trust the file, raise the limit "
                               f"({limit_name})")
    if w < 1 or h < 1:
        raise ImageError(path, f"empty image ({w}x{h})")


def _scaled_u8(values: np.ndarray, full_range: float | None) -> np.ndarray:
    """Greys to uint8: divided by ``full_range`` (then x 255), or stretched from
    min..max over the finite values when ``full_range`` is None; NaN -> 0."""
    v = np.asarray(values, np.float64)
    finite = np.isfinite(v)
    if full_range is None:
        lo, hi = (v[finite].min(), v[finite].max()) if finite.any() else (0.0, 1.0)
        v = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    else:
        v = v / full_range
    v = np.where(finite, v, 0.0)
    return np.clip(np.rint(v * 255.0), 0, 255).astype(np.uint8)


def _grey_range(image: Image.Image, values: np.ndarray) -> float | None:
    if image.mode in _SIXTEEN_BIT:
        return 65535.0
    finite = values[np.isfinite(values)]
    if image.mode == "F":
        inside = finite.size and finite.min() >= 0.0 and finite.max() <= 1.0
        return 1.0 if inside else None
    # mode "I" (32-bit integers): 16-bit data (older Pillow's 16-bit PNGs) or other
    inside = finite.size and finite.min() >= 0 and finite.max() <= 65535
    return 65535.0 if inside else None


def to_rgb(image: Image.Image) -> np.ndarray:
    """A Pillow image (any mode) -> uint8 (H, W, 3), high bit depths scaled as above."""
    if image.mode in (*_SIXTEEN_BIT, "I", "F"):
        values = np.asarray(image).astype(np.float64)
        grey = _scaled_u8(values, _grey_range(image, values))
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=-1))
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, np.uint8).copy()


def to_grey(image: Image.Image) -> np.ndarray:
    """A Pillow image -> uint8 (H, W) (masks): 16-bit and float scaled as in :func:`to_rgb`."""
    if image.mode in (*_SIXTEEN_BIT, "I", "F"):
        values = np.asarray(image).astype(np.float64)
        return _scaled_u8(values, _grey_range(image, values))
    if image.mode != "L":
        image = image.convert("L")
    return np.asarray(image, np.uint8).copy()


def _decode(path, convert, *, max_pixels: int, exif_orientation: bool,
            limit_name: str = LIMIT_NAME, draft_size: int = 0) -> np.ndarray:
    path = Path(path)
    image = _open(path, max_pixels, limit_name)
    with image:
        _check_pixels(path, image, max_pixels, limit_name)
        try:
            if draft_size and image.format == "JPEG":   # decode at 1/2..1/8 scale in the DCT
                image.draft(image.mode, (draft_size, draft_size))
            image.seek(0)                      # the first frame of an animation
            if exif_orientation:
                image = ImageOps.exif_transpose(image)
            return convert(image)
        except Exception as err:   # Pillow raises many types on bad bytes
            raise ImageError(path, f"does not decode ({type(err).__name__}: {err}); the "
                                   "file is truncated or corrupt: replace it") from None


def decode_image(path, *, max_pixels: int = MAX_PIXELS, exif_orientation: bool = True,
                 limit_name: str = LIMIT_NAME, draft_size: int = 0) -> np.ndarray:
    """The image file at ``path`` as uint8 (H, W, 3) RGB (see the module docstring).
    ``limit_name``: how the caller's user raises ``max_pixels``, for the error.

    ``draft_size`` > 0: a JPEG is decoded at the smallest of 1/1, 1/2, 1/4, 1/8 scale
    whose sides are both at least ``draft_size`` (Pillow's ``draft``; libjpeg scales in
    the DCT, several times faster), for a caller that resizes it smaller anyway."""
    return _decode(path, to_rgb, max_pixels=max_pixels, exif_orientation=exif_orientation,
                   limit_name=limit_name, draft_size=draft_size)


def decode_mask(path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A mask file as uint8 (H, W) grey values (the stored frame), like OpenCV's
    ``imread(path, IMREAD_GRAYSCALE)`` that wsolevaluation reads masks with."""
    return _decode(path, to_grey, max_pixels=max_pixels, exif_orientation=False)
