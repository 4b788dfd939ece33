"""Grad-CAM of the vision transformers at a named block, through ``camjax.explain``, equal to
the peers' recipe in plain PyTorch: a forward hook on the module of that name in a network
with torchvision's (timm's for DeiT) module and parameter names, the gradient of each class
logit there, the class token dropped and the patch tokens reshaped to the patch grid (the
``reshape_transform`` pytorch-grad-cam users write), then ``sum_D mean_hw(grad) * act``.

Random weights (``tests.models.test_transformers_torch.randomize``: LayerNorm scales and
biases, tokens and position embeddings too), eval mode, the state dict loaded whole into
camjax. Reduced depth (three blocks; Swin's features.5 two) so that a named block sits between
others; each map compiled once. Maps are compared at the patch grid (``size`` = the grid,
``normalize=None``) after scaling each by its largest magnitude, to 1e-4; Grad-CAM's signed
map (``relu=False``), so that no map is compared as zeros. Two classes per image (the
engine's per-class pullbacks). ViT: Grad-CAM and LayerCAM at ``encoder_layer_1``; DeiT:
Grad-CAM at ``blocks.1`` and at its default layer, at 160x224 (a 10x14 grid: rows and
columns cannot be swapped unnoticed; position embeddings resampled on both sides); Swin:
Grad-CAM at ``features.5``.
"""
from __future__ import annotations

import numpy as np
import pytest
from flax import nnx

import camjax
from camjax import models

torch = pytest.importorskip("torch", reason="PyTorch is needed for the hook reference")
from tests.models import torch_swin, torch_transformers as ref  # noqa: E402  (need torch)
from tests.models.test_transformers_torch import randomize  # noqa: E402

CLASSES = np.array([[3, 917], [917, 40]])          # two per image, one shared
# Swin: a plain and a shifted block in features.5 (14x14 at 224: the shift is used), one
# block in the other stages
DEPTHS = (1, 1, 2, 1)


def loaded(name, net, **options):
    """camjax's ``name`` (shape-only, then filled) from ``net``'s state dict."""
    model = nnx.eval_shape(lambda: models.create(name, num_classes=1000, rngs=nnx.Rngs(0),
                                                 **options))
    state = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    report = models.load_pretrained(model, state)
    assert report.classifier_loaded and report.new == []
    return model


def hooked(net, images, layer):
    """The named module's output (as torch gives it) and, for each column of CLASSES,
    the gradient of ``sum_b logit[b, CLASSES[b, j]]`` there: one backward pass a class."""
    seen = {}
    module = dict(net.named_modules())[layer]
    handle = module.register_forward_hook(lambda m, i, out: seen.update(out=out))
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    try:
        logits = net(x)
    finally:
        handle.remove()
    grads = [torch.autograd.grad(logits[torch.arange(len(x)), torch.from_numpy(c)].sum(),
                                 seen["out"], retain_graph=True)[0]
             for c in CLASSES.T]
    return seen["out"].detach(), grads, logits.detach().numpy()


def torch_maps(net, images, layer, weigh):
    """(B, k, h, w) maps of ``weigh(act, grad)`` on the (B, h, w, D) grids at ``layer``."""
    act, grads, logits = hooked(net, images, layer)
    if act.ndim == 3:                                    # tokens: the peers' reshape
        grid = net.grid(torch.empty(images.shape[0], 3, *images.shape[1:3]))
        act, grads = ref.tokens_to_grid(act, grid), [ref.tokens_to_grid(g, grid) for g in grads]
    return np.stack([weigh(act, g).numpy() for g in grads], axis=1), logits


def grad_cam(act, grad):
    return (grad.mean(dim=(1, 2), keepdim=True) * act).sum(dim=-1)


def layer_cam(act, grad):
    return torch.relu((torch.relu(grad) * act).sum(dim=-1))


def scaled(maps):
    maps = np.asarray(maps, np.float64)
    scale = np.abs(maps).max(axis=(-2, -1), keepdims=True)
    assert np.all(scale > 0)                             # no map compared as zeros
    return maps / scale


def explained(model, images, method, layer, grid, **options):
    result = camjax.explain(model, images, method, classes=CLASSES, layer=layer, size=grid,
                            normalize=None, **options)
    return np.asarray(result.maps), np.asarray(result.logits)


def check(model, net, images, method, layer, weigh, grid, **options):
    got, logits = explained(model, images, method, layer, grid, **options)
    want, want_logits = torch_maps(net, images, layer or net.features_layer, weigh)
    assert got.shape == want.shape == (len(images), CLASSES.shape[1], *grid)
    np.testing.assert_allclose(logits, want_logits, rtol=0,
                               atol=1e-4 * np.abs(want_logits).max())
    np.testing.assert_allclose(scaled(got), scaled(want), rtol=0, atol=1e-4)
    return got


@pytest.mark.torch
def test_vit_grad_cam_and_layer_cam_at_a_named_block_equal_torch_hooks():
    torch.manual_seed(0)
    net = randomize(ref.VisionTransformer("vit_b_32", num_layers=3), seed=0)
    model = loaded("vit_b_32", net, num_layers=3)
    images = np.random.default_rng(0).normal(size=(2, 224, 224, 3)).astype(np.float32)
    block = "encoder.layers.encoder_layer_1"             # a block's output, mid-network
    check(model, net, images, "grad_cam", block, grad_cam, (7, 7), relu=False)
    check(model, net, images, "layer_cam", block, layer_cam, (7, 7))


@pytest.mark.torch
def test_deit_grad_cam_at_a_named_block_and_its_features_equal_torch_hooks():
    torch.manual_seed(1)
    net = randomize(ref.DeiT("deit_small_patch16_224", depth=3), seed=1)
    model = loaded("deit_small_patch16_224", net, depth=3)
    images = np.random.default_rng(1).normal(size=(2, 160, 224, 3)).astype(np.float32)
    at_block = check(model, net, images, "grad_cam", "blocks.1", grad_cam, (10, 14),
                     relu=False)
    # the default layer: the last block's first LayerNorm (features_layer)
    assert model.features_layer == net.features_layer == "blocks.2.norm1"
    default = check(model, net, images, "grad_cam", None, grad_cam, (10, 14), relu=False)
    assert not np.allclose(scaled(at_block), scaled(default), atol=1e-2)   # two layers


@pytest.mark.torch
def test_swin_grad_cam_at_features_5_equals_torch_hooks():
    # Swin's stages are NHWC in torchvision: the hook's output is the grid as it is
    torch.manual_seed(2)
    net = randomize(torch_swin.SwinTransformer("swin_t", DEPTHS), seed=2)
    model = loaded("swin_t", net, depths=DEPTHS)
    images = np.random.default_rng(2).normal(size=(2, 224, 224, 3)).astype(np.float32)
    check(model, net, images, "grad_cam", "features.5", grad_cam, (14, 14), relu=False)
