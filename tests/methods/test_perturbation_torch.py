"""The perturbation and pixel-space methods against plain-PyTorch references written from
the papers (tests/methods/torch_refs_perturbation.py and torch_refs_gradient.py):
Ablation-CAM, Score-CAM (constant channels skipped), SS-CAM, IS-CAM, RISE, occlusion,
guided backprop, guided Grad-CAM, Input x Gradient, Blur IG, Guided IG and XRAI, and CAM,
saliency, SmoothGrad and Integrated Gradients, on torchvision's ``resnet18`` (random
weights) and its plain-PyTorch twin with torchvision's names (``torch_refs.resnet_pair``),
at 32 x 32 px: the Score-CAM family at ``layer1`` (64 channels, 8 x 8, a quarter of them
dead), Ablation-CAM at ``layer2`` and, at 64 px, at the default layer4 (2 x 2). The
stochastic methods are given the same noise and masks as arrays. Maps are compared after
scaling each by its largest magnitude, to 1e-4; the methods with discrete choices (Guided
IG, XRAI) in float64, where rounding cannot change a choice.

Each test compiles ResNet-18 once or twice, and the references run it hundreds of times:
``make test`` runs one method of each family (Score-CAM with its skipping, Ablation-CAM,
Input x Gradient; the gradient and eigen methods are in test_cam_family_torch.py); the
others are ``exhaustive`` (``make test-all``), about 3 minutes more on 2 cores."""
from __future__ import annotations

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from skimage.transform import resize

from camjax import methods
from camjax.methods import scorecam

torch = pytest.importorskip("torch", reason="PyTorch is needed for the references")
from tests.methods import torch_refs as refs  # noqa: E402  (needs torch)
from tests.methods import torch_refs_gradient as grad_refs  # noqa: E402
from tests.methods import torch_refs_perturbation as pert_refs  # noqa: E402

rise_module = importlib.import_module("camjax.methods.rise")   # methods.rise is the method
CLASSES = np.array([[3, 6], [1, 3]])     # two classes per image, one shared


S = refs.SIZE
exhaustive = pytest.mark.exhaustive


@pytest.fixture(scope="module")
def tiny():
    return refs.resnet_pair()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).normal(0, 1, (2, S, S, 3)).astype(np.float32)


def same(got, want, atol=1e-4):
    np.testing.assert_allclose(refs.scaled(got), refs.scaled(want), rtol=0, atol=atol)


# ------------------------------------------------------------------ perturbation methods
@pytest.mark.parametrize("layer", ["layer2", pytest.param(None, marks=exhaustive)])
def test_ablation_cam_equals_the_channel_by_channel_reference(tiny, images, layer):
    """At layer2 (128 channels, 4 x 4), and at the default layer4 through the network's
    ``classify`` (at 64 px, where layer4 is 2 x 2)."""
    net, model = tiny
    if layer is None:
        images = np.random.default_rng(1).normal(0, 1, (2, 2 * S, 2 * S, 3)).astype(np.float32)
    got = methods.ablation_cam(model, images, CLASSES, batch_size=48,
                               **({"layer": layer} if layer else {}))
    layer = layer or "layer4"
    same(got, pert_refs.ablation_cam(net, images, CLASSES, layer,
                                lambda a: refs.tail(net, layer, a)))


def test_score_cam_skips_constant_channels_and_equals_scoring_every_channel(tiny, images):
    net, model = tiny
    _, f = refs.layer_output(net, "layer1", refs.nchw(images, net))   # the twin's layer1
    constant = np.asarray(scorecam.constant_channels(jnp.asarray(
        f.detach().numpy().transpose(0, 2, 3, 1), jnp.float32)))
    assert (constant == np.isin(np.arange(64), refs.DEAD)).all()      # a quarter skipped
    got = methods.score_cam(model, images, CLASSES, layer="layer1", batch_size=16)
    same(got, pert_refs.score_family(net, images, CLASSES, "layer1"))


