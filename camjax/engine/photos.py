"""Photos as they come: decoded images of any size in, maps on each photo's own pixels and
boxes in its own pixel coordinates out, beside the engine.

Each photo goes through the model's evaluation transform (:class:`Preprocessing`:
torchvision's resize + centre crop for ImageNet classifiers, or camjax's resize), the
batch through :func:`camjax.engine.predictions` (one jitted call per ``batch_size``
photos, the last batch padded so it compiles once), the boxes by the paper rule
(``camjax.boxes.largest_component_boxes`` at ``threshold`` of each map's max) on the maps
at the input's resolution, then back to the photo's pixels (:class:`Frame`); the maps are
drawn onto each photo (bilinear, 0 where the crop cut the photo). ``camjax localize`` is
this plus files, overlays and tables.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from flax import nnx

from camjax.engine.core import check_modes, image_size, predictions, split_options
from camjax.engine.frames import Frame, Preprocessing
from camjax.errors import UserError
from camjax.methods import base, registry


@dataclass(frozen=True)
class PhotoExplanation:
    """One photo's maps and boxes, in its own pixels."""
    maps: np.ndarray           # (k, h, w) float32 in [0, 1] over the photo (h x w)
    boxes: np.ndarray          # (k, 4) int, inclusive (x0, y0, x1, y1) in the photo
    classes: np.ndarray        # (k,)
    probabilities: np.ndarray  # (k,)
    frame: Frame               # where the model's input lies in the photo


def boxes_on_photos(maps, frames, threshold: float) -> list[np.ndarray]:
    """The paper rule's box of each (k, S, S) map at the input's resolution, in each
    photo's pixels: a list of (k, 4) int arrays."""
    from camjax.boxes import largest_component_boxes
    boxes = largest_component_boxes(np.asarray(maps), threshold=threshold)
    return [frame.boxes_to_original(b) for frame, b in zip(frames, boxes)]


def explain_photos(model: nnx.Module, photos, transform: Preprocessing | None = None,
                   method: str = "cam", *, top_k: int = 1, layer: str | None = None,
                   threshold: float = 0.2, batch_size: int = 16,
                   upsample: str = "bilinear", normalize: str = "minmax",
                   **options) -> list[PhotoExplanation]:
    """Maps and boxes of ``photos`` (uint8 (h, w, 3) arrays of any sizes, as
    ``camjax.data.images.decode_image`` gives them) for their ``top_k`` classes.

    ``transform``: how a photo becomes the model's input (default
    ``Preprocessing.imagenet(model)``, the network's torchvision evaluation transform).
    ``method``, ``layer``, ``options``: as :func:`camjax.explain`.
    """
    spec = registry.get(method)
    spec.check_options({**options, **({"layer": layer} if layer is not None else {})})
    check_modes(upsample, normalize)
    if not 0.0 <= threshold <= 1.0:
        raise UserError(f"threshold must lie in [0, 1], got {threshold!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise UserError(f"batch_size must be a positive int, got {batch_size!r}")
    transform = transform or Preprocessing.imagenet(model)
    photos = list(photos)
    if not photos:
        return []
    inputs, frames = zip(*(transform(np.asarray(p)) for p in photos))
    batch = min(batch_size, len(photos))
    side = transform.size
    num_classes = base.num_classes(model, np.zeros((1, side, side, 3), np.float32))
    if not isinstance(top_k, int) or not 1 <= top_k <= num_classes:
        raise UserError(f"top_k must be in [1, {num_classes}], got {top_k!r}")
    static, arrays = split_options(options)
    graphdef, state = nnx.split(model)
    out = []
    for start in range(0, len(photos), batch):
        xs = np.zeros((batch, side, side, 3), np.float32)
        chunk = inputs[start:start + batch]
        xs[:len(chunk)] = np.stack(chunk)
        classes, probs, maps, _ = (np.asarray(a) for a in predictions(
            graphdef, state, xs, method=method, k=top_k, layer=layer,
            size=image_size(side), upsample=upsample, normalize=normalize, options=static,
            arrays=arrays))
        chunk_frames = frames[start:start + len(chunk)]
        boxes = boxes_on_photos(maps[:len(chunk)], chunk_frames, threshold)
        for j, frame in enumerate(chunk_frames):
            on_photo = np.stack([frame.map_onto(m, frame.height, frame.width)
                                 for m in maps[j]])
            out.append(PhotoExplanation(on_photo, boxes[j], classes[j], probs[j], frame))
    return out
