"""MaxBoxAcc (BoxAccumulator) and PxAP (MaskAccumulator, pxap): hand-worked values,
agreement with wsolevaluation's BoxEvaluator / MaskEvaluator loops (tests/boxes/oracle.py),
invariance to batching, order, merging and threads. Arithmetic in comments."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camjax.evaluation import BoxAccumulator, MaskAccumulator, pxap
from camjax.evaluation.wsol import max_iou_per_threshold
from tests.boxes.oracle import BoxEvaluatorLoop, MaskEvaluatorLoop


def _reference_max_box_acc(scoremaps, gt_boxes, cam_thresholds, iou_keys, multi_contour):
    """BoxEvaluator.accumulate / compute, one image at a time (tests/boxes/oracle.py):
    accuracy per threshold, per IoU key."""
    loop = BoxEvaluatorLoop(cam_thresholds, iou_keys, multi_contour)
    for s, gt in zip(scoremaps, gt_boxes):
        loop.accumulate(np.asarray(s, np.float64), gt)
    return {k: loop.num_correct[k] * 100.0 / loop.cnt for k in iou_keys}


def _blob_maps(n, size=20, seed=0):
    """Min-max normalised sums of 1-3 Gaussian blobs, plus a flat and a plateau map."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    maps = []
    for _ in range(n):
        m = np.zeros((size, size))
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(0, size, 2)
            sy, sx = rng.uniform(1.0, size / 3, 2)
            m += rng.uniform(0.3, 1) * np.exp(-((yy - cy) ** 2 / (2 * sy ** 2)
                                                + (xx - cx) ** 2 / (2 * sx ** 2)))
        maps.append((m - m.min()) / (m.max() - m.min()))
    maps[0] = np.zeros((size, size))                     # no contour at any tau
    maps[1] = np.round(maps[1] * 4) / 4                  # plateaus: many equal values
    gts = []
    for m in maps:
        boxes = []
        for _ in range(rng.integers(1, 4)):              # 1-3 GT boxes per image:
            ys, xs = np.nonzero(m > rng.uniform(0.2, 0.9))   # near a level set of the map,
            if len(xs) == 0:                                  # or random
                ys, xs = rng.integers(0, size, (2, 2))
            box = np.array([xs.min(), ys.min(), xs.max(), ys.max()]) + rng.integers(-2, 3, 4)
            box = np.clip(box, 0, size - 1)
            boxes.append([box[0], box[1], max(box[0], box[2]), max(box[1], box[3])])
        gts.append(np.array(boxes))
    return np.stack(maps), gts


MAPS, GTS = _blob_maps(12)
TAUS = np.arange(0, 1, 0.05)


# ------------------------------------------------------------- hand-worked MaxBoxAcc
def _hand_maps():
    """Three 10x10 maps.

    image 0: region A rows 1..3, cols 1..4 = 1.0 (u8 255); region B rows 6..8, cols 6..8
             = 0.5 (u8 floor(127.5) = 127); GT = B exactly, (6, 6, 8, 8).
    image 1: all ones; GT (0, 0, 9, 9).
    image 2: all zeros (no contour at any tau -> box (0, 0, 0, 0)); GT (0, 0, 0, 1).
    """
    m = np.zeros((3, 10, 10))
    m[0, 1:4, 1:5] = 1.0
    m[0, 6:9, 6:9] = 0.5
    m[1] = 1.0
    gts = [np.array([[6, 6, 8, 8]]), np.array([[0, 0, 9, 9]]), np.array([[0, 0, 0, 1]])]
    return m, gts