@exhaustive
def test_score_cam_skipping_changes_no_channel_score(tiny, images):
    """channel_scores with and without the skip: the same (B, K, k) scores, to rounding."""
    _, model = tiny
    x = jnp.asarray(images)
    _, f = methods.base.layer_activations(*nnx.split(model), x, "layer1")

    def score_chunk(activations, ids):
        return scorecam.masked_scores(model, x, CLASSES, scorecam.channel_masks(
            activations, x.shape[1:3])[0])
    zero = scorecam.zero_image_scores(model, x, CLASSES)
    run = jax.jit(lambda skip: scorecam.channel_scores(
        x, f, score_chunk, batch_size=16, skip_constant=skip, zero_scores=zero)[0],
        static_argnums=0)
    skipped, every = np.asarray(run(True)), np.asarray(run(False))
    np.testing.assert_allclose(skipped, every, rtol=0, atol=1e-5 * np.abs(every).max())
    for b, constant in enumerate(np.asarray(scorecam.constant_channels(f))):
        assert np.ptp(every[b, constant], axis=0).max() < 1e-5   # one score: the zero image's


@exhaustive
def test_is_cam_equals_the_reference_with_torchcams_coefficients(tiny, images):
    net, model = tiny
    got = methods.is_cam(model, images, CLASSES, layer="layer1", steps=3, batch_size=32)
    same(got, pert_refs.score_family(net, images, CLASSES, "layer1",
                                coefficients=(1 / 3, 3 / 3, 6 / 3)))


@exhaustive
def test_ss_cam_equals_the_reference_given_the_same_noise(tiny, images):
    net, model = tiny
    key, samples, sigma = jax.random.key(4), 2, 0.5
    got = methods.ss_cam(model, images, CLASSES, layer="layer1", samples=samples,
                         sigma=sigma, key=key, batch_size=32)
    # the documented draw: sample s of channel K from fold_in(fold_in(key, s), K)
    draw = jax.vmap(jax.vmap(lambda s, k: sigma * jax.random.normal(
        jax.random.fold_in(jax.random.fold_in(key, s), k), (S, S)), (None, 0)), (0, None))
    noise = np.asarray(jax.jit(draw)(jnp.arange(samples), jnp.arange(64)))
    same(got, pert_refs.score_family(net, images, CLASSES, "layer1", noise=noise))


@exhaustive
def test_rise_equals_the_reference_given_the_same_masks(tiny, images):
    net, model = tiny
    key, size = jax.random.key(2), (S, S)
    masks, cells, shifts = jax.jit(jax.vmap(lambda i: rise_module.draw_mask(
        jax.random.fold_in(key, i), 4, 0.5, size)))(jnp.arange(24))     # the documented draw
    masks, cells, shifts = np.asarray(masks), np.asarray(cells), np.asarray(shifts)
    for m, c, dy, dx in zip(masks, cells, *shifts):      # RISE's generate_masks, skimage
        up = resize(c, (40, 40), order=1, mode="reflect", anti_aliasing=False)   # 5 cells of 8
        np.testing.assert_allclose(m, up[dy:dy + S, dx:dx + S], rtol=0, atol=1e-6)
    assert 0.3 < cells.mean() < 0.7 and len(set(map(tuple, shifts.T))) > 4
    got = methods.rise(model, images, CLASSES, masks=masks, p=0.5, batch_size=8)
    same(got, pert_refs.rise(net, images, CLASSES, masks, 0.5))
    drawn = methods.rise(model, images, CLASSES, samples=24, grid=4, key=key, batch_size=8)
    np.testing.assert_allclose(drawn, got, rtol=1e-5, atol=1e-7)   # the same masks drawn


@exhaustive
def test_occlusion_equals_the_sliding_patch_loop(tiny, images):
    net, model = tiny
    got = methods.occlusion(model, images, CLASSES, window=6, stride=6, batch_size=25)
    assert (np.asarray(got)[..., 30:, :] == 0).all()          # no patch reaches row 30
    same(got, pert_refs.occlusion(net, images, CLASSES, 6, 6))


