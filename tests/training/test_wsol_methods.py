"""Each WSOL method's deterministic part against a transcription of wsolevaluation's code
(clovaai/wsolevaluation ``wsol/method/*.py``, ``main.py``), run here on the same arrays
with the same random draws: HaS's hidden patches, CutMix's box and label weight, ADL's
importance map and drop mask, ACoL's erased features and fused map, SPG's seed masks,
attention and masked losses; and the few-shot target."""
from __future__ import annotations

import itertools
import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from camjax.data import transforms
from camjax.models.wsol import acol, adl
from camjax.training.wsol import augment, losses

torch = pytest.importorskip("torch")
F = torch.nn.functional


# --- wsolevaluation, transcribed (NCHW torch / numpy) -----------------------------------
def ref_has(image, grid_size, drop_rate):
    """wsol/method/has.py (random.random() draws, in its loop order)."""
    if grid_size == 0:
        return image
    batch_size, _, height, width = image.size()
    for batch_idx in range(batch_size):
        for x in range(0, width, grid_size):
            for y in range(0, height, grid_size):
                x_end = min(height, x + grid_size)
                y_end = min(height, y + grid_size)
                if random.random() <= drop_rate:
                    image[batch_idx, :, x:x_end, y:y_end] = 0.
    return image


def ref_rand_bbox(size, lam, cx, cy):
    """wsol/method/cutmix.py rand_bbox with its two randint draws given."""
    w, h = size[2], size[3]
    cut_rat = np.sqrt(1. - lam)
    cut_w, cut_h = int(w * cut_rat), int(h * cut_rat)
    bbx1, bby1 = np.clip(cx - cut_w // 2, 0, w), np.clip(cy - cut_h // 2, 0, h)
    bbx2, bby2 = np.clip(cx + cut_w // 2, 0, w), np.clip(cy + cut_h // 2, 0, h)
    return bbx1, bby1, bbx2, bby2


def ref_cutmix(x, target, lam, rand_index, cx, cy):
    bbx1, bby1, bbx2, bby2 = ref_rand_bbox(x.size(), lam, cx, cy)
    x = x.clone()
    x[:, :, bbx1:bbx2, bby1:bby2] = x[rand_index, :, bbx1:bbx2, bby1:bby2]
    lam = 1 - ((bbx2 - bbx1) * (bby2 - bby1) / (x.size()[-1] * x.size()[-2]))
    return x, target[rand_index], lam


def ref_adl(input_, u, drop_rate, drop_threshold):
    """wsol/method/adl.py ADL.forward in training, torch.rand([]) = u."""
    attention = torch.mean(input_, dim=1, keepdim=True)
    importance_map = torch.sigmoid(attention)
    b = attention.size(0)
    max_val, _ = torch.max(attention.view(b, -1), dim=1, keepdim=True)
    drop_mask = (attention < (max_val * drop_threshold).view(b, 1, 1, 1)).float()
    binary = (torch.tensor(u, dtype=torch.float32) + drop_rate).floor()
    selected = (1. - binary) * importance_map + binary * drop_mask
    return importance_map, drop_mask, input_.mul(selected)


def ref_normalize_tensor(x):
    v = x.view(x.size(0), x.size(1), -1)
    lo, _ = torch.min(v, dim=-1, keepdim=True)
    hi, _ = torch.max(v, dim=-1, keepdim=True)
    return ((v - lo) / (hi - lo)).view(x.size())


def ref_get_attention(feature, label):
    return ref_normalize_tensor(feature[range(feature.size(0)), label].unsqueeze(1))


def ref_erase(feature, attention, drop_threshold):
    b, _, h, w = attention.size()
    mask = attention.new_ones((b, 1, h, w))
    mask[torch.ge(attention, drop_threshold).data] = 0.
    return feature * mask


def ref_get_mask(attention, thr_high, thr_low, size):
    mask = attention.new_zeros((attention.size(0), 1, size, size)).fill_(255)
    for i in range(attention.size(0)):
        fg = attention[i] > thr_high
        if torch.sum(fg.float()).item() < 30:
            fg = attention[i] > torch.max(attention[i]) * 0.7
        mask[i][fg] = 1.
    mask[(attention < thr_low).data] = 0.
    return mask


def ref_loss_attention(logits, labels):
    pos = labels.view(-1, 1) < 255.
    return torch.nn.BCEWithLogitsLoss()(logits.view(-1, 1)[pos], labels.view(-1, 1)[pos])


def t(x):          # NHWC numpy -> NCHW torch
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(np.asarray(x), -1, 1)))


