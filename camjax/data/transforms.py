"""Per-example numpy transforms: a source's record (``camjax.data.sources``) into model
inputs, the same for every source (TFDS, wsolevaluation folders, image folders).

Boxes arrive as camjax's inclusive pixel boxes in the original frame (a raw TFDS record's
normalised ``bbox`` is converted here too) and are rescaled to the frame the maps are
scored in with int(x * new / old) (wsolevaluation's rule); masks are resized with
nearest neighbour, so 0 / 1 / 255 (ignore) stay what they are.
"""
from __future__ import annotations

import cv2
import numpy as np

from camjax.geometry import rescale_boxes, tfds_to_pixel_boxes

MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], np.float32) * 255
AUGMENTATIONS = ("none", "flip", "random_resized_crop", "resize_crop")


def normalize_image(image_u8: np.ndarray) -> np.ndarray:
    return (image_u8.astype(np.float32) - MEAN) / STD


# normalize_image of every uint8 value, per channel: (256, 3) float32
NORMALIZED_U8 = normalize_image(np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1))


def normalize_on_device(images):
    """uint8 (..., 3) images -> float32, on the device (inside a jitted step): the values of
    ``normalize_image`` bit for bit, looked up in its table of 256 per channel (XLA turns
    ``(x - mean) / std`` into a multiply by ``1 / std``, which rounds differently)."""
    import jax.numpy as jnp
    index = images.astype(jnp.int32) + 256 * jnp.arange(3, dtype=jnp.int32)
    return jnp.take(jnp.asarray(NORMALIZED_U8.T.reshape(-1)), index)


def denormalize_image(image: np.ndarray) -> np.ndarray:
    return np.clip(image * STD + MEAN, 0, 255).astype(np.uint8)


def resize(image: np.ndarray, size: int, interpolation=cv2.INTER_LINEAR) -> np.ndarray:
    if image.shape[:2] == (size, size):
        return image
    out = cv2.resize(image, (size, size), interpolation=interpolation)
    return out[..., None] if image.ndim == 3 and out.ndim == 2 else out