def test_max_box_acc_hand_worked_v2():
    # cutoffs int(tau * 255): tau 0 -> 0, 0.25 -> int(63.75) = 63, 0.75 -> int(191.25) = 191
    # image 0 boxes (x, y, x + w, y + h), clipped to 9:
    #   A: x 1, y 1, w 4, h 3 -> (1, 1, 5, 4);  B: x 6, y 6, w 3, h 3 -> (6, 6, 9, 9)
    #   tau 0, 0.25: u8 > 0 / > 63 keeps A (255) and B (127) -> boxes A, B
    #   tau 0.75:    u8 > 191 keeps A only
    #   IoU(B box, GT (6,6,8,8)) = 9 / (16 + 9 - 9) = 0.5625; IoU(A box, GT) = 0
    #   -> max IoU per tau: 0.5625, 0.5625, 0
    # image 1: one contour around the image, (0, 0, 10, 10) clipped -> (0, 0, 9, 9): IoU 1
    # image 2: (0, 0, 0, 0) vs GT (0, 0, 0, 1): inter 1, union 1 + 2 - 1 = 2 -> 0.5
    # correct images per tau:
    #   delta 0.3: [3, 3, 2]   delta 0.5: [3, 3, 2]   delta 0.7: [1, 1, 1] (image 1 only)
    m, gts = _hand_maps()
    acc = BoxAccumulator(cam_thresholds=[0.0, 0.25, 0.75], multi_contour=True)
    acc.update(m, gts)
    r = acc.result()
    np.testing.assert_allclose(r["curves"][30], [100, 100, 200 / 3])
    np.testing.assert_allclose(r["curves"][50], [100, 100, 200 / 3])
    np.testing.assert_allclose(r["curves"][70], [100 / 3] * 3)
    assert r["max_box_acc"] == pytest.approx({30: 100.0, 50: 100.0, 70: 100 / 3})
    # V2 = (100 + 100 + 33.33) / 3 = 77.78
    assert r["max_box_acc_v2"] == pytest.approx((200 + 100 / 3) / 3)
    # best tau: the first tau reaching the max (np.argmax); at 70 all tie -> tau 0
    assert r["best_threshold"] == {30: 0.0, 50: 0.0, 70: 0.0}
    assert r["num_images"] == 3


def test_max_box_acc_hand_worked_v1_largest_contour():
    # V1 keeps the contour of largest polygon area. Contours run through pixel centres:
    # A (4 x 3 pixels) -> polygon 3 x 2 = area 6; B (3 x 3) -> 2 x 2 = area 4. A wins,
    # so image 0 has only the A box (IoU 0 with its GT) at every tau.
    # delta 0.3 and 0.5: images 1, 2 correct at every tau -> 2/3; delta 0.7: image 1 -> 1/3
    m, gts = _hand_maps()
    acc = BoxAccumulator(cam_thresholds=[0.0, 0.25, 0.75], multi_contour=False)
    acc.update(m, gts)
    r = acc.result()
    assert r["max_box_acc"] == pytest.approx({30: 200 / 3, 50: 200 / 3, 70: 100 / 3})
    np.testing.assert_allclose(r["curves"][50], [200 / 3] * 3)


def test_update_boxes_multiple_gt_boxes_several_boxes_and_iou_ties():
    # 2 images, 2 thresholds; (image, tau) pairs with 1-2 boxes each.
    # image 0: GT (0, 0, 9, 0) (1 x 10) and (20, 20, 29, 29)
    #   tau 0: boxes (0,0,2,0) [3/10 = 0.3 with GT a, exactly] and (40,40,41,41) [0]
    #          -> max 0.3: correct at 0.3 (tie counts, >=), not at 0.5
    #   tau 1: box (20,20,29,29) -> IoU 1 with GT b -> correct at 0.3, 0.5, 0.7
    # image 1: GT (0, 0, 3, 0) (1 x 4)
    #   tau 0: box (0,0,1,0): inter 2, union 2 + 4 - 2 = 4 -> 0.5, correct at 0.3, 0.5
    #   tau 1: box (10,10,10,10) -> 0
    # counts delta 0.3: [2, 1]; 0.5: [1, 1]; 0.7: [0, 1]
    boxes = np.array([[0, 0, 2, 0], [40, 40, 41, 41], [20, 20, 29, 29],
                      [0, 0, 1, 0], [10, 10, 10, 10]])
    image = np.array([0, 0, 0, 1, 1])
    thr = np.array([0, 0, 1, 0, 1])
    gts = [np.array([[0, 0, 9, 0], [20, 20, 29, 29]]), np.array([[0, 0, 3, 0]])]
    best = max_iou_per_threshold((boxes, image, thr), gts, 2)
    np.testing.assert_allclose(best, [[0.3, 1.0], [0.5, 0.0]])
    acc = BoxAccumulator(cam_thresholds=[0.1, 0.2])
    acc.update_boxes((boxes, image, thr), gts)
    np.testing.assert_array_equal(acc.num_correct, [[2, 1], [1, 1], [0, 1]])
    r = acc.result()
    assert r["max_box_acc"] == {30: 100.0, 50: 50.0, 70: 50.0}
    assert r["best_threshold"] == {30: 0.1, 50: 0.1, 70: 0.2}
    # the order of the boxes does not matter
    p = np.array([4, 2, 0, 3, 1])
    acc2 = BoxAccumulator(cam_thresholds=[0.1, 0.2])
    acc2.update_boxes((boxes[p], image[p], thr[p]), gts)
    np.testing.assert_array_equal(acc2.num_correct, acc.num_correct)


