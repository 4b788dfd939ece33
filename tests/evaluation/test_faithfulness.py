"""Faithfulness metrics on constructed cases, computed by hand.

The toy classifier is linear over pixels: logit_0 = sum of all pixel values, logit_1 = 0,
so p_0 = sigmoid(sum) and deleting a pixel (setting it to 0) removes its contribution.
"""
import numpy as np
import pytest
import scipy.ndimage

import jax
import jax.numpy as jnp

from camjax.evaluation import (ConfidenceAccumulator, DeletionInsertionAccumulator,
                               deletion_insertion_curves)
from camjax.evaluation.perturbation import rise_blur_kernel, step_counts


def sigmoid(s):
    return 1 / (1 + np.exp(-np.asarray(s, np.float64)))


def score_fn(x):
    s = x.sum(axis=(1, 2, 3))
    return jnp.stack([jax.nn.sigmoid(s), 1 - jax.nn.sigmoid(s)], axis=1)


def trapezoid(curve):
    c = np.asarray(curve, np.float64)
    return sum((c[i] + c[i + 1]) / 2 for i in range(len(c) - 1)) / (len(c) - 1)


# ------------------------------------------------------------ average drop / increase
def constant_images(values):
    return np.stack([np.full((2, 2, 3), v / 12, np.float32) for v in values])  # sum = v


def test_average_drop_and_increase_on_hand_worked_numbers():
    # logit sums ln 4 (p0 = 0.8, p1 = 0.2) and 0 (p = 0.5); constant maps scale the sum
    images = constant_images([np.log(4), np.log(4), np.log(4), 0.0])
    maps = np.array([0.5, 0.5, 1.0, 0.0])[:, None, None] * np.ones((4, 2, 2), np.float32)
    classes = np.array([0, 1, 0, 0])
    acc = ConfidenceAccumulator(score_fn)
    acc.update(images, maps, classes)
    # image 0: Y = 0.8, O = sigmoid(ln 2) = 2/3: drop (0.8 - 2/3) / 0.8 = 1/6
    # image 1 (class 1): Y = 0.2, O = 1/3 > Y: an increase, no drop
    # image 2: map 1, O = Y: neither; image 3: Y = O = 0.5: neither (strictly greater)
    r = acc.result()
    assert r["num_images"] == 4
    np.testing.assert_allclose(r["average_drop"], 100 * (1 / 6) / 4, rtol=1e-5)
    np.testing.assert_allclose(r["increase_in_confidence"], 25.0)


def test_confidence_accumulators_merge_and_move_between_processes():
    images = constant_images([np.log(4), np.log(4), 1.0, -2.0, 0.5])
    maps = np.linspace(0.1, 0.9, 5)[:, None, None] * np.ones((5, 2, 2), np.float32)
    classes = np.array([0, 1, 0, 1, 0])
    whole, a, b = (ConfidenceAccumulator(score_fn) for _ in range(3))
    whole.update(images, maps, classes)
    a.update(images[:2], maps[:2], classes[:2])
    b.update(images[2:], maps[2:], classes[2:])
    c = ConfidenceAccumulator()
    c.set_state(b.get_state())
    assert a.merge(c).result() == pytest.approx(whole.result())


def test_confidence_rejects_maps_outside_the_unit_interval():
    acc = ConfidenceAccumulator(score_fn)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        acc.update(constant_images([1.0]), np.full((1, 2, 2), 2.0), np.array([0]))
    with pytest.raises(ValueError, match="classes must lie"):
        acc.update(constant_images([1.0]), np.full((1, 2, 2), 0.5), np.array([2]))


# ------------------------------------------------------------- deletion / insertion
# a 2 x 2 image whose pixels contribute 3, 1, -1, -2 to the logit (sum 1); steps of 1 pixel
PIXELS = np.array([[1.0, 1 / 3], [-1 / 3, -2 / 3]])
IMAGE = np.repeat(PIXELS[:, :, None], 3, axis=2)[None].astype(np.float32)


