"""``Preprocessing.imagenet(model)``: a network's own evaluation transform and its weights'
normalisation (``model.imagenet_normalization``; ``efficientnet_v2_l``'s weights expect
mean = std = 0.5), checked against Pillow's resize and crop by hand."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from flax import nnx
from PIL import Image

from camjax import models
from camjax.engine import Preprocessing
from camjax.models import efficientnet

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def by_hand(image, resize, crop, resample, mean, std):
    """torchvision's Resize(resize) + CenterCrop(crop) + ToTensor + Normalize, on Pillow."""
    h, w = image.shape[:2]
    nh, nw = (resize, int(resize * w / h)) if h <= w else (int(resize * h / w), resize)
    small = np.asarray(Image.fromarray(image).resize((nw, nh), resample), np.float64)
    top, left = int(round((nh - crop) / 2)), int(round((nw - crop) / 2))
    x = small[top:top + crop, left:left + crop] / 255
    return (x - np.array(mean)) / np.array(std)


@pytest.fixture(scope="module")
def photo():
    return np.random.default_rng(0).integers(0, 256, (90, 130, 3), np.uint8)


def test_a_network_s_own_normalisation_is_used(photo):
    half = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    net = SimpleNamespace(imagenet_eval=(72, 64, "bicubic"), imagenet_normalization=half)
    transform = Preprocessing.imagenet(net)
    assert (transform.resize, transform.size, transform.interpolation) == (72, 64, "bicubic")
    assert (transform.mean, transform.std) == half
    x, frame = transform(photo)
    want = by_hand(photo, 72, 64, Image.Resampling.BICUBIC, *half)
    np.testing.assert_allclose(x, want, atol=1e-5)
    assert x.min() < -0.9 and x.max() > 0.9            # [-1, 1], not ImageNet's range
    assert frame.size == 64 and (frame.resized_h, frame.resized_w) == (72, 104)
    assert "mean (0.5, 0.5, 0.5) and std (0.5, 0.5, 0.5)" in transform.describe()


@pytest.mark.parametrize("net", [None, SimpleNamespace(imagenet_eval=(72, 64, "bilinear")),
                                 SimpleNamespace(imagenet_eval=(72, 64, "bilinear"),
                                                 imagenet_normalization=None)])
def test_without_a_declaration_imagenet_s_mean_and_std(photo, net):
    transform = Preprocessing.imagenet(net)
    np.testing.assert_allclose(transform.mean, IMAGENET[0], rtol=1e-6)
    np.testing.assert_allclose(transform.std, IMAGENET[1], rtol=1e-6)
    resize, size = (256, 224) if net is None else (72, 64)
    want = by_hand(photo, resize, size, Image.Resampling.BILINEAR, *IMAGENET)
    np.testing.assert_allclose(transform(photo)[0], want, atol=1e-5)
    assert transform.describe().endswith("normalised with ImageNet's mean and std")


@pytest.mark.parametrize("name", ["efficientnet_v2_l", "efficientnet_v2_m"])
def test_efficientnet_v2_l_brings_its_weights_normalisation(name, monkeypatch):
    # the whole network costs tens of seconds even shape-only: one stage of each table
    for size in ("l", "m"):
        monkeypatch.setitem(efficientnet.V2_STAGES, size, efficientnet.V2_STAGES[size][:1])
    model = nnx.eval_shape(lambda: models.create(name, num_classes=10, rngs=nnx.Rngs(0)))
    transform = Preprocessing.imagenet(model)
    assert (transform.resize, transform.size) == (480, 480)
    if name == "efficientnet_v2_l":
        assert (transform.mean, transform.std) == ((0.5,) * 3, (0.5,) * 3)
    else:
        np.testing.assert_allclose((transform.mean, transform.std), IMAGENET, rtol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "imagenet", "size": 8, "resize": 8, "std": (0.5, 0.0, 0.5)}, "positive"),
    ({"kind": "imagenet", "size": 8, "resize": 8, "mean": (0.5, 0.5)}, "3 finite numbers"),
    ({"kind": "resize", "size": 8, "mean": (0.5, 0.5, 0.5)}, "ImageNet's mean and std"),
])
def test_bad_normalisations_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Preprocessing(**kwargs)
