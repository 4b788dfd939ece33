"""``camjax localize --model NAME`` beyond the ResNets: EfficientNet-B0 (CAM), ConvNeXt-T
(Grad-CAM) and a vision transformer (Grad-CAM at a named block) on a few generated photos,
each from random weights saved as a torchvision-format ``.safetensors`` file, through the
command line's own entry point; and every registered classifier is a ``--model`` choice.

The ViT: torchvision's ``vit_b_16`` file is ~350 MB (its write, read and compile would
cost more than this file's budget), so the command runs on the smallest ViT registered,
timm's ``deit_small_patch16_224`` (the same forward pass, ``camjax.models.vit_base``), at
``blocks.10``; ``vit_b_16`` with ``--method grad_cam --layer
encoder.layers.encoder_layer_10`` is checked shape-only (``nnx.eval_shape`` /
``jax.eval_shape`` of the engine's jitted call and of the layer check ``localize`` runs).
"""
from __future__ import annotations

import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from PIL import Image

from camjax import cli, engine, models
from camjax.errors import ModelError, UserError
from camjax.localize import localize
from camjax.localize.predictor import CLASSIFIERS, Predictor, check_layer
from camjax.methods import base
from tests.random_weights import torch_state_dict

# name -> (extra arguments, the preprocessing localize must report)
RUNS = {
    "efficientnet_b0": ([], "resized to 256 (bicubic), centre crop 224x224"),
    "convnext_tiny": (["--method", "grad_cam"], "resized to 236, centre crop 224x224"),
    "deit_small_patch16_224": (["--method", "grad_cam", "--layer", "blocks.10"],
                               "resized to 248 (bicubic), centre crop 224x224"),
}
PHOTOS = {"wide.png": (150, 260), "tall.jpg": (240, 120)}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for name, (h, w) in PHOTOS.items():
        pixels = rng.integers(0, 120, (h, w, 3), np.uint8)
        pixels[h // 4:h // 2, w // 3:2 * w // 3] = (250, 200, 40)      # an object
        Image.fromarray(pixels).save(folder / name, quality=95)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RUNS))
def test_localize_model_writes_overlays_and_predictions(name, photos, tmp_path):
    from safetensors.numpy import save_file
    model = nnx.eval_shape(lambda: models.create(name, num_classes=1000, rngs=nnx.Rngs(0)))
    weights = tmp_path / f"{name}.safetensors"
    save_file(torch_state_dict(model), str(weights))
    extra, preprocessing = RUNS[name]
    out = tmp_path / "out"
    status = cli.main(["localize", "--model", name, "--weights", str(weights), *extra,
                       "--out", str(out), "--batch_size", "2", "--no_progress", str(photos)])
    assert status == 0
    doc = json.loads((out / "predictions.json").read_text())
    assert doc["model"] == name and doc["top_k"] == 5
    assert doc["method"] == (extra[1] if extra else "cam")
    assert doc["layer"] == (extra[3] if len(extra) > 2 else None)
    assert preprocessing in doc["preprocessing"]
    assert doc["preprocessing"].endswith("ImageNet's mean and std")
    assert sorted(i["name"] for i in doc["images"]) == sorted(PHOTOS) and not doc["failed"]
    resize = int(re.search(r"resized to (\d+)", preprocessing).group(1))
    for image in doc["images"]:
        h, w = PHOTOS[image["name"]]
        overlay = Image.open(out / image["overlay"])
        assert overlay.format == "PNG" and overlay.width >= 448
        probabilities = [p["probability"] for p in image["predictions"]]
        assert len({p["class_index"] for p in image["predictions"]}) == 5
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1
        x0, y0, x1, y1 = image["region"]          # the centre crop, in the photo's pixels
        seen = min(x1 - x0, y1 - y0) + 1          # the short side: 224 of its `resize`
        assert abs(seen - min(h, w) * 224 / resize) <= 2
        assert 0 <= x0 <= x1 < w and 0 <= y0 <= y1 < h
        for p in image["predictions"]:
            bx0, by0, bx1, by1 = p["box"]
            assert x0 <= bx0 <= bx1 <= x1 and y0 <= by0 <= by1 <= y1


def test_vit_b_16_grad_cam_at_encoder_layer_10_shape_only():
    # what localize --model vit_b_16 --method grad_cam --layer encoder.layers.encoder_layer_10
    # runs, without weights or a compile: the layer check, then the engine's jitted call
    model = nnx.eval_shape(lambda: models.create("vit_b_16", num_classes=1000,
                                                 rngs=nnx.Rngs(0)))
    graphdef, state = nnx.split(model)
    layer = "encoder.layers.encoder_layer_10"
    predictor = Predictor(graphdef, state, [], engine.Preprocessing.imagenet(model),
                          "bilinear", "minmax", 0, None)
    check_layer(predictor, "grad_cam", layer)
    with pytest.raises(ModelError, match="'encoder.layers.encoder_layer_12' is not a module"):
        check_layer(predictor, "grad_cam", "encoder.layers.encoder_layer_12")
    images = jax.ShapeDtypeStruct((2, 224, 224, 3), jnp.float32)
    top, probabilities, maps, logits = jax.eval_shape(
        lambda s, x: engine.predictions(graphdef, s, x, method="grad_cam", k=5, layer=layer),
        state, images)
    assert top.shape == probabilities.shape == (2, 5) and logits.shape == (2, 1000)
    assert maps.shape == (2, 5, 224, 224)
    _, activations, grads = jax.eval_shape(lambda s, x: base.layer_gradients(
        graphdef, s, x, jnp.zeros((2, 5), jnp.int32), layer), state, images)
    assert activations.shape == (2, 14, 14, 768) and grads.shape == (2, 5, 14, 14, 768)


def test_every_registered_classifier_is_a_localize_model_choice(photos, tmp_path):
    # the help's list and the check localize makes, from the registry (no network built)
    names = models.classifiers()
    assert len(names) >= 60 and set(names) <= set(models.available())
    assert tuple(names) == CLASSIFIERS
    localize_parser = cli._parser(full_help=True)._subparsers._group_actions[0].choices[
        "localize"]
    model_help = next(a.help for a in localize_parser._actions if a.dest == "model")
    for name in names:
        assert name in model_help.replace(",", " ").split(), name
        with pytest.raises(UserError, match="weights file not found"):   # the name passed
            localize([photos], tmp_path / "o", model=name, weights=tmp_path / "none.pth")
    with pytest.raises(UserError, match="localize --model takes a torchvision classifier"):
        localize([photos], tmp_path / "o", model="tiny_gap", weights=tmp_path / "none.pth")