def test_missing_pair_is_an_error():
    # image 1 has no box at threshold 1
    box_set = (np.zeros((3, 4), int), np.array([0, 0, 1]), np.array([0, 1, 0]))
    with pytest.raises(RuntimeError, match="image 1 at threshold index 1"):
        max_iou_per_threshold(box_set, [np.array([[0, 0, 1, 1]])] * 2, 2)
    with pytest.raises(ValueError, match="out of range"):
        max_iou_per_threshold((np.zeros((1, 4), int), [2], [0]), [np.array([[0, 0, 1, 1]])], 1)


# ---------------------------------------------------------- against the reference
@pytest.mark.parametrize("multi_contour", [True, False])
def test_matches_wsolevaluation_loop(multi_contour):
    acc = BoxAccumulator(cam_thresholds=TAUS, multi_contour=multi_contour)
    acc.update(MAPS, GTS)
    r = acc.result()
    ref = _reference_max_box_acc(MAPS, GTS, TAUS, (30, 50, 70), multi_contour)
    for k in (30, 50, 70):
        np.testing.assert_array_equal(r["curves"][k], ref[k])
        assert r["max_box_acc"][k] == ref[k].max()
        assert r["best_threshold"][k] == TAUS[np.argmax(ref[k])]
    assert r["max_box_acc_v2"] == pytest.approx(np.mean([ref[k].max() for k in (30, 50, 70)]))


def test_default_thresholds_match_reference():
    maps, gts = _blob_maps(4, size=24, seed=3)
    acc = BoxAccumulator()
    assert len(acc.cam_thresholds) == 100
    acc.update(maps, gts)
    ref = _reference_max_box_acc(maps, gts, np.arange(0, 1, 0.01), (30, 50, 70), True)
    for k in (30, 50, 70):
        np.testing.assert_array_equal(acc.result()["curves"][k], ref[k])


