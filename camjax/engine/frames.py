"""From an original image to the model's input, and from the maps back to original pixels.

Two preprocessings, as the model was trained and evaluated:

* ``imagenet`` (torchvision's classifiers; a workdir whose config asks for it): the short
  side resized to ``resize`` (256), the centre ``size`` x ``size`` (224) cropped, then
  ``(x / 255 - mean) / std``, ``camjax.data.transforms.imagenet_eval``; ``mean`` and ``std``
  are ImageNet's unless the network's weights declare their own
  (``model.imagenet_normalization``: ``efficientnet_v2_l``'s 0.5 and 0.5);
* ``resize`` (camjax training workdirs): the whole image resized to ``size`` x ``size``,
  ``camjax.data.transforms.resize_eval`` (ImageNet's mean and std, as camjax trains).

Maps come out at the input's resolution (``size`` x ``size``). Input pixel (y, x) is
pixel (top + y, left + x) of the resized image, which covers the original pixels
[(top + y) h / H, (top + y + 1) h / H) x [(left + x) w / W, (left + x + 1) w / W) (h x w
the original, H x W the resized size). An inclusive box goes back to the original
pixels it covers: ``x0 -> floor((left + x0) w / W)``, ``x1 -> ceil((left + x1 + 1) w / W) - 1``
(exact integer arithmetic), likewise in y. For the centre crop, the strips the crop cut off
were never seen by the model: the map is 0 there and no box reaches into them
(:meth:`Frame.region` is the part of the original image the model saw).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from camjax.data import transforms

KINDS = ("imagenet", "resize")


@dataclass(frozen=True)
class Frame:
    """Where an image's model input lies in its original pixels."""
    height: int           # the original image
    width: int
    resized_h: int        # the resized image the input was cut from
    resized_w: int
    top: int              # the input's offset in the resized image
    left: int
    size: int             # the input's side (and the maps')

    def boxes_to_original(self, boxes) -> np.ndarray:
        """Inclusive (..., 4) boxes (x0, y0, x1, y1) on the input -> original pixels."""
        b = np.asarray(boxes, np.int64)
        x0, y0, x1, y1 = (b[..., i] for i in range(4))
        sx, sy = (self.width, self.resized_w), (self.height, self.resized_h)
        out = np.stack([_down(x0 + self.left, *sx), _down(y0 + self.top, *sy),
                        _up(x1 + self.left + 1, *sx) - 1, _up(y1 + self.top + 1, *sy) - 1],
                       axis=-1)
        limits = np.array([self.width, self.height, self.width, self.height]) - 1
        return np.clip(out, 0, limits)

    def region(self) -> np.ndarray:
        """The inclusive box of original pixels the model saw (the whole image for
        ``resize``; the centre crop's part of it for ``imagenet``)."""
        return self.boxes_to_original([0, 0, self.size - 1, self.size - 1])

    def region_on(self, out_h: int, out_w: int) -> tuple[slice, slice]:
        """:meth:`region` on the original frame shown at ``out_h`` x ``out_w`` pixels, as
        (rows, columns) slices (at least one pixel each)."""
        return (_span(self.region()[1::2], out_h / self.height, out_h),
                _span(self.region()[0::2], out_w / self.width, out_w))

    def map_onto(self, heat: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
        """A (size, size) map drawn onto the original frame shown at ``out_h`` x ``out_w``
        pixels (bilinear), 0 outside :meth:`region`."""
        rows, cols = self.region_on(out_h, out_w)
        out = np.zeros((out_h, out_w), np.float32)
        out[rows, cols] = cv2.resize(np.asarray(heat, np.float32),
                                     (cols.stop - cols.start, rows.stop - rows.start),
                                     interpolation=cv2.INTER_LINEAR)
        return out


def _span(bounds, scale: float, limit: int) -> slice:
    """Inclusive pixel bounds (lo, hi) scaled by ``scale`` -> a slice within [0, limit)."""
    lo = min(int(np.floor(bounds[0] * scale)), limit - 1)
    return slice(lo, max(min(int(np.ceil((bounds[1] + 1) * scale)), limit), lo + 1))


def _down(num, scale_num, scale_den):
    return (num * scale_num) // scale_den


def _up(num, scale_num, scale_den):
    return -((-num * scale_num) // scale_den)


IMAGENET_MEAN = tuple(float(v) for v in transforms.IMAGENET_MEAN)
IMAGENET_STD = tuple(float(v) for v in transforms.IMAGENET_STD)


def _channels(values, name: str) -> tuple[float, float, float]:
    values = tuple(float(v) for v in np.ravel(np.asarray(values, np.float64)))
    if len(values) != 3 or not all(np.isfinite(values)):
        raise ValueError(f"preprocessing {name} must be 3 finite numbers (R, G, B), got "
                         f"{values!r}")
    return values


@dataclass(frozen=True)
class Preprocessing:
    """How original images become model inputs: ``kind`` in :data:`KINDS`, the input
    side ``size``, and (``imagenet``) the short side ``resize`` before the crop, its
    ``interpolation`` and the per-channel ``mean`` and ``std`` after ``/ 255``."""
    kind: str
    size: int
    resize: int = 0
    interpolation: str = "bilinear"     # imagenet: the short-side resize's (or "bicubic")
    mean: tuple = IMAGENET_MEAN         # imagenet: the weights' normalisation
    std: tuple = IMAGENET_STD

    @classmethod
    def imagenet(cls, model=None) -> "Preprocessing":
        """torchvision's evaluation transform of ``model``'s usual weights
        (``model.imagenet_eval = (resize, crop, interpolation)``; 256, 224, bilinear when
        the network does not say), normalised with ``model.imagenet_normalization = (mean,
        std)`` where the network declares one (its weights were trained so:
        ``efficientnet_v2_l``), else ImageNet's mean and std."""
        resize, size, interpolation = getattr(model, "imagenet_eval", None) or (
            transforms.IMAGENET_RESIZE, transforms.IMAGENET_CROP, "bilinear")
        mean, std = getattr(model, "imagenet_normalization", None) or (IMAGENET_MEAN,
                                                                       IMAGENET_STD)
        return cls("imagenet", size, resize, interpolation, mean, std)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"preprocessing must be one of {KINDS}, got {self.kind!r}")
        object.__setattr__(self, "mean", _channels(self.mean, "mean"))
        object.__setattr__(self, "std", _channels(self.std, "std"))
        if min(self.std) <= 0:
            raise ValueError(f"preprocessing std must be positive, got {self.std!r}")
        if self.kind == "resize" and (self.mean, self.std) != (IMAGENET_MEAN, IMAGENET_STD):
            raise ValueError("resize preprocessing normalises with ImageNet's mean and std, "
                             "as camjax trains; other values need kind='imagenet'")
        if self.interpolation not in transforms.INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {transforms.INTERPOLATIONS}, "
                             f"got {self.interpolation!r}")
        if self.kind == "imagenet" and self.resize < self.size:
            raise ValueError(f"imagenet preprocessing needs resize >= size, got "
                             f"{self.resize} < {self.size}")

    def frame(self, height: int, width: int) -> Frame:
        if self.kind == "resize":
            return Frame(height, width, self.size, self.size, 0, 0, self.size)
        rh, rw, top, left = transforms.imagenet_eval_geometry(
            height, width, resize_size=self.resize, crop_size=self.size)
        return Frame(height, width, rh, rw, top, left, self.size)

    def __call__(self, image_u8: np.ndarray) -> tuple[np.ndarray, Frame]:
        """uint8 (H, W, 3) -> (float32 (size, size, 3) model input, its :class:`Frame`)."""
        h, w = image_u8.shape[:2]
        if self.kind == "resize":
            x = transforms.resize_eval(image_u8, self.size)
        else:
            x = transforms.imagenet_eval(image_u8, resize_size=self.resize,
                                         crop_size=self.size, interpolation=self.interpolation,
                                         mean=self.mean, std=self.std)
        return x, self.frame(h, w)

    def describe(self) -> str:
        if self.kind == "resize":
            return f"resize to {self.size}x{self.size}"
        own = (self.mean, self.std) != (IMAGENET_MEAN, IMAGENET_STD)
        return (f"torchvision ImageNet eval: short side resized to {self.resize}"
                f"{'' if self.interpolation == 'bilinear' else ' (' + self.interpolation + ')'}"
                f", centre crop {self.size}x{self.size}, normalised with "
                + (f"mean {_short(self.mean)} and std {_short(self.std)}" if own else
                   "ImageNet's mean and std"))


def _short(values) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"
