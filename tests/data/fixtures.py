"""Dataset folders written by the tests: a wsolevaluation layout and class folders.

The WSOL fixture (3 classes, 27 PNGs) has the three kinds of split wsolevaluation ships:

* ``train``: labels only, an empty localization.txt and an empty image_sizes.txt (as
  ILSVRC and OpenImages train), image_ids.txt with a UTF-8 BOM, class_labels.txt CRLF;
* ``val``: masks (OpenImages), two mask files for some images, an ignore file for all
  but one;
* ``test``: boxes (CUB, ILSVRC), two boxes for some images, CRLF everywhere.

Images are small (30..50 px), of several sizes, some grey (mode L), some RGBA. Each shows
its class as the colour of a rectangle: the first box.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = ((220, 40, 40), (40, 200, 60), (50, 70, 230))
SIZES = ((40, 30), (48, 36), (50, 50), (36, 44))          # (width, height)


def image_array(k: int, label: int, box) -> np.ndarray:
    """An RGB image of SIZES[k % 4] with a rectangle of the class colour at ``box``."""
    w, h = SIZES[k % len(SIZES)]
    rng = np.random.default_rng(k)
    image = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
    x0, y0, x1, y1 = box
    image[y0:y1 + 1, x0:x1 + 1] = COLOURS[label]
    return image


def box_of(k: int) -> tuple[int, int, int, int]:
    w, h = SIZES[k % len(SIZES)]
    return (k % 5, (k * 3) % 4, w // 2 + k % 7, h - 1 - k % 3)


def save_png(path: Path, array: np.ndarray, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    if mode == "L":
        image = image.convert("L")
    elif mode == "RGBA":
        image = image.convert("RGBA")
        image.putalpha(200)
    image.save(path)
    return path


def _write(path: Path, lines: list[str], *, newline: str = "\n", bom: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(line + newline for line in lines).encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)


def make_wsol(root: Path, per_class=(4, 2, 3)) -> dict:
    """root/metadata/<split>/*.txt and root/images/...; returns the paths and the truth
    (per split: ids, labels, sizes, boxes, mask files) the tests compare with."""
    meta, images = root / "metadata", root / "images"
    truth = {}
    k = 0
    for split, n in zip(("train", "val", "test"), per_class):
        ids, labels, sizes, boxes, loc = [], [], [], {}, []
        for label in range(3):
            for j in range(n):
                image_id = f"{split}/{label:03d}.c{label}/img_{k:03d}.png"
                box = box_of(k)
                mode = "L" if k % 5 == 1 else "RGBA" if k % 5 == 2 else "RGB"
                array = image_array(k, label, box)
                save_png(images / image_id, array, mode)
                w, h = SIZES[k % len(SIZES)]
                ids.append(image_id)
                labels.append(label)
                sizes.append((w, h))
                image_boxes = [box] + ([(1, 1, 5, 6)] if j % 2 else [])
                boxes[image_id] = image_boxes
                if split == "test":
                    loc += [f"{image_id},{x0},{y0},{x1},{y1}" for x0, y0, x1, y1 in image_boxes]
                elif split == "val":
                    loc += _masks(images, image_id, array.shape[:2], image_boxes, j)
                k += 1
        d = meta / split
        crlf = "\r\n" if split != "val" else "\n"
        _write(d / "image_ids.txt", ids, newline=crlf, bom=split == "train")
        _write(d / "class_labels.txt", [f"{i},{y}" for i, y in zip(ids, labels)],
               newline="\r\n")
        _write(d / "image_sizes.txt", [] if split == "train" else
               [f"{i},{w},{h}" for i, (w, h) in zip(ids, sizes)], newline=crlf)
        _write(d / "localization.txt", loc, newline=crlf)
        truth[split] = {"ids": ids, "labels": labels, "sizes": sizes, "boxes": boxes}
    return {"metadata": meta, "images": images, "truth": truth}


def mask_files(image_id: str, boxes, j: int) -> tuple[list[str], str]:
    stem = image_id[:-len(".png")]
    masks = [f"{stem}_m{n}.png" for n in range(len(boxes))]
    return masks, ("" if j == 1 else f"{stem}_ignore.png")


def _masks(images: Path, image_id: str, hw, boxes, j: int) -> list[str]:
    """One mask file per box (0/255 inside the box); an ignore file (the box grown by 2
    px) except for the second image of each class."""
    masks, ignore = mask_files(image_id, boxes, j)
    h, w = hw
    for name, (x0, y0, x1, y1) in zip(masks, boxes):
        m = np.zeros((h, w), np.uint8)
        m[y0:y1 + 1, x0:x1 + 1] = 255
        save_png(images / name, m)
    if ignore:
        x0, y0, x1, y1 = boxes[0]
        m = np.zeros((h, w), np.uint8)
        m[max(y0 - 2, 0):y1 + 3, max(x0 - 2, 0):x1 + 3] = 255
        save_png(images / ignore, m)
    return [f"{image_id},{masks[0]},{ignore}"] + [f"{image_id},{m}," for m in masks[1:]]


def make_folders(root: Path, classes=("cat", "dog", "eel"), per_split=(("train", 4),
                                                                     ("val", 2))) -> Path:
    """root/<split>/<class>/*.png (and a .JPG, a nested folder, a non-image file)."""
    k = 0
    for split, n in per_split:
        for label, name in enumerate(classes):
            for j in range(n):
                array = image_array(k, label, box_of(k))
                if j == 1:
                    path = root / split / name / "nested" / f"{name}_{k:03d}.png"
                    save_png(path, array, "L" if k % 2 else "RGBA")
                elif j == 2:
                    path = root / split / name / f"{name}_{k:03d}.JPG"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(array).save(path, "JPEG", quality=95)
                else:
                    save_png(root / split / name / f"{name}_{k:03d}.png", array)
                k += 1
        (root / split / classes[0] / "notes.txt").write_text("not an image")
    return root