# ------------------------------------------------------- batching, order, merging
def _counts(batches, multi_contour=True):
    acc = BoxAccumulator(cam_thresholds=TAUS, multi_contour=multi_contour)
    for idx in batches:
        acc.update(MAPS[idx], [GTS[i] for i in idx])
    return acc


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perm=st.permutations(range(len(MAPS))), cuts=st.sets(st.integers(1, len(MAPS) - 1)))
def test_invariant_to_batching_order_and_merge(perm, cuts):
    whole = _counts([np.arange(len(MAPS))])
    bounds = [0, *sorted(cuts), len(MAPS)]
    batches = [np.array(perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    # same accumulator, shuffled images in batches of varying size
    batched = _counts(batches)
    np.testing.assert_array_equal(batched.num_correct, whole.num_correct)
    assert batched.num_images == whole.num_images
    # one accumulator per batch ("process"), merged
    merged = BoxAccumulator(cam_thresholds=TAUS)
    for b in batches:
        merged.merge(_counts([b]))
    assert merged.result()["max_box_acc"] == whole.result()["max_box_acc"]
    np.testing.assert_array_equal(merged.num_correct, whole.num_correct)


def test_state_round_trip_sums_across_processes():
    parts = [_counts([np.arange(0, 5)]), _counts([np.arange(5, 12)])]
    states = [p.get_state() for p in parts]
    # what a cross-process sum would do with the count arrays
    total = dict(states[0], num_correct=sum(s["num_correct"] for s in states),
                 num_images=sum(s["num_images"] for s in states))
    acc = BoxAccumulator(cam_thresholds=TAUS)
    acc.set_state(total)
    whole = _counts([np.arange(12)])
    assert acc.result()["max_box_acc"] == whole.result()["max_box_acc"]
    # state is a copy, and its size does not grow with the number of images
    states[0]["num_correct"][:] = 0
    assert parts[0].num_correct.sum() > 0
    assert whole.get_state()["num_correct"].shape == parts[0].get_state()["num_correct"].shape


def test_merge_refuses_other_config():
    a = BoxAccumulator(cam_thresholds=TAUS)
    with pytest.raises(ValueError, match="different"):
        a.merge(BoxAccumulator(cam_thresholds=TAUS[:-1]))
    with pytest.raises(ValueError, match="different"):
        a.merge(BoxAccumulator(cam_thresholds=TAUS, multi_contour=False))
    with pytest.raises(ValueError, match="different"):
        a.merge(BoxAccumulator(cam_thresholds=TAUS, iou_thresholds=(0.5,)))
    state = BoxAccumulator(cam_thresholds=TAUS, iou_thresholds=(0.5,)).get_state()
    with pytest.raises(ValueError, match="different"):
        a.set_state(state)


def test_box_accumulator_input_checks():
    acc = BoxAccumulator(cam_thresholds=TAUS)
    with pytest.raises(ValueError, match="before any image"):
        acc.result()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        acc.update(MAPS[2:3] * 2, GTS[2:3])
    bad = MAPS[:1].copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        acc.update(bad, GTS[:1])
    with pytest.raises(TypeError, match="float"):
        acc.update((MAPS[:1] * 255).astype(np.uint8), GTS[:1])
    with pytest.raises(ValueError, match="entries"):
        acc.update(MAPS[:2], GTS[:1])
    with pytest.raises(ValueError, match="empty"):
        acc.update(MAPS[:1], [np.zeros((0, 4))])
    with pytest.raises(ValueError, match="duplicate keys"):
        BoxAccumulator(iou_thresholds=(0.5, 0.501))
    assert acc.num_images == 0      # failed updates counted nothing


# --------------------------------------------------------------------------- PxAP
def test_pxap_hand_worked_with_ignore():
    # bin_width 0.25: edges [0, .25, .5, .75, 1, 2, 3] -> bins [0,.25) [.25,.5) [.5,.75)
    # [.75,1) [1,2) [2,3]. Foreground 0.9, 0.5, 0.25; background 0.1, 0.4; 1.0 ignored.
    s = np.array([[[0.9, 0.5, 0.1], [0.4, 1.0, 0.25]]])
    m = np.array([[[1, 1, 0], [0, 255, 1]]], np.uint8)
    # fg hist [0, 1, 1, 1, 0, 0], bg hist [1, 1, 0, 0, 0, 0]
    # from the top (thresholds 2, 1, .75, .5, .25, 0): tp [0, 0, 1, 2, 3, 3],
    # fp [0, 0, 0, 0, 1, 2]; precision [-, -, 1, 1, 3/4, 3/5]; recall tp/3 [0, 0, 1/3, 2/3, 1, 1]
    # AP = sum_{i>=1, tp+fp>0} p[i] (r[i] - r[i-1]) = 1/3 + 1/3 + 3/4 * 1/3 + 3/5 * 0 = 11/12
    assert pxap(s, m, bin_width=0.25) == pytest.approx(100 * 11 / 12)
    acc = MaskAccumulator(0.25)
    acc.update(s, m)
    r = acc.result()
    np.testing.assert_array_equal(acc.fg_hist, [0, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(acc.bg_hist, [1, 1, 0, 0, 0, 0])
    np.testing.assert_allclose(r["recall"], [0, 0, 1 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(r["precision"][2:], [1, 1, 0.75, 0.6])
    np.testing.assert_allclose(r["thresholds"], [2, 1, 0.75, 0.5, 0.25, 0])
    # the ignored 1.0 pixel counted as background instead: fp [0, 1, 1, 1, 2, 3],
    # precision at i = 2..4: 1/2, 2/3, 3/5 -> AP = (1/2 + 2/3 + 3/5) / 3 = 53/90
    m_bg = np.where(m == 255, 0, m).astype(np.uint8)
    assert pxap(s, m_bg, bin_width=0.25) == pytest.approx(100 * 53 / 90)


def test_pxap_perfect_and_reversed():
    # fg all 1.0, bg all 0.0: tp reaches all fg at threshold 1 with fp 0 -> AP = 1 * 1
    s = np.array([[[1.0, 1.0], [0.0, 0.0]]])
    m = np.array([[[1, 1], [0, 0]]], np.uint8)
    assert pxap(s, m) == pytest.approx(100.0)
    # reversed: recall jumps 0 -> 1 only at threshold 0, where precision is 2/4
    assert pxap(1 - s, m) == pytest.approx(50.0)
    # bool masks are masks without ignore pixels
    assert pxap(s, m.astype(bool)) == pytest.approx(100.0)


def test_pxap_matches_direct_threshold_counts():
    # TP(t) = #fg >= t, FP(t) = #bg >= t for t in [2, 1, 1 - bw, ..., 0]; same AP formula
    rng = np.random.default_rng(1)
    s = rng.random((3, 16, 16))
    s[0, :2] = 1.0
    m = (rng.random((3, 16, 16)) < 0.3).astype(np.uint8)
    m[rng.random((3, 16, 16)) < 0.1] = 255
    edges = np.append(np.arange(0, 1, 0.01), [1.0, 2.0])[::-1]
    fg, bg = s[m == 1], s[m == 0]
    tp = np.array([(fg >= t).sum() for t in edges], float)
    fp = np.array([(bg >= t).sum() for t in edges], float)
    ap = 0.0
    for i in range(1, len(edges)):
        if tp[i] + fp[i] > 0:
            ap += tp[i] / (tp[i] + fp[i]) * (tp[i] - tp[i - 1]) / len(fg)
    assert pxap(s, m) == pytest.approx(100 * ap, abs=1e-9)


def test_mask_accumulator_merge_and_state():
    rng = np.random.default_rng(2)
    s = rng.random((6, 8, 8))
    m = (rng.random((6, 8, 8)) < 0.4).astype(np.uint8)
    whole = MaskAccumulator()
    whole.update(s, m)
    a, b = MaskAccumulator(), MaskAccumulator()
    a.update(s[:2], m[:2])
    b.update(s[2:], m[2:])
    assert a.merge(b).result()["pxap"] == whole.result()["pxap"]
    c = MaskAccumulator()
    c.set_state(a.get_state())
    assert c.result()["pxap"] == whole.result()["pxap"] and c.num_images == 6
    with pytest.raises(ValueError, match="bin_width"):
        a.merge(MaskAccumulator(0.1))


def test_pxap_input_checks():
    s = np.zeros((1, 2, 2))
    with pytest.raises(ValueError, match="value 2"):
        pxap(s, np.full((1, 2, 2), 2, np.uint8))
    with pytest.raises(ValueError, match="shape"):
        pxap(s, np.zeros((1, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="foreground"):
        pxap(s, np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="foreground"):
        pxap(s, np.full((1, 2, 2), 255, np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pxap(s + 2, np.ones((1, 2, 2), np.uint8))
    for dtype in (np.float64, np.float32):           # one pixel just outside, NaN, inf
        one, tiny = dtype(1), np.finfo(dtype).smallest_subnormal
        for bad in (np.nan, np.inf, -tiny, np.nextafter(one, dtype(2))):
            x = np.zeros((1, 2, 2), dtype)
            x[0, 1, 0] = bad
            with pytest.raises(ValueError, match=r"\[0, 1\]"):
                pxap(x, np.ones((1, 2, 2), np.uint8))


# ------------------------------------------------- PxAP against MaskEvaluator's loop
def _pxap_reference(maps, masks, bin_width):
    loop = MaskEvaluatorLoop(np.arange(0, 1, bin_width))
    for s, m in zip(maps, masks):
        loop.accumulate(np.asarray(s, np.float64), m)
    return loop


@pytest.mark.parametrize("bin_width", [0.001, 0.01, 0.03, 0.25, 1 / 49, 1 / 161])
def test_pxap_histograms_equal_np_histogram(bin_width):
    """Values on the bin edges (the arange values themselves, 0, -0.0, 1, just below
    1 and below the last edge), float64, float32 and float16 maps, ignore pixels, 1
    or 3 threads: the reference's histograms and AP. 1/49 and 1/161 are widths whose
    top bins need the long rule (1.0's first guess is K - 2; fl(K bw) < 1)."""
    rng = np.random.default_rng(int(bin_width * 1000))
    edges = np.arange(0, 1, bin_width)
    s = rng.random((7, 13, 17))
    on_edge = rng.random(s.shape) < 0.3
    s[on_edge] = rng.choice(np.append(edges, 1.0), on_edge.sum())
    s[0, 0, :5] = 0.0, 1.0, np.nextafter(edges[-1], 0), np.nextafter(1.0, 0), -0.0
    m = rng.choice(np.array([0, 1, 255], np.uint8), s.shape, p=[0.5, 0.4, 0.1])
    for dtype in (np.float64, np.float32, np.float16):
        maps = s.astype(dtype)
        ref = _pxap_reference(maps, m, bin_width)
        for workers in (1, 3):
            acc = MaskAccumulator(bin_width, workers=workers)
            acc.update(maps, m)
            np.testing.assert_array_equal(acc.fg_hist, ref.fg_hist)
            np.testing.assert_array_equal(acc.bg_hist, ref.bg_hist)
            assert acc.result()["pxap"] == ref.compute()


def test_pxap_mask_types():
    """bool masks (no ignore) and wider integer masks give the uint8 mask's result;
    a value other than 0, 1, 255 is named, in any integer type."""
    rng = np.random.default_rng(3)
    s = rng.random((2, 9, 9))
    m = (rng.random((2, 9, 9)) < 0.4).astype(np.uint8)
    want = pxap(s, m)
    assert pxap(s, m.astype(bool)) == want
    assert pxap(s, m.astype(np.int64)) == want
    for dtype in (np.uint8, np.int64):
        bad = m.astype(dtype)
        bad[1, 4, 4] = 7
        with pytest.raises(ValueError, match="the value 7"):
            pxap(s, bad)


def test_box_accumulator_workers_and_batches():
    """Threads and batch sizes do not change MaxBoxAcc's counts (V1 and V2)."""
    for multi in (False, True):
        one = BoxAccumulator(cam_thresholds=TAUS, multi_contour=multi, workers=1)
        one.update(MAPS, GTS)
        many = BoxAccumulator(cam_thresholds=TAUS, multi_contour=multi, workers=3)
        for a in range(0, len(MAPS), 5):
            many.update(MAPS[a:a + 5], GTS[a:a + 5])
        np.testing.assert_array_equal(one.num_correct, many.num_correct)


def test_pxap_edges_check_and_fallback(monkeypatch):
    """The compiled pass recomputes the edges as fl(j * bw): checked against the real
    edges (a shifted edge is refused), and np.histogram takes over where it fails."""
    from camjax.evaluation import _masks
    edges = np.append(np.arange(0, 1, 0.01), [1.0, 2.0, 3.0])
    assert _masks.uniform_edges(edges, 0.01) == 100
    shifted = edges.copy()
    shifted[7] = np.nextafter(shifted[7], 1)
    assert _masks.uniform_edges(shifted, 0.01) == 0
    rng = np.random.default_rng(4)
    s = rng.random((3, 10, 10))
    m = rng.choice(np.array([0, 1, 255], np.uint8), s.shape)
    want = pxap(s, m)
    monkeypatch.setattr(_masks, "uniform_edges", lambda e, bw: 0)
    assert pxap(s, m) == want
