"""``camjax localize``: CAM overlays and boxes for a user's own image files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from camjax import viz


def load_image(path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    try:
        return np.asarray(Image.open(path).convert("RGB"))
    except UnidentifiedImageError as err:
        raise FileNotFoundError(f"not an image file: {path}") from err


def localize_files(workdir, image_paths, out_dir, *, top_k: int = 1) -> Path:
    """Run the workdir's model on each image (resized to the training size), write an
    overlay PNG per image (top-1 box red) and boxes.json with classes, scores and boxes
    in the original image's pixels."""
    import jax
    from flax import nnx

    from camjax import config as config_lib
    from camjax.boxes import largest_component_boxes
    from camjax.cam import predict_cams
    from camjax.data.transforms import normalize_image, resize
    from camjax.geometry import rescale_boxes
    from camjax.training import restore_for_inference

    workdir, out_dir = Path(workdir), Path(out_dir)
    config = config_lib.from_json(workdir / "config.json")
    names = json.loads((workdir / "class_names.json").read_text())
    graphdef, state, _ = restore_for_inference(config, workdir, len(names))
    model = nnx.merge(graphdef, state.params, state.rest)
    size = config.image_size
    results = []
    for path in image_paths:
        image = load_image(path)
        x = normalize_image(resize(image, size))[None]
        logits, classes, maps = jax.device_get(predict_cams(model, x, k=top_k))
        boxes = largest_component_boxes(maps[0], threshold=config.cam_threshold)
        h, w = image.shape[:2]
        boxes = rescale_boxes(boxes, (size, size), (h, w))
        cam = np.asarray(jax.image.resize(maps[0, 0], (h, w), "linear"))
        panel = viz.draw_box(viz.overlay(image, np.clip(cam, 0, 1)), boxes[0], viz.RED,
                             thickness=max(1, min(h, w) // 150))
        png = viz.save_png(out_dir / (Path(path).stem + "_cam.png"), panel)
        probs = np.exp(logits[0] - logits[0].max())
        probs /= probs.sum()
        results.append({"image": str(path), "overlay": str(png), "predictions": [
            {"class": names[int(c)], "index": int(c), "probability": float(probs[int(c)]),
             "box": [int(v) for v in b]} for c, b in zip(classes[0], boxes)]})
    out = out_dir / "boxes.json"
    out.write_text(json.dumps(results, indent=2))
    return out
