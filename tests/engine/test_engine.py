"""The map engine: ``camjax.explain`` and ``camjax.engine.predict`` against the steps
written out (CAM, softmax, top-k), the photo path against the paper rule's reference
boxes, errors before any compile, and ``viz.show_cam_on_image`` by hand. One tiny_gap,
compiled once per call shape."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import camjax
from camjax import cam, engine, viz
from camjax.errors import ModelError, UserError
from tests.boxes.oracle import largest_component_boxes_reference


@pytest.fixture(scope="module")
def tiny():
    from tests.methods.conftest import filled_model     # random weights, nothing compiled
    return filled_model("tiny_gap", num_classes=7, gain=1.0, head_std=0.05)


@pytest.fixture(scope="module")
def images():
    return jax.random.normal(jax.random.key(2), (2, 48, 48, 3))


def softmax(x):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_explain_is_top_k_cam_upsampled_and_normalised(tiny, images):
    result = camjax.explain(tiny, images, top_k=3)
    assert result.maps.shape == (2, 3, 48, 48)
    ref_logits, feats = tiny(images)
    ref_classes = np.argsort(-np.asarray(ref_logits), axis=1)[:, :3]
    np.testing.assert_array_equal(result.classes, ref_classes)
    np.testing.assert_allclose(result.probabilities, np.take_along_axis(
        softmax(ref_logits), ref_classes, axis=1), rtol=1e-5)
    steps = cam.normalize(cam.upsample(cam.class_activation_maps(
        feats, camjax.models.class_weights(tiny), ref_classes), (48, 48)))
    np.testing.assert_allclose(result.maps, steps, atol=1e-5)


def test_predict_puts_the_labels_maps_first_and_keeps_raw_maps(tiny, images):
    graphdef, state = nnx.split(tiny)
    labels = jnp.array([6, 0])
    logits, top, maps = engine.predict(graphdef, state, images, labels, k=2, size=(24, 24),
                                       normalize=None)
    assert top.shape == (2, 2) and maps.shape == (2, 3, 24, 24)
    _, feats = tiny(images)
    classes = np.concatenate([np.asarray(labels)[:, None], np.asarray(top)], axis=1)
    raw = cam.upsample(cam.class_activation_maps(feats, camjax.models.class_weights(tiny),
                                                 classes), (24, 24))
    np.testing.assert_allclose(maps, raw, rtol=1e-5, atol=1e-5)


def test_explain_given_classes(tiny, images):
    # (the other methods through the engine: tests/methods/sharded_run.py, test_localize)
    result = camjax.explain(tiny, images, classes=[4, 1], size=16, normalize="max")
    assert result.classes.tolist() == [[4], [1]] and result.maps.shape == (2, 1, 16, 16)
    logits, feats = tiny(images)
    np.testing.assert_allclose(result.probabilities[:, 0], softmax(logits)[[0, 1], [4, 1]],
                               rtol=1e-5)
    raw = cam.class_activation_maps(feats, camjax.models.class_weights(tiny), [[4], [1]])
    np.testing.assert_allclose(result.maps, cam.normalize(cam.upsample(raw, (16, 16)), "max"),
                               atol=1e-5)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"method": "gradcam"}, UserError, "unknown map method 'gradcam'"),
    ({"method": "cam", "layer": "cam_conv"}, UserError, "'cam' has no option 'layer'"),
    ({"method": "grad_cam", "steps": 3}, UserError, "no option 'steps'.*layer, relu"),
    ({"top_k": 8}, UserError, r"top_k must be in \[1, 7\]"),
    ({"size": (0, 4)}, UserError, "size must be"),
    ({"normalize": "zscore"}, UserError, "zscore"),
    ({"upsample": "nearest"}, UserError, "nearest"),
    ({"method": "grad_cam", "layer": "backbone.9"}, ModelError, "backbone.9.*nearby"),
])
def test_bad_requests_are_named(tiny, images, kwargs, error, match):
    with pytest.raises(error, match=match):
        camjax.explain(tiny, images, **kwargs)


def test_photos_of_any_size_get_maps_and_boxes_in_their_own_pixels(tiny):
    rng = np.random.default_rng(4)
    photos = [rng.integers(0, 256, (60, 90, 3), np.uint8),
              rng.integers(0, 256, (100, 40, 3), np.uint8),
              rng.integers(0, 256, (48, 48, 3), np.uint8)]
    transform = engine.Preprocessing("resize", 48)
    out = engine.explain_photos(tiny, photos, transform, top_k=2, threshold=0.5,
                                batch_size=2)
    inputs = np.stack([transform(p)[0] for p in photos])
    want = camjax.explain(tiny, inputs, top_k=2)
    for photo, got, maps, classes in zip(photos, out, want.maps, want.classes):
        h, w = photo.shape[:2]
        assert got.maps.shape == (2, h, w) and got.boxes.shape == (2, 4)
        np.testing.assert_array_equal(got.classes, classes)
        frame = transform.frame(h, w)
        for j in range(2):
            box = largest_component_boxes_reference(np.asarray(maps[j], np.float64), 0.5)
            np.testing.assert_array_equal(got.boxes[j], frame.boxes_to_original(box))
            assert 0 <= got.boxes[j][0] <= got.boxes[j][2] < w
        np.testing.assert_allclose(got.maps[0], frame.map_onto(maps[0], h, w), atol=1e-5)


def test_show_cam_on_image_is_pytorch_grad_cams_overlay_by_hand():
    img = np.full((1, 3, 3), 0.5, np.float32)
    img[0, 2] = (0.1, 0.2, 0.3)
    mask = np.array([[0.0, 1.0, 1.0]], np.float32)
    got = viz.show_cam_on_image(img, mask, use_rgb=True)
    # OpenCV's JET at 0 and 255 (BGR): (128, 0, 0) and (0, 0, 128); RGB here
    heat = np.array([[[0, 0, 128], [128, 0, 0], [128, 0, 0]]], np.float32) / 255
    img = img.copy()
    cam_ = 0.5 * heat + 0.5 * img
    np.testing.assert_array_equal(got, np.uint8(255 * cam_ / cam_.max()))
    with pytest.raises(UserError, match=r"\[0, 1\]"):
        viz.show_cam_on_image(img * 3, mask)
