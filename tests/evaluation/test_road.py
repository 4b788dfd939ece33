"""ROAD against pytorch-grad-cam's algorithm transcribed here (torch tensors, scipy's
lil_matrix and spsolve, one image at a time), a dense solve and hand-worked cases."""
import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg

import jax
import jax.numpy as jnp

from camjax.evaluation import ROADAccumulator, impute, road_scores
from camjax.evaluation.imputation import linear_system
from camjax.evaluation.road import kept_pixels

torch = pytest.importorskip("torch")

# ------------------------------------------------ pytorch-grad-cam, transcribed (reference)
WEIGHTS = [((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12),
           ((0, -1), 1 / 6), ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6)]


def ref_offset(indices, offset, shape):
    c1, c0 = indices % shape[1] + offset[1], indices // shape[1] + offset[0]
    invalid = (c0 < 0) | (c1 < 0) | (c0 >= shape[0]) | (c1 >= shape[1])
    return ~invalid, indices + offset[0] * shape[1] + offset[1]


def ref_system(mask, img):
    """NoisyLinearImputer.setup_sparse_system: mask (H, W) 1 = kept, img (C, H, W)."""
    maskflt, imgflat = mask.flatten(), img.reshape((img.shape[0], -1))
    indices = np.argwhere(maskflt == 0).flatten()
    to_var = np.zeros(len(maskflt), dtype=int)
    to_var[indices] = np.arange(len(indices))
    n = len(indices)
    a = scipy.sparse.lil_matrix((n, n))
    b = np.zeros((n, img.shape[0]))
    sum_neighbors = np.ones(n)
    for offset, weight in WEIGHTS:
        valid, coords = ref_offset(indices, offset, mask.shape)
        valid_coords, valid_ids = coords[valid], np.argwhere(valid == 1).flatten()
        has = maskflt[valid_coords] > 0.5
        b[valid_ids[has], :] -= weight * imgflat[:, valid_coords[has]].T
        a[valid_ids[~has], to_var[valid_coords[~has]]] = weight
        gone = np.argwhere(valid == 0).flatten()
        sum_neighbors[gone] = sum_neighbors[gone] - weight
    a[np.arange(n), np.arange(n)] = -sum_neighbors
    return a, b


def ref_impute(img, mask):
    """NoisyLinearImputer.__call__ with noise 0: img (C, H, W) tensor, mask (H, W)."""
    flat = img.reshape(img.shape[0], -1)
    unknown = np.argwhere(mask.reshape(-1).numpy() == 0).flatten()
    a, b = ref_system(mask.numpy(), img.numpy())
    res = torch.tensor(scipy.sparse.linalg.spsolve(scipy.sparse.csc_matrix(a), b),
                       dtype=torch.float).reshape(len(unknown), -1)
    out = flat.clone()
    out[:, unknown] = res.t()
    return out.reshape_as(img)


def ref_keep(cam, percentile, most_relevant_first):
    """RemoveMostRelevantFirst / RemoveLeastRelevantFirst's binary mask (1 = kept)."""
    mask = torch.from_numpy(cam) if most_relevant_first else 1 - torch.from_numpy(cam)
    threshold = np.percentile(mask.cpu().numpy(), percentile)
    return torch.from_numpy(np.float32(mask < threshold))


def ref_road(model_prob, images, cams, classes, percentiles):
    """PerturbationConfidenceMetric(return_diff) averaged across thresholds, per image."""
    out = {}
    for name, morf in (("morf", True), ("lerf", False)):
        scores = []
        for p in percentiles:
            row = []
            for x, cam, c in zip(images, cams, classes):
                t = torch.from_numpy(x).permute(2, 0, 1)
                imputed = ref_impute(t, ref_keep(cam, p, morf)).permute(1, 2, 0).numpy()
                row.append(model_prob(imputed, c) - model_prob(x, c))
            scores.append(row)
        out[name] = np.mean(np.float32(scores), axis=0)
    return out


# --------------------------------------------------------------------------- fixtures
def smooth_map(h, w, cy, cx, seed):
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    m = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 8.0) + 0.05 * rng.random((h, w))
    return ((m - m.min()) / (m.max() - m.min())).astype(np.float32)


def test_imputation_equals_pytorch_grad_cams_and_a_dense_solve():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(3, 7, 9, 3)).astype(np.float32)
    keep = rng.random((3, 7, 9)) > 0.45
    keep[1, :, :4] = False                         # a removed block touching three borders
    keep[2] = True
    keep[2, 0, 0] = keep[2, 6, 8] = False          # corners alone
    ours = impute(images, keep, noise=0.0)
    for i in range(3):
        ref = ref_impute(torch.from_numpy(images[i]).permute(2, 0, 1),
                         torch.from_numpy(keep[i].astype(np.float32)))
        np.testing.assert_allclose(ours[i], ref.permute(1, 2, 0).numpy(), atol=1e-6)
    np.testing.assert_array_equal(ours[keep], images[keep])      # known pixels untouched
    # the sparse system solved densely gives the same values
    a, b, unknown = linear_system(images, keep)
    dense = np.linalg.solve(a.toarray(), b)
    np.testing.assert_allclose(ours.reshape(-1, 3)[unknown], dense, atol=1e-6)


