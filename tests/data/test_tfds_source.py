"""TFDS through the source interface: the adapter's records, and the built-in dataset's
model inputs unchanged (the raw TFDS record and the adapted one give the same example)."""
import numpy as np

from camjax.data import pipeline, sources, transforms


def test_adapter_records_and_attributes(tiny_config, tmp_path):
    src = pipeline.open_source(tiny_config, "test", tmp_path)
    assert isinstance(src, sources.TfdsSource) and isinstance(src, sources.Source)
    assert len(src) == 32 and src.num_classes == 12 and src.class_names[:2] == ["disk",
                                                                             "square"]
    assert src.has_boxes and src.has_masks
    assert src.description == ("camjax_shapes/tiny, split 'test' (32 images, 12 classes, "
                               "boxes)")
    raw = pipeline.tfds_data_source("camjax_shapes/tiny", "test", tiny_config.data_dir)
    for i in (0, 7):
        rec, r = src[i], raw[i]
        assert set(rec) == {"image", "label", "file_name", "boxes", "mask"}
        assert rec["file_name"] == r["image/filename"].decode()
        assert rec["file_name"].startswith("test_") and rec["file_name"].endswith(".png")
        assert rec["image"].shape == (112, 112, 3) and rec["label"] == int(r["label"])
        assert set(np.unique(rec["mask"])) <= {0, 1} and rec["mask"].shape == (112, 112)
        np.testing.assert_array_equal(rec["mask"], r["segmentation_mask"][..., 0] // 255)
        # one box: the mask's bounding box (the builder draws boxes from masks)
        ys, xs = np.nonzero(rec["mask"])
        np.testing.assert_array_equal(rec["boxes"], [[xs.min(), ys.min(), xs.max(),
                                                      ys.max()]])
    assert pipeline.num_classes(src) == 12 and pipeline.has_boxes(src)
    assert pipeline.class_names(raw) == src.class_names and pipeline.has_masks(raw)


def test_model_inputs_of_the_built_in_dataset_are_unchanged(tiny_config, tmp_path):
    """Today's numbers: eval_example of the raw TFDS record (normalised bbox, 0/255 mask,
    the path before sources existed) equals that of the adapted record, every record."""
    src = pipeline.open_source(tiny_config, "test", tmp_path)
    raw = pipeline.tfds_data_source("camjax_shapes/tiny", "test", tiny_config.data_dir)
    for i in range(len(src)):
        a = transforms.eval_example(raw[i], image_size=32)
        b = transforms.eval_example(src[i], image_size=32)
        assert set(a) == set(b) == {"image", "label", "valid", "boxes", "mask"}
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{key} {i}")
        rng_a, rng_b = np.random.default_rng(i), np.random.default_rng(i)
        ta = transforms.train_example(raw[i], rng_a, image_size=32, augment="resize_crop")
        tb = transforms.train_example(src[i], rng_b, image_size=32, augment="resize_crop")
        np.testing.assert_array_equal(ta["image"], tb["image"])
