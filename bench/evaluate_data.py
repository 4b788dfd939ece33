"""The folder bench/evaluate.py evaluates: wsolevaluation's layout, generated (no download).

``make_folder(root, n, classes, seed)`` writes ``n`` JPEGs (quality 90) of random sizes
224-400 px per side under ROOT/images/, each a smooth background with one or two filled
ellipses (the objects) with stripes, blurred (sigma 1.5 px) and with mild noise, and two
metadata folders over the same images, as wsolevaluation lays out its datasets
(``metadata/<dataset>/<split>/``):

* ``metadata/CUB/test/``: image_ids.txt, class_labels.txt, image_sizes.txt and
  localization.txt with each object's box (``id,x0,y0,x1,y1``, in the file's frame):
  MaxBoxAcc;
* ``metadata/OpenImages/test/``: the same ids and labels, localization.txt naming a mask
  PNG per object and one ignore PNG per image (``id,mask,ignore``), under ROOT/masks/:
  the ignore region is a 10% margin around the objects' boxes (wsolevaluation's
  ``get_mask`` takes it minus the foreground): PxAP.

Both metadata folders hold class_names.txt (``class_<k>``), so camjax and wsolevaluation
agree on the number of classes.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def _image(rng, h: int, w: int):
    """A smooth background and 1-2 textured ellipses: (image, [(box, mask)])."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 200, 3)
    tilt = rng.uniform(-0.2, 0.2, (2, 3))
    image = base + yy[..., None] * tilt[0] + xx[..., None] * tilt[1]
    low = cv2.resize(rng.normal(0, 25, (6, 6, 3)).astype(np.float32), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    image = image + low
    objects = []
    for _ in range(rng.integers(1, 3)):
        ah, aw = rng.uniform(0.15, 0.4) * h, rng.uniform(0.15, 0.4) * w
        cy, cx = rng.uniform(ah, h - ah), rng.uniform(aw, w - aw)
        mask = ((yy - cy) / ah) ** 2 + ((xx - cx) / aw) ** 2 <= 1
        colour = rng.uniform(0, 255, 3)
        stripes = 30 * np.sin((xx * rng.uniform(0.1, 0.4) + yy * rng.uniform(0.1, 0.4)))
        image[mask] = colour + stripes[mask][:, None]
        ys, xs = np.nonzero(mask)
        box = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))   # inclusive
        objects.append((box, mask))
    # blurred (the detail of a photo resized to 224 px, not of a sharp drawing), so that
    # the two pipelines' image resizes (cv2 bilinear, PIL antialiased bilinear) agree closely
    image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), 1.5)
    image = image + rng.normal(0, 2, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), objects


def make_folder(root: Path, n: int, classes: int = 200, seed: int = 0) -> dict:
    """Write the folder (see the module docstring); returns its paths: ``images``,
    ``masks``, ``boxes`` (CUB metadata split folder), ``mask_meta`` (OpenImages's)."""
    rng = np.random.default_rng(seed)
    images, masks = root / "images", root / "masks"
    meta = {name: root / "metadata" / name for name in ("CUB", "OpenImages")}
    for d in (images, masks, *(m / "test" for m in meta.values())):
        d.mkdir(parents=True, exist_ok=True)
    ids, labels, sizes, box_lines, mask_lines = [], [], [], [], []
    for i in range(n):
        h, w = (int(v) for v in rng.integers(224, 401, 2))
        image, objects = _image(rng, h, w)
        name = f"c{i % 10}/img{i:05d}.jpg"
        (images / name).parent.mkdir(exist_ok=True)
        cv2.imwrite(str(images / name), image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        ids.append(name)
        labels.append(f"{name},{rng.integers(classes)}\n")
        sizes.append(f"{name},{w},{h}\n")
        ignore = np.zeros((h, w), np.uint8)
        for k, ((x0, y0, x1, y1), mask) in enumerate(objects):
            box_lines.append(f"{name},{x0},{y0},{x1},{y1}\n")
            mask_name = name.replace(".jpg", f"_{k}.png")
            (masks / mask_name).parent.mkdir(exist_ok=True)
            cv2.imwrite(str(masks / mask_name), mask.astype(np.uint8) * 255)
            my, mx = (y1 - y0) // 10, (x1 - x0) // 10
            ignore[max(0, y0 - my):y1 + my, max(0, x0 - mx):x1 + mx] = 255
            mask_lines.append(f"{name},{mask_name},"
                              f"{name.replace('.jpg', '_ignore.png') if k == 0 else ''}\n")
        cv2.imwrite(str(masks / name.replace(".jpg", "_ignore.png")), ignore)
    for m in meta.values():
        (m / "class_names.txt").write_text("".join(f"class_{k}\n" for k in range(classes)))
        split = m / "test"
        (split / "image_ids.txt").write_text("".join(f"{i}\n" for i in ids))
        (split / "class_labels.txt").write_text("".join(labels))
        (split / "image_sizes.txt").write_text("".join(sizes))
    (meta["CUB"] / "test" / "localization.txt").write_text("".join(box_lines))
    (meta["OpenImages"] / "test" / "localization.txt").write_text("".join(mask_lines))
    return {"images": images, "masks": masks, "boxes": meta["CUB"] / "test",
            "mask_meta": meta["OpenImages"] / "test"}