def test_one_removed_pixel_is_the_weighted_mean_of_its_neighbours_by_hand():
    image = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    keep = np.ones((1, 3, 3), bool)
    keep[0, 1, 1] = False
    # edges 1, 3, 5, 7 (weight 1/6), corners 0, 2, 6, 8 (1/12): 16/6 + 16/12 = 4
    assert impute(image, keep, noise=0.0)[0, 1, 1, 0] == pytest.approx(4.0)
    # a corner pixel: neighbours (0, 1) and (1, 0) at 1/6 and (1, 1) at 1/12, renormalised
    keep = np.ones((1, 3, 3), bool)
    keep[0, 0, 0] = False
    want = (1 / 6 * 1 + 1 / 6 * 3 + 1 / 12 * 4) / (1 / 6 + 1 / 6 + 1 / 12)
    assert impute(image, keep, noise=0.0)[0, 0, 0, 0] == pytest.approx(want)


def test_noise_and_an_image_with_nothing_kept():
    rng = np.random.default_rng(1)
    images = rng.normal(size=(2, 5, 6, 3)).astype(np.float32)
    keep = rng.random((2, 5, 6)) > 0.5
    keep[1] = False                                 # singular for the references: 0 here
    draws = rng.normal(size=images.shape).astype(np.float32)
    exact = impute(images, keep, noise=0.0)
    noisy = impute(images, keep, noise=0.01, draws=draws)
    np.testing.assert_array_equal(exact[1], 0.0)
    np.testing.assert_allclose(noisy - exact, np.where(keep[..., None], 0, 0.01 * draws),
                               atol=1e-6)


def test_masks_follow_pytorch_grad_cams_percentile_rule_with_ties():
    cams = np.stack([smooth_map(6, 7, 2, 3, 0), np.round(smooth_map(6, 7, 4, 1, 1) * 4) / 4])
    percentiles = (10, 25, 50, 80, 90)
    keep = kept_pixels(cams, percentiles)
    for i, cam in enumerate(cams):
        for j, p in enumerate(percentiles):
            np.testing.assert_array_equal(keep[i, j], ref_keep(cam, p, True).numpy() == 1)
            np.testing.assert_array_equal(keep[i, len(percentiles) + j],
                                          ref_keep(cam, p, False).numpy() == 1)


@jax.jit
def score_fn(x):
    """A network whose class-0 logit is the mean pixel times 4: p0 = sigmoid(4 mean)."""
    s = 4 * x.mean(axis=(1, 2, 3))
    return jnp.stack([jax.nn.sigmoid(s), 1 - jax.nn.sigmoid(s)], axis=1)


def prob(x, c):
    p0 = 1 / (1 + np.exp(-4 * np.asarray(x, np.float64).mean()))
    return p0 if c == 0 else 1 - p0


def test_road_scores_equal_the_transcribed_pipeline():
    rng = np.random.default_rng(2)
    images = (rng.normal(size=(3, 8, 8, 3)) + np.array([1.0, 0, -1])[:, None, None, None]
              ).astype(np.float32)
    images[0, 2:5, 3:6] += 2.0                       # a bright object where the map points
    cams = np.stack([smooth_map(8, 8, 3, 4, s) for s in range(3)])
    classes = np.array([0, 1, 0])
    percentiles = (20, 50, 80)
    ours = road_scores(score_fn, images, cams, classes, percentiles=percentiles, noise=0.0,
                       batch_size=4)                 # 6 variants: one padded chunk of 4
    ref = ref_road(prob, images, cams, classes, percentiles)
    for name in ("morf", "lerf"):
        np.testing.assert_allclose(ours[name].mean(axis=1), ref[name], atol=2e-6)
    # removing image 0's bright object first lowers p0 more than removing the rest
    assert ours["morf"][0].mean() < ours["lerf"][0].mean()


def test_road_accumulator_merges_and_does_not_depend_on_the_batching():
    rng = np.random.default_rng(3)
    images = rng.normal(size=(4, 6, 6, 3)).astype(np.float32)
    cams = np.stack([smooth_map(6, 6, 2, 2 + s, s) for s in range(4)])
    classes = np.array([0, 1, 1, 0])
    options = {"percentiles": (30, 70), "noise": 0.01, "key": jax.random.key(5)}
    whole = ROADAccumulator(score_fn, **options)
    whole.update(images, cams, classes)
    a, b = ROADAccumulator(score_fn, **options), ROADAccumulator(score_fn, **options)
    a.update(images[2:], cams[2:], classes[2:], indices=[2, 3])     # another order
    b.update(images[:2], cams[:2], classes[:2], indices=[0, 1])
    merged = a.merge(b).result()
    r = whole.result()
    for key in ("road_morf", "road_lerf", "road_combined"):
        assert merged[key] == pytest.approx(r[key], abs=1e-7)
    assert r["road_combined"] == pytest.approx((r["road_lerf"] - r["road_morf"]) / 2)
    assert r["num_images"] == 4 and len(r["morf_curve"]) == 2
    moved = ROADAccumulator(score_fn, **options)
    moved.set_state(whole.get_state())
    assert moved.result()["road_morf"] == r["road_morf"]
    with pytest.raises(ValueError, match="different settings"):
        ROADAccumulator(score_fn, percentiles=(50,)).merge(whole)
