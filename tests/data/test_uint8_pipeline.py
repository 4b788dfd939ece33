"""Training batches are uint8, normalised on the device bit for bit as the host did; JPEGs
may be decoded at a reduced scale (Pillow's draft) when they are resized smaller anyway."""
import jax
import numpy as np
from PIL import Image

from camjax.data import images, transforms


def test_device_normalisation_equals_the_host_one_bit_for_bit():
    values = np.arange(256, dtype=np.uint8)
    grid = np.stack(np.meshgrid(values, values[::-1], np.roll(values, 7), indexing="ij"),
                    axis=-1)[:, :16]                                  # (256, 16, 256, 3)
    # (x - mean) / std per channel, in float32, as numpy computes it: the reference
    want = ((grid.astype(np.float32) - np.float32([0.485, 0.456, 0.406]) * 255)
            / (np.float32([0.229, 0.224, 0.225]) * 255))
    got = np.asarray(jax.jit(transforms.normalize_on_device)(grid))
    assert got.dtype == np.float32 and np.array_equal(got, want)


def test_train_examples_are_uint8_and_only_cropped_flipped_and_resized():
    rng_img = np.random.default_rng(0)
    image = rng_img.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    out = transforms.train_example({"image": image, "label": 3}, np.random.default_rng(1),
                                   image_size=32, augment="flip")
    assert out["image"].dtype == np.uint8 and out["image"].shape == (32, 32, 3)
    resized = transforms.resize(image, 32)
    assert (np.array_equal(out["image"], resized)
            or np.array_equal(out["image"], resized[:, ::-1]))


def test_jpeg_draft_decodes_smaller_only_where_asked(tmp_path):
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    photo = np.asarray(Image.fromarray(coarse).resize((500, 375), Image.BILINEAR))
    Image.fromarray(photo).save(tmp_path / "a.jpg", quality=90)
    Image.fromarray(photo).save(tmp_path / "a.png")
    full = images.decode_image(tmp_path / "a.jpg")
    assert full.shape == (375, 500, 3)
    # 128: 1/2 scale (250 x 188) is the smallest with both sides >= 128; 1/4 would be 94
    half = images.decode_image(tmp_path / "a.jpg", draft_size=128)
    assert half.shape == (188, 250, 3)
    assert images.decode_image(tmp_path / "a.jpg", draft_size=60).shape == (94, 125, 3)
    assert images.decode_image(tmp_path / "a.jpg", draft_size=40).shape == (47, 63, 3)
    assert images.decode_image(tmp_path / "a.png", draft_size=128).shape == (375, 500, 3)
    # the same picture: close to the full decode averaged over 2 x 2 blocks
    blocks = full[:374].reshape(187, 2, 250, 2, 3).mean(axis=(1, 3))
    assert np.abs(half[:187].astype(float) - blocks).mean() < 4
    assert transforms.train_draft_size(112, "resize_crop") == 128
    assert transforms.train_draft_size(112, "random_resized_crop") == 0


def test_sources_with_boxes_or_masks_never_draft(tmp_path):
    """Boxes and masks are in the file's frame: a split that has them decodes whole."""
    from camjax.data.wsol import WsolSource
    from tests.data.fixtures import make_wsol
    tree = make_wsol(tmp_path, per_class=(1, 1, 1))
    kwargs = {"image_root": str(tree["images"]), "draft_size": 16}
    assert WsolSource(tree["metadata"], "train", **kwargs).draft_size == 16   # labels only
    assert WsolSource(tree["metadata"], "test", **kwargs).draft_size == 0     # boxes
    assert WsolSource(tree["metadata"], "val", **kwargs).draft_size == 0      # masks