def test_deletion_of_the_decisive_pixels_first_has_the_lower_auc():
    decisive = PIXELS[None]                  # order: +3, +1, -1, -2
    curves = deletion_insertion_curves(score_fn, IMAGE, decisive, [0], steps=4)
    # logits after removing 0..4 pixels: 1, 1-3, 1-3-1, 1-3-1+1, 0
    want = sigmoid([1, -2, -3, -2, 0])
    np.testing.assert_allclose(curves["deletion"][0], want, rtol=1e-5)
    reverse = deletion_insertion_curves(score_fn, IMAGE, -decisive, [0], steps=4)
    want_reverse = sigmoid([1, 3, 4, 3, 0])  # order: -2, -1, +1, +3
    np.testing.assert_allclose(reverse["deletion"][0], want_reverse, rtol=1e-5)
    acc = DeletionInsertionAccumulator(score_fn, steps=4)
    acc.update(IMAGE, decisive, [0])
    r = acc.result()
    np.testing.assert_allclose(r["deletion_auc"], trapezoid(want), rtol=1e-5)
    assert trapezoid(want) < trapezoid(want_reverse)
    np.testing.assert_allclose(r["fractions"], [0, 0.25, 0.5, 0.75, 1])


def test_insertion_of_the_decisive_pixels_first_has_the_higher_auc():
    # the blurred start, by scipy (an independent convolution), zero padding as RISE's conv
    kernel = rise_blur_kernel()
    blurred = scipy.ndimage.convolve(PIXELS, kernel, mode="constant", cval=0.0)
    order = np.argsort(-PIXELS.ravel(), kind="stable")
    images = [blurred.ravel().copy()]
    for p in order:                          # insert one pixel at a time from the image
        images.append(images[-1].copy())
        images[-1][p] = PIXELS.ravel()[p]
    want = sigmoid([3 * im.sum() for im in images])
    got = deletion_insertion_curves(score_fn, IMAGE, PIXELS[None], [0], steps=4)
    np.testing.assert_allclose(got["insertion"][0], want, rtol=1e-4)
    reverse = deletion_insertion_curves(score_fn, IMAGE, -PIXELS[None], [0], steps=4)
    assert trapezoid(want) > trapezoid(reverse["insertion"][0])


def test_ties_go_in_row_major_order_and_steps_need_not_divide_the_pixels():
    # 3 x 3 pixels, 4 steps: floor(i * 9 / 4) = 0, 2, 4, 6, 9 pixels changed
    assert step_counts(9, 4).tolist() == [0, 2, 4, 6, 9]
    values = np.arange(1, 10, dtype=np.float64).reshape(3, 3) / 30        # contributions i/10
    image = np.repeat(values[:, :, None], 3, axis=2)[None].astype(np.float32)
    tied = np.zeros((1, 3, 3))               # all tied: pixels 0, 1, ..., 8 in this order
    got = deletion_insertion_curves(score_fn, image, tied, [0], steps=4)["deletion"][0]
    contributions = 3 * values.ravel()
    total = contributions.sum()
    want = sigmoid([total - contributions[:n].sum() for n in (0, 2, 4, 6, 9)])
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_every_chunk_is_one_call_and_no_image_is_scored_twice_or_padded():
    calls = []

    def counting(x):                 # runs where score_fn runs: once per executed chunk
        jax.debug.callback(lambda m: calls.append(int(m)), x.shape[0])
        return score_fn(x)

    rng = np.random.default_rng(0)
    images = rng.normal(0, 0.1, (3, 4, 4, 3)).astype(np.float32)
    maps = rng.uniform(0, 1, (3, 4, 4))
    one = deletion_insertion_curves(counting, images, maps, [0, 1, 0], steps=16, batch_size=5)
    jax.effects_barrier()
    # 2 x 17 points, the image itself shared: 33 distinct per row, 6 chunks of 5 and one of 3
    assert sorted(calls) == [3 * 3] + [3 * 5] * 6
    whole = deletion_insertion_curves(score_fn, images, maps, [0, 1, 0], steps=16,
                                      batch_size=64)
    for mode in ("deletion", "insertion"):
        np.testing.assert_allclose(one[mode], whole[mode], rtol=1e-6)
        assert one[mode].shape == (3, 17)
    np.testing.assert_array_equal(one["deletion"][:, 0], one["insertion"][:, -1])


# RISE's CausalMetric.single_run (evaluation.py), transcribed with numpy for one image: the
# model's softmax after every ``step`` pixels, in decreasing order of the map, are switched
# from ``start`` to ``finish``; the blur is conv2d with gkern(11, 5) and zero padding.
def rise_single_run(prob_fn, image_chw, explanation, c, mode, step):
    hw = explanation.size
    n_steps = (hw + step - 1) // step
    substrate = np.stack([scipy.ndimage.convolve(ch, rise_blur_kernel(11, 5.0),
                                                 mode="constant", cval=0.0)
                          for ch in image_chw]) if mode == "ins" else np.zeros_like(image_chw)
    start, finish = ((image_chw.copy(), substrate) if mode == "del"
                     else (substrate, image_chw.copy()))
    scores = np.empty(n_steps + 1)
    salient_order = np.flip(np.argsort(explanation.reshape(-1, hw), axis=1), axis=-1)
    for i in range(n_steps + 1):
        scores[i] = prob_fn(start)[c]
        if i < n_steps:
            coords = salient_order[0, step * i:step * (i + 1)]
            start.reshape(3, hw)[:, coords] = finish.reshape(3, hw)[:, coords]
    return scores