def n(x):          # NCHW torch -> NHWC numpy
    return np.moveaxis(x.numpy(), 1, -1)


RNG = np.random.default_rng(0)


# --- HaS -------------------------------------------------------------------------------
# rates exact in float32, so that a draw equal to the rate compares alike on both sides
@pytest.mark.parametrize("size,grid,rate", [(32, 4, 0.5), (30, 7, 0.375), (32, 32, 0.75),
                                            (16, 5, 1.0)])
def test_has_hides_the_patches_wsolevaluation_hides(size, grid, rate, monkeypatch):
    images = RNG.normal(size=(3, size, size, 2)).astype(np.float32)
    cells = -(-size // grid)
    u = RNG.random((3, cells, cells)).astype(np.float32)
    u.flat[0] = rate                                   # a draw equal to the rate hides
    draws = iter(u.ravel().tolist())
    monkeypatch.setattr(random, "random", lambda: next(draws))
    expected = n(ref_has(t(images), grid, rate))
    hidden = augment.has_mask(jnp.asarray(u), grid, rate, size, size)
    got = np.where(np.asarray(hidden)[..., None], 0.0, images)
    np.testing.assert_array_equal(got, expected)
    assert next(draws, None) is None                   # one draw per patch, none left over


def test_has_from_a_key_and_grid_zero():
    images = jnp.asarray(RNG.normal(size=(2, 12, 12, 3)), jnp.float32)
    key = jax.random.key(3)
    u = jax.random.uniform(key, (2, 3, 3))
    want = jnp.where(augment.has_mask(u, 4, 0.5, 12, 12)[..., None], 0.0, images)
    np.testing.assert_array_equal(augment.has(key, images, 4, 0.5), want)
    assert (np.asarray(augment.has(key, images, 4, 0.5)) == 0).any()
    np.testing.assert_array_equal(augment.has(key, images, 0, 0.5), images)


# --- CutMix ----------------------------------------------------------------------------
@pytest.mark.parametrize("lam,cx,cy", [(0.3, 5, 20), (0.75, 0, 0), (0.0, 31, 31),
                                       (0.999, 16, 3), (0.5, 20, 9)])
def test_cutmix_box_and_weight(lam, cx, cy):
    h, w = 32, 24
    box, weight = augment.cutmix_box(lam, cx, cy, h, w)
    x1, y1, x2, y2 = ref_rand_bbox((4, 3, h, w), lam, cx, cy)
    assert tuple(int(v) for v in box) == (x1, y1, x2, y2)
    assert float(weight) == pytest.approx(1 - (x2 - x1) * (y2 - y1) / (h * w), abs=1e-6)


@pytest.mark.parametrize("lam,perm,cx,cy", [(0.4, (2, 0, 1, 5, 3, 4), 4, 11),
                                             (0.9, (5, 4, 3, 2, 1, 0), 15, 0)])
def test_cutmix_mixes_as_wsolevaluation(lam, perm, cx, cy):
    images = RNG.normal(size=(6, 16, 16, 3)).astype(np.float32)
    labels = np.arange(6, dtype=np.int32)
    mixed, labels_b, weight = augment.mix(jnp.asarray(images), jnp.asarray(labels), True,
                                          lam, jnp.asarray(perm), cx, cy)
    x, tb, lam_ref = ref_cutmix(t(images), torch.from_numpy(labels), lam, list(perm), cx, cy)
    np.testing.assert_array_equal(np.asarray(mixed), n(x))
    np.testing.assert_array_equal(np.asarray(labels_b), tb.numpy())
    assert float(weight) == pytest.approx(lam_ref, abs=1e-6)
    # a batch not mixed (main.py: cutmix_prob <= rand, or beta 0): unchanged, weight 1
    same, _, w1 = augment.mix(jnp.asarray(images), jnp.asarray(labels), False, lam,
                              jnp.asarray(perm), cx, cy)
    np.testing.assert_array_equal(np.asarray(same), images)
    assert float(w1) == 1.0


# --- ADL -------------------------------------------------------------------------------
@pytest.mark.parametrize("u,rate,threshold", [(0.1, 0.75, 0.9), (0.3, 0.5, 0.8),
                                              (0.6, 0.25, 0.5), (0.0, 0.0, 1.0)])
def test_adl_importance_drop_mask_and_output(u, rate, threshold):
    x = RNG.normal(size=(2, 5, 7, 6)).astype(np.float32)
    importance, drop, out = ref_adl(t(x), u, rate, threshold)
    got_importance, got_drop = adl.importance_and_drop(jnp.asarray(x), threshold)
    np.testing.assert_allclose(got_importance, n(importance), rtol=1e-6)
    np.testing.assert_array_equal(got_drop, n(drop))
    np.testing.assert_allclose(adl.adl(jnp.asarray(x), jnp.float32(u), rate, threshold), n(out),
                               rtol=1e-6, atol=1e-7)


# --- ACoL ------------------------------------------------------------------------------
def test_acol_erased_features_and_fused_map():
    features = RNG.normal(size=(3, 6, 6, 4)).astype(np.float32)
    maps_a = RNG.normal(size=(3, 6, 6, 5)).astype(np.float32)
    maps_a[2, ..., 1] = 0.5                           # a constant map: NaN there, no erasing
    maps_b = RNG.normal(size=(3, 6, 6, 5)).astype(np.float32)
    labels = np.array([0, 3, 1])
    for threshold in (0.7, 0.3):
        attention = ref_get_attention(t(maps_a), torch.from_numpy(labels))
        expected = n(ref_erase(t(features), attention, threshold))
        label_map = maps_a[np.arange(3), ..., labels]
        got = acol.erase(jnp.asarray(features), jnp.asarray(label_map), threshold)
        np.testing.assert_array_equal(got, expected)
    fused = torch.max(ref_normalize_tensor(t(maps_a)), ref_normalize_tensor(t(maps_b)))
    got = np.asarray(acol.fused(jnp.asarray(maps_a), jnp.asarray(maps_b)))
    finite = np.isfinite(n(fused))
    np.testing.assert_allclose(got[finite], n(fused)[finite], rtol=1e-6)
    # where wsolevaluation's constant map is NaN, camjax's is 0, the other branch wins
    np.testing.assert_allclose(got[2, ..., 1], n(ref_normalize_tensor(t(maps_b)))[2, ..., 1],
                               rtol=1e-6)


# --- SPG -------------------------------------------------------------------------------
def test_spg_seed_masks():
    size = 24
    attention = RNG.random((4, size, size)).astype(np.float32)
    attention[1] *= 0.5                                  # < 30 pixels above 0.7: 0.7 x max
    attention[2] = np.nan                                # a constant class map, normalised
    attention[3, :2, :3] = 0.999                         # few strong pixels
    attention[3, 2:] *= 0.3
    for high, low in ((0.7, 0.01), (0.5, 0.05), (0.3, 0.2)):
        expected = ref_get_mask(torch.from_numpy(attention[:, None]), high, low, size)
        got = losses.seed_mask(jnp.asarray(attention), high, low)
        np.testing.assert_array_equal(got, expected[:, 0].numpy())
    assert (np.asarray(losses.seed_mask(jnp.asarray(attention), 0.7, 0.01))[2] == 255).all()


def test_spg_attention_and_masked_loss():
    label_map = RNG.normal(size=(2, 7, 7)).astype(np.float32)
    up = torch.nn.Upsample(size=(28, 28), mode="bilinear")
    expected = ref_normalize_tensor(up(torch.from_numpy(label_map)[:, None]))[:, 0]
    np.testing.assert_allclose(losses.spg_attention(jnp.asarray(label_map), (28, 28)),
                               expected.numpy(), rtol=1e-5, atol=1e-6)
    logits = RNG.normal(size=(2, 7, 7)).astype(np.float32)
    mask = ref_get_mask(expected[:, None], 0.6, 0.2, 28)[:, 0]
    want = ref_loss_attention(up(torch.from_numpy(logits)[:, None])[:, 0], mask)
    got = losses.masked_bce(losses.upsample(jnp.asarray(logits), (28, 28)), jnp.asarray(mask))
    assert float(got) == pytest.approx(float(want), rel=1e-5)
    assert float(losses.masked_bce(jnp.zeros((1, 4, 4)), jnp.full((1, 4, 4), 255.0))) == 0.0


# --- the few-shot baseline's target ------------------------------------------------------
def test_fewshot_foreground_from_boxes_and_masks():
    record = {"image": np.zeros((10, 12, 3), np.uint8), "label": 1,
              "boxes": np.array([[1, 2, 3, 4], [8, 0, 11, 1]])}
    fg = transforms.foreground_mask(record)
    want = np.zeros((10, 12), np.uint8)
    for x0, y0, x1, y1 in record["boxes"]:
        for y, x in itertools.product(range(y0, y1 + 1), range(x0, x1 + 1)):
            want[y, x] = 1
    np.testing.assert_array_equal(fg, want)
    record = {**record, "mask": np.where(want, 255, 0).astype(np.uint8)}
    np.testing.assert_array_equal(transforms.foreground_mask(record), record["mask"])
    # the same crop and flip as the image: the box's pixels follow the image's pixels
    record = {"image": (np.arange(10 * 12 * 3) % 251).astype(np.uint8).reshape(10, 12, 3),
              "label": 0, "boxes": np.array([[0, 0, 5, 9]])}
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    plain = transforms.train_example(record, rng_a, image_size=8, augment="resize_crop")
    both = transforms.train_example(record, rng_b, image_size=8, augment="resize_crop",
                                    foreground=True)
    np.testing.assert_array_equal(plain["image"], both["image"])
    left = np.zeros((10, 12), np.uint8)
    left[:, :6] = 1
    big = transforms.resize(left, 8 * 256 // 224, transforms.cv2.INTER_NEAREST)
    assert set(np.unique(both["foreground"])) <= {0, 1}
    assert both["foreground"].shape == (8, 8) and big.shape == (9, 9)


def test_acol_class_maps_erase_by_the_class_asked_for():
    """``model(images)`` erases by the prediction: its fused map of the top-1 class is
    ``class_maps``'s; another class's exact map reruns branch B erased by that class."""
    from flax import nnx

    from camjax import models
    net = models.create("tiny_gap", num_classes=4, rngs=nnx.Rngs(1), wsol_method="acol",
                        widths=(8, 8), strides=(2, 1), cam_channels=8, acol_threshold=0.5)
    net.eval()
    graphdef, state = nnx.split(net)

    @jax.jit
    def run(state, x):
        model = nnx.merge(graphdef, state)
        logits, fused = model(x)
        top = jnp.argmax(logits, -1)
        other = (top + 1) % 4
        maps = model.class_maps(x, jnp.stack([top, other], 1))
        out = acol.forward(model, model.trunk(x)["features"], other)
        return (top, other, fused, maps, acol.fused(out["maps_a"], out["maps_b"]),
                model.classify(fused), model.cam_weights(fused))

    x = jnp.asarray(RNG.normal(size=(2, 16, 16, 3)), jnp.float32)
    top, other, fused, maps, by_other, scores, weights = map(np.asarray, run(state, x))
    # the network contract: the CAM of class c (identity weights) is c's fused map
    np.testing.assert_array_equal(weights, np.eye(4))
    np.testing.assert_allclose(scores, fused.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(maps[:, 0], np.moveaxis(fused, -1, 1)[[0, 1], top],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(maps[:, 1], np.moveaxis(by_other, -1, 1)[[0, 1], other],
                               rtol=1e-5, atol=1e-6)
