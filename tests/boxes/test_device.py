"""Jitted on-device labelling (paper rule) == the scikit-image path."""
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from skimage import measure

from camjax.boxes import component_labels_device, largest_component_boxes_device

from .brute import random_maps
from .oracle import largest_component_boxes_reference


def test_labels_partition_equals_skimage():
    rng = np.random.default_rng(0)
    masks = rng.random((6, 23, 17)) < np.linspace(0.3, 0.7, 6)[:, None, None]
    labels = np.asarray(component_labels_device(masks))
    for mask, got in zip(masks, labels):
        want = measure.label(mask, connectivity=2)
        assert np.all(got[~mask] == mask.size)
        # same partition, and each component labelled by its first raster index
        for j in range(1, want.max() + 1):
            ys, xs = np.nonzero(want == j)
            first = ys[0] * mask.shape[1] + xs[0]
            assert np.all(got[want == j] == first)


def test_spiral_converges():
    # a long thin path: many propagation steps without pointer jumping
    H = W = 31
    mask = np.zeros((H, W), bool)
    top, left, bottom, right = 0, 0, H - 1, W - 1
    while top <= bottom and left <= right:
        mask[top, left:right + 1] = True
        mask[top:bottom + 1, right] = True
        if top + 2 <= bottom:
            mask[bottom, left:right + 1] = True
        if left + 2 <= right and top + 2 <= bottom:
            mask[top + 2:bottom + 1, left] = True
        top, left, bottom, right = top + 2, left + 2, bottom - 2, right - 2
    got = np.asarray(component_labels_device(mask))
    want = measure.label(mask, connectivity=2)
    assert len(np.unique(got[mask])) == want.max()


maps_strategy = hnp.arrays(      # few shapes: each new shape is a new compilation
    np.float32, st.sampled_from([(1, 1, 1, 1), (2, 3, 1, 9), (1, 2, 7, 5), (3, 1, 12, 12)]),
    elements=st.sampled_from([0.0, 0.3, 0.5, 1.0])
    # XLA flushes subnormals to zero (camjax/boxes/device.py says so): normal floats only
    | st.floats(0, 1, width=32, allow_subnormal=False))


@settings(max_examples=25, deadline=None)
@given(maps=maps_strategy, t=st.sampled_from([0.0, 0.1, 0.2, 0.5, 0.7, 1.0]))
def test_boxes_equal_reference(maps, t):
    np.testing.assert_array_equal(np.asarray(largest_component_boxes_device(maps, t)),
                                  largest_component_boxes_reference(maps, t))


def test_many_families():
    rng = np.random.default_rng(4)
    maps = random_maps(rng, 48, 20, 26).astype(np.float32).reshape(12, 4, 20, 26)
    for t in (0.2, 0.6):
        np.testing.assert_array_equal(np.asarray(largest_component_boxes_device(maps, t)),
                                      largest_component_boxes_reference(maps, t))


def test_threshold_compared_in_float64():
    m = np.zeros((1, 3, 3), np.float32)
    m[0, 0, 0], m[0, 0, 1] = 1.0, np.float32(0.1)
    assert np.asarray(largest_component_boxes_device(m, 0.1)).tolist() == [[0, 0, 1, 0]]


def test_bad_inputs():
    with pytest.raises(TypeError, match="float"):
        largest_component_boxes_device(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="NaN"):
        largest_component_boxes_device(jnp.full((4, 4), jnp.nan))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        largest_component_boxes_device(np.zeros((4, 4), np.float32), 1.5)
    with pytest.raises(ValueError, match="dims"):
        largest_component_boxes_device(np.zeros(4, np.float32))