# --------------------------------------------------------------------- pixel-space methods
@exhaustive
def test_guided_backprop_and_saliency_equal_the_relu_modules_guided_or_not(tiny, images):
    net, model = tiny
    got = methods.guided_backprop(model, images, CLASSES)
    same(got, grad_refs.guided_backprop(net, images, CLASSES))
    plain = methods.saliency(model, images, CLASSES)          # the guided rule changes it
    same(plain, grad_refs.saliency(net, images, CLASSES))
    assert np.abs(refs.scaled(got) - refs.scaled(plain)).max() > 0.05


@exhaustive
def test_guided_grad_cam_equals_the_reference(tiny, images):
    net, model = tiny
    got = methods.guided_grad_cam(model, images, CLASSES, layer="layer2")
    same(got, grad_refs.guided_grad_cam(net, images, CLASSES, "layer2"))


def test_input_x_gradient_equals_the_reference(tiny, images):
    net, model = tiny
    same(methods.input_x_gradient(model, images, CLASSES),
         grad_refs.input_x_gradient(net, images, CLASSES))


@exhaustive
def test_cam_smooth_grad_and_integrated_gradients_equal_the_references(tiny, images):
    """CAM at 64 px (layer4 2 x 2); SmoothGrad given camjax's documented noise (sample s:
    ``normal(fold_in(key, s))`` over the batch) as arrays."""
    net, model = tiny
    big = np.random.default_rng(1).normal(0, 1, (2, 2 * S, 2 * S, 3)).astype(np.float32)
    same(methods.cam(model, big, CLASSES), grad_refs.cam(net, big, CLASSES))
    key, samples, sigma = jax.random.key(11), 3, 0.2
    noise = np.stack([np.asarray(jax.random.normal(jax.random.fold_in(key, s), images.shape))
                      for s in range(samples)])
    got = methods.smooth_grad(model, images, CLASSES, samples=samples, sigma=sigma, key=key,
                              batch_size=2)
    same(got, grad_refs.smooth_grad(net, images, CLASSES, noise, sigma))
    got = methods.integrated_gradients(model, images, CLASSES, steps=4, batch_size=5)
    same(got, grad_refs.integrated_gradients(net, images, CLASSES, 4))


@exhaustive
def test_blur_ig_equals_the_reference_with_scipys_blur(tiny, images):
    net, model = tiny
    got = methods.blur_ig(model, images, CLASSES, steps=4, max_sigma=2.0, batch_size=3)
    same(got, grad_refs.blur_ig(net, images, CLASSES, 4, 2.0), atol=2e-4)


@pytest.fixture(scope="module")
def tiny64(tiny):
    """The camjax half of ``tiny`` in float64 (use inside ``jax.enable_x64``)."""
    graphdef, state = nnx.split(tiny[1])
    with jax.enable_x64(True):
        return nnx.merge(graphdef, jax.tree.map(lambda v: jnp.asarray(v, jnp.float64), state))


@exhaustive
def test_guided_ig_equals_pairs_loop_in_float64(tiny, tiny64, images):
    net, _ = tiny
    with jax.enable_x64(True):
        got = methods.guided_ig(tiny64, images[:1].astype(np.float64), CLASSES[:1], steps=4)
    want = grad_refs.guided_ig(net, images[:1], CLASSES[:1], 4)
    same(got, want, atol=1e-8)


@exhaustive
def test_xrai_equals_pairs_greedy_regions_in_float64(tiny, tiny64, images):
    net, _ = tiny
    x = np.random.default_rng(5).normal(0, 1, (1, 24, 24, 3))
    with jax.enable_x64(True):
        got = np.asarray(methods.xrai(tiny64, x, CLASSES[:1], steps=3, min_pixel_diff=20))
    want = grad_refs.xrai(net, x, CLASSES[:1], 3, min_pixel_diff=20)
    assert len(np.unique(want[0, 0])) > 2                     # several regions chosen
    same(got, want, atol=1e-8)