def _resized_crop_window(h: int, w: int, rng, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision's RandomResizedCrop window (y, x, height, width) of an h x w image."""
    for _ in range(10):
        area = h * w * rng.uniform(*scale)
        aspect = np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1])))
        cw, ch = int(round(np.sqrt(area * aspect))), int(round(np.sqrt(area / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            return y, x, ch, cw
    side = min(h, w)  # fallback: centre crop
    return (h - side) // 2, (w - side) // 2, side, side


def train_example(record: dict, rng: np.random.Generator, *, image_size: int,
                  augment: str = "flip", foreground: bool = False) -> dict:
    """Augmented image (uint8: a quarter of float32's bytes to the device, which normalises
    it in the train step, ``normalize_on_device``) and label for training. ``foreground``:
    also the record's foreground (:func:`foreground_mask`) under the same crop and flip,
    resized with nearest neighbour (the few-shot baseline's target)."""
    image = record["image"]
    # every geometric step applies to the image and, when asked, to its foreground mask
    layers = [(image, cv2.INTER_LINEAR)]
    if foreground:
        layers.append((foreground_mask(record), cv2.INTER_NEAREST))
    if augment == "random_resized_crop":
        y, x, ch, cw = _resized_crop_window(*image.shape[:2], rng)
        layers = [(resize(a[y:y + ch, x:x + cw], image_size, i), i) for a, i in layers]
    elif augment == "resize_crop":   # resize to 256/224 of the input, random crop
        layers = [(resize(a, image_size * 256 // 224, i), i) for a, i in layers]
        y, x = rng.integers(0, layers[0][0].shape[0] - image_size + 1, size=2)
        layers = [(a[y:y + image_size, x:x + image_size], i) for a, i in layers]
    elif augment in ("flip", "none"):
        layers = [(resize(a, image_size, i), i) for a, i in layers]
    else:
        raise ValueError(f"config.augment must be one of {AUGMENTATIONS}, got {augment!r}")
    if augment != "none" and rng.random() < 0.5:
        layers = [(a[:, ::-1], i) for a, i in layers]   # views: the batch's stack copies once
    out = {"image": layers[0][0], "label": np.int32(record["label"])}
    if foreground:
        out["foreground"] = np.ascontiguousarray(layers[1][0], np.uint8)
    return out


def foreground_mask(record: dict) -> np.ndarray:
    """uint8 (H, W) in the record's original frame: its mask (0, 1, 255 ignored) when it
    has one, else 1 inside any of its boxes (inclusive pixels) and 0 elsewhere."""
    mask = record_mask(record)
    h, w = record["image"].shape[:2]
    if mask is not None:
        if mask.shape != (h, w):   # a mask file of another size: the image's frame
            mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
        return mask
    out = np.zeros((h, w), np.uint8)
    for x0, y0, x1, y1 in record_boxes(record):
        out[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1] = 1
    return out


def train_draft_size(image_size: int, augment: str) -> int:
    """The side a JPEG may be decoded down to (Pillow's ``draft``: 1/2, 1/4, 1/8 scale in
    the DCT, both sides at least this) when ``augment`` resizes the whole image to a square
    no larger; 0 for random crops, which need the full resolution."""
    if augment == "resize_crop":
        return image_size * 256 // 224
    return image_size if augment in ("flip", "none") else 0


def record_boxes(record: dict) -> np.ndarray:
    """Inclusive pixel boxes (n, 4) of a record in its original image frame."""
    h, w = record["image"].shape[:2]
    if "boxes" in record:                       # already pixel boxes (joined annotations)
        return np.asarray(record["boxes"], np.int64).reshape(-1, 4)
    if "bbox" in record:
        return tfds_to_pixel_boxes(np.asarray(record["bbox"]).reshape(-1, 4), h, w)
    if "objects" in record and "bbox" in record["objects"]:
        return tfds_to_pixel_boxes(np.asarray(record["objects"]["bbox"]).reshape(-1, 4), h, w)
    raise KeyError("record has no boxes: expected 'bbox', 'objects/bbox' or joined 'boxes'")


def record_mask(record: dict) -> np.ndarray | None:
    """The record's uint8 (H, W) mask {0, 1, 255}: a source's ``mask``, or a raw TFDS
    ``segmentation_mask`` (0/255 -> 0/1); None without one."""
    if "mask" in record:
        mask = np.asarray(record["mask"], np.uint8)
    elif "segmentation_mask" in record:
        mask = (np.asarray(record["segmentation_mask"]) > 127).astype(np.uint8)
    else:
        return None
    return mask[..., 0] if mask.ndim == 3 else mask


def eval_example(record: dict, *, image_size: int, max_boxes: int = 8,
                 with_boxes: bool = True, map_size: int = 0) -> dict:
    """Image resized to image_size, label; boxes rescaled from the original frame to the
    ``map_size`` x ``map_size`` frame the maps are scored in (``config.eval_map_size``,
    0 = image_size), padded with -1; the mask, when the record has one, resized to that
    frame with nearest neighbour (255 = ignore stays 255)."""
    image = record["image"]
    h, w = image.shape[:2]
    map_size = map_size or image_size
    out = {"image": normalize_image(resize(image, image_size)),
           "label": np.int32(record["label"]),
           "valid": np.bool_(True)}
    if with_boxes:
        boxes = rescale_boxes(record_boxes(record), (h, w), (map_size, map_size))
        # wsolevaluation's boxes end at x + width: W for a box touching the right edge,
        # which int(x * new / old) maps to map_size, one past the last pixel. camjax boxes
        # are inclusive pixel boxes, so that edge becomes the last pixel (its evaluator
        # keeps the coordinate: the IoU differs by at most one column or row of pixels)
        boxes = np.minimum(boxes, map_size - 1)
        if len(boxes) > max_boxes:
            raise ValueError(f"image {record.get('file_name', '?')!s} has {len(boxes)} boxes, "
                             f"more than config.max_boxes={max_boxes}: set "
                             f"--config.max_boxes={len(boxes)}")
        padded = np.full((max_boxes, 4), -1, np.int64)
        padded[:len(boxes)] = boxes
        out["boxes"] = padded
    mask = record_mask(record)
    if mask is not None:
        out["mask"] = resize(mask, map_size, cv2.INTER_NEAREST)
    return out


def padding_example(example: dict) -> dict:
    """A copy of ``example`` marked invalid: fills the last, partial eval batch."""
    return {k: (np.bool_(False) if k == "valid" else np.zeros_like(v))
            for k, v in example.items()}


# --- torchvision's ImageNet evaluation preprocessing ------------------------------------
# Resize(256) (short side, bilinear, as on a PIL image), CenterCrop(224), ToTensor (/255),
# Normalize(mean, std): what torchvision's and timm's ImageNet classifiers are evaluated with.
IMAGENET_RESIZE, IMAGENET_CROP = 256, 224
IMAGENET_CROP_FRACTION = IMAGENET_CROP / IMAGENET_RESIZE  # 0.875 (timm's crop_pct)
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def short_side_resize_size(height: int, width: int, size: int) -> tuple[int, int]:
    """torchvision ``Resize(size)``'s output (h, w): the short side becomes ``size``, the long
    side ``int(size * long / short)`` (truncated, not rounded)."""
    short, long = sorted((height, width))
    new_long = int(size * long / short)
    return (size, new_long) if height <= width else (new_long, size)


def center_crop_offsets(height: int, width: int, crop: int) -> tuple[int, int]:
    """torchvision ``CenterCrop(crop)``'s (top, left): ``int(round((side - crop) / 2))``,
    Python's round (halves to even: 58.5 -> 58, 17.5 -> 18)."""
    return int(round((height - crop) / 2.0)), int(round((width - crop) / 2.0))


def imagenet_eval_geometry(height: int, width: int, *, resize_size: int = IMAGENET_RESIZE,
                           crop_size: int = IMAGENET_CROP) -> tuple[int, int, int, int]:
    """(resized h, resized w, crop top, crop left) of ``imagenet_eval`` for an image of
    ``height`` x ``width``: a crop pixel (y, x) is resized pixel (top + y, left + x), and a
    resized pixel covers ``height / resized_h`` x ``width / resized_w`` original pixels."""
    if resize_size < crop_size:
        raise ValueError(f"resize_size ({resize_size}) must be at least crop_size "
                         f"({crop_size})")
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    new_h, new_w = short_side_resize_size(height, width, resize_size)
    return (new_h, new_w, *center_crop_offsets(new_h, new_w, crop_size))


INTERPOLATIONS = ("bilinear", "bicubic")


def imagenet_eval(image_u8: np.ndarray, *, resize_size: int = IMAGENET_RESIZE,
                  crop_size: int = IMAGENET_CROP, interpolation: str = "bilinear",
                  mean=IMAGENET_MEAN, std=IMAGENET_STD) -> np.ndarray:
    """torchvision's ImageNet evaluation transform on an (H, W, 3) (or grey (H, W[, 1]))
    uint8 image -> float32 (crop_size, crop_size, 3): short-side resize with PIL
    (``interpolation`` bilinear or bicubic, as the weights' transform says; as torchvision
    does on the PIL images its ImageNet loader reads, PIL antialiases when it shrinks),
    centre crop, /255, (x - mean) / std (ImageNet's per-channel mean and std unless the
    weights were trained with others: ``efficientnet_v2_l``'s are 0.5 and 0.5)."""
    from PIL import Image  # only this transform needs Pillow

    image = np.asarray(image_u8)
    if image.dtype != np.uint8:
        raise ValueError(f"imagenet_eval needs a uint8 image, got dtype {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:  # grey: PIL's convert("RGB") repeats it
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"imagenet_eval needs an (H, W, 3) or (H, W) image, "
                         f"got shape {image.shape}")
    height, width = image.shape[:2]
    new_h, new_w, top, left = imagenet_eval_geometry(height, width, resize_size=resize_size,
                                                     crop_size=crop_size)
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got "
                         f"{interpolation!r}")
    if (new_h, new_w) != (height, width):  # torchvision returns the image itself then
        resample = (Image.Resampling.BILINEAR if interpolation == "bilinear"
                    else Image.Resampling.BICUBIC)
        image = np.asarray(Image.fromarray(image).resize((new_w, new_h), resample))
    crop = image[top:top + crop_size, left:left + crop_size].astype(np.float32) / 255.0
    return (crop - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


def resize_eval(image_u8: np.ndarray, image_size: int) -> np.ndarray:
    """camjax's default evaluation input: the whole image resized to a square (no crop, so
    boxes stay in frame), normalised as ``normalize_image``."""
    return normalize_image(resize(image_u8, image_size))


def imagenet_eval_at(image_u8: np.ndarray, image_size: int) -> np.ndarray:
    """``imagenet_eval`` with crop ``image_size`` and resize ``floor(image_size / 0.875)``
    (256 for 224, timm's crop_pct rule)."""
    return imagenet_eval(image_u8, resize_size=int(image_size / IMAGENET_CROP_FRACTION),
                         crop_size=image_size)


# Evaluation transforms by the name a config gives (``fn(image_u8, image_size)`` ->
# float32 (image_size, image_size, 3)).
EVAL_TRANSFORMS = {"resize": resize_eval, "imagenet": imagenet_eval_at}
