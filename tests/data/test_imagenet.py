"""The shipped ImageNet class names and torchvision's ImageNet evaluation transform
(resize 256, centre crop 224, mean/std), its geometry checked on hand-worked sizes."""
from __future__ import annotations

import numpy as np
import pytest

import camjax.data
from camjax.data.imagenet import imagenet_classes
from camjax.data.transforms import (EVAL_TRANSFORMS, center_crop_offsets, imagenet_eval,
                                    imagenet_eval_geometry, normalize_image, resize,
                                    short_side_resize_size)

MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def test_imagenet_classes_in_torchvisions_order():
    names = imagenet_classes()
    assert len(names) == 1000 and len(set(names)) == 1000
    known = {0: "tench", 1: "goldfish", 2: "great white shark", 207: "golden retriever",
             281: "tabby", 285: "Egyptian cat", 386: "African elephant", 409: "analog clock",
             817: "sports car", 954: "banana", 999: "toilet tissue"}
    assert {i: names[i] for i in known} == known
    assert all(n == n.strip() and n for n in names)


def test_imagenet_classes_is_exported_lazily_and_returns_a_copy():
    names = camjax.data.imagenet_classes()
    names[0] = "changed"
    assert camjax.data.imagenet_classes()[0] == "tench"
    assert "imagenet_classes" in camjax.data.__all__


# (h, w) -> resized (h, w), crop (top, left), worked by hand from torchvision's rules:
# long side int(256 * long / short); offsets int(round((side - 224) / 2)), halves to even
@pytest.mark.parametrize("size, resized, offsets", [
    ((375, 500), (256, 341), (16, 58)),   # 256 * 500 / 375 = 341.33; (341 - 224) / 2 = 58.5
    ((500, 375), (341, 256), (58, 16)),   # portrait: the same, transposed
    ((333, 500), (256, 384), (16, 80)),   # 384.38 -> 384; 160 / 2
    ((224, 224), (256, 256), (16, 16)),   # upscaled
    ((256, 257), (256, 257), (16, 16)),   # 16.5 -> 16
    ((256, 259), (256, 259), (16, 18)),   # 17.5 -> 18
    ((3, 7), (256, 597), (16, 186)),      # 597.33 -> 597; 186.5 -> 186
    ((1000, 1000), (256, 256), (16, 16)),
])
def test_imagenet_eval_geometry_hand_worked(size, resized, offsets):
    assert short_side_resize_size(*size, 256) == resized
    assert center_crop_offsets(*resized, 224) == offsets
    assert imagenet_eval_geometry(*size) == (*resized, *offsets)


def test_geometry_rejects_bad_sizes():
    with pytest.raises(ValueError, match="resize_size"):
        imagenet_eval_geometry(300, 300, resize_size=200, crop_size=224)
    with pytest.raises(ValueError, match="0x5"):
        imagenet_eval_geometry(0, 5)


def by_hand(crop_u8):
    return ((crop_u8.astype(np.float64) / 255 - MEAN) / STD).astype(np.float32)


def test_no_resize_when_the_short_side_is_256_then_an_exact_crop():
    image = np.random.default_rng(0).integers(0, 256, (256, 300, 3), dtype=np.uint8)
    out = imagenet_eval(image)
    assert out.shape == (224, 224, 3) and out.dtype == np.float32
    # top 16, left round(76 / 2) = 38
    np.testing.assert_allclose(out, by_hand(image[16:240, 38:262]), rtol=0, atol=1e-6)


def test_constant_image_and_grey_input():
    out = imagenet_eval(np.full((375, 500, 3), 200, np.uint8))
    np.testing.assert_allclose(out, np.broadcast_to(by_hand(np.full(3, 200)), out.shape),
                               atol=1e-6)
    grey = np.random.default_rng(1).integers(0, 256, (300, 400), dtype=np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    np.testing.assert_array_equal(imagenet_eval(grey), imagenet_eval(rgb))
    np.testing.assert_array_equal(imagenet_eval(grey[..., None]), imagenet_eval(rgb))


@pytest.mark.parametrize("image, message", [
    (np.zeros((300, 300, 3), np.float32), "uint8"),
    (np.zeros((300, 300, 4), np.uint8), r"\(300, 300, 4\)"),
])
def test_bad_images_are_clear_errors(image, message):
    with pytest.raises(ValueError, match=message):
        imagenet_eval(image)


@pytest.mark.torch
def test_resize_matches_torchs_antialiased_bilinear():
    # an independent resampler (torch's antialiased bilinear, as torchvision uses on
    # tensors); PIL rounds to uint8 and uses fixed-point weights: within one grey level
    torch = pytest.importorskip("torch", reason="torch is the independent resampler here")
    image = np.random.default_rng(2).integers(0, 256, (375, 500, 3), dtype=np.uint8)
    x = torch.from_numpy(image.transpose(2, 0, 1)[None].astype(np.float32))
    resized = torch.nn.functional.interpolate(x, size=(256, 341), mode="bilinear",
                                              align_corners=False, antialias=True)
    expected_u8 = resized[0].numpy().transpose(1, 2, 0)[16:240, 58:282]
    expected = ((expected_u8 / 255 - MEAN) / STD).astype(np.float32)
    got = imagenet_eval(image)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1.01 / 255 / STD.min())
    assert np.abs(got - expected).mean() < 0.3 / 255 / STD.min()


def test_eval_transforms_by_name():
    image = np.random.default_rng(3).integers(0, 256, (375, 500, 3), dtype=np.uint8)
    assert set(EVAL_TRANSFORMS) == {"resize", "imagenet"}
    np.testing.assert_array_equal(EVAL_TRANSFORMS["imagenet"](image, 224), imagenet_eval(image))
    np.testing.assert_array_equal(EVAL_TRANSFORMS["resize"](image, 224),
                                  normalize_image(resize(image, 224)))
    assert EVAL_TRANSFORMS["imagenet"](image, 227).shape == (227, 227, 3)  # resize 259