def test_curves_equal_a_transcription_of_rises_loop():
    rng = np.random.default_rng(7)
    n, h, w, k, classes = 3, 6, 6, 5, 4
    w1 = rng.normal(0, 0.3, (h * w * 3, k))
    w2 = rng.normal(0, 1.0, (k, classes))

    def prob_numpy(image_chw):      # a small non-linear classifier of the HWC pixels
        z = np.tanh(image_chw.transpose(1, 2, 0).ravel() @ w1) @ w2
        return np.exp(z - z.max()) / np.exp(z - z.max()).sum()

    def prob_jax(x):
        z = jnp.tanh(x.reshape(x.shape[0], -1) @ jnp.asarray(w1, jnp.float32))
        return jax.nn.softmax(z @ jnp.asarray(w2, jnp.float32), axis=-1)

    images = rng.normal(0, 1, (n, h, w, 3))
    maps = rng.uniform(0, 1, (n, h, w))      # no ties: RISE's order is then unambiguous
    labels = np.array([0, 3, 1])
    for steps, batch_size in ((12, 5), (36, 16)):     # 3 pixels a step, then 1
        got = deletion_insertion_curves(prob_jax, images.astype(np.float32), maps, labels,
                                        steps=steps, batch_size=batch_size)
        for mode, key in (("del", "deletion"), ("ins", "insertion")):
            want = np.stack([rise_single_run(prob_numpy, images[i].transpose(2, 0, 1),
                                             maps[i], labels[i], mode, h * w // steps)
                             for i in range(n)])
            np.testing.assert_allclose(np.asarray(got[key]), want, rtol=2e-5, atol=1e-6)


def test_deletion_insertion_errors_name_the_input():
    images = np.zeros((2, 4, 4, 3), np.float32)
    maps = np.random.default_rng(0).uniform(0, 1, (2, 4, 4))
    with pytest.raises(ValueError, match="classes must lie"):
        deletion_insertion_curves(score_fn, images, maps, [0, 2], steps=4)
    with pytest.raises(ValueError, match=r"score_fn must return \(N=8, C\)"):
        deletion_insertion_curves(lambda x: score_fn(x)[:1], images, maps, [0, 1], steps=4,
                                  batch_size=4)


def test_blur_is_rise_kernel_with_zero_padding():
    kernel = rise_blur_kernel(11, 5.0)
    assert kernel.shape == (11, 11) and abs(kernel.sum() - 1) < 1e-12
    np.testing.assert_allclose(kernel, kernel.T)
    from camjax.evaluation.perturbation import blur
    image = np.random.default_rng(2).normal(0, 1, (1, 9, 13, 3))
    other = np.random.default_rng(3).normal(0, 1, (4, 4))   # not separable, even size
    for k in (kernel, other):
        got = np.asarray(blur(jnp.asarray(image, jnp.float32), k))
        for c in range(3):       # scipy convolves (flips the kernel); RISE's conv2d correlates
            want = scipy.ndimage.correlate(image[0, :, :, c], k, mode="constant", cval=0.0)
            np.testing.assert_allclose(got[0, :, :, c], want, rtol=1e-4, atol=1e-5)


def test_deletion_insertion_accumulators_merge():
    rng = np.random.default_rng(4)
    images = rng.normal(0, 0.1, (5, 4, 4, 3)).astype(np.float32)
    maps = rng.uniform(0, 1, (5, 4, 4))
    classes = np.array([0, 1, 1, 0, 1])
    whole, a, b = (DeletionInsertionAccumulator(score_fn, steps=8) for _ in range(3))
    whole.update(images, maps, classes)
    a.update(images[:3], maps[:3], classes[:3])
    b.update(images[3:], maps[3:], classes[3:])
    c = DeletionInsertionAccumulator(steps=8)
    c.set_state(b.get_state())
    merged, want = a.merge(c).result(), whole.result()
    for key in ("deletion_auc", "insertion_auc", "deletion_curve", "insertion_curve"):
        np.testing.assert_allclose(merged[key], want[key], rtol=1e-6)
    assert merged["num_images"] == 5
    with pytest.raises(ValueError, match="different settings"):
        a.merge(DeletionInsertionAccumulator(steps=4))
