"""``layer=`` against PyTorch: Grad-CAM of ``resnet50`` at ``layer3`` and LayerCAM at
``layer2`` equal a plain-PyTorch loop with forward hooks on those modules of a
torchvision-named ResNet-50 (random weights, randomised BatchNorm statistics and affine
parameters, eval mode) whose state dict is loaded into camjax. Maps are compared after
scaling each by its largest magnitude, to 1e-4; Grad-CAM's signed map (``relu=False``),
so that no map is compared as all zeros. One compile of ResNet-50 (both methods in one
program, at 64 x 64). ``exhaustive`` (make test-all): the same code path (``layer=`` at a
named stage of a torchvision-named ResNet against torch hooks) runs in make test on
``resnet18`` (tests/methods/test_cam_family_torch.py: Grad-CAM, LayerCAM and eight more
methods at ``layer2``)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from camjax import methods, models

torch = pytest.importorskip("torch", reason="PyTorch is needed for the hook reference")
from tests.models import torch_classifiers as ref  # noqa: E402  (needs torch)
from tests.models.torch_reference import randomize_batchnorm  # noqa: E402

CLASSES = np.array([[3, 7], [0, 3]])        # two classes per image, one shared


def torch_maps(net, images, layer_name, weigh, relu=True):
    """The peers' recipe with hooks: the module's output and the gradient of each class
    score with respect to it, one backward pass per class."""
    store = {}
    module = dict(net.named_modules())[layer_name]
    handle = module.register_forward_hook(lambda m, i, out: store.update(act=out))
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    logits = net(x)
    handle.remove()
    act, maps = store["act"], []
    for j in range(CLASSES.shape[1]):
        score = logits[torch.arange(len(x)), torch.from_numpy(CLASSES[:, j])].sum()
        (grad,) = torch.autograd.grad(score, act, retain_graph=True)
        cam = weigh(act, grad)
        maps.append((torch.relu(cam) if relu else cam).detach().numpy())
    return np.stack(maps, axis=1)                                    # (B, k, h, w)


def grad_cam(act, grad):
    return (grad.mean(dim=(2, 3), keepdim=True) * act).sum(dim=1)


def layer_cam(act, grad):
    return (torch.relu(grad) * act).sum(dim=1)


def scaled(maps):
    maps = np.asarray(maps, np.float64)
    scale = np.abs(maps).max(axis=(-2, -1), keepdims=True)
    assert np.all(scale > 0)          # no map compared as zeros
    return maps / scale


@pytest.mark.exhaustive      # make test: resnet18's layer2 (tests/methods/test_cam_family_torch)
def test_resnet50_grad_cam_at_layer3_and_layer_cam_at_layer2_equal_torch_hooks():
    torch.manual_seed(0)
    net = randomize_batchnorm(ref.ResNet(50, num_classes=10))
    state = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    model = models.create_abstract("resnet50", num_classes=10)
    assert models.load_pretrained(model, state).classifier_loaded
    images = np.random.default_rng(0).normal(0, 1, (2, 64, 64, 3)).astype(np.float32)
    graphdef, params = nnx.split(model)
    both = jax.jit(lambda s, x, c: (
        methods.grad_cam_fn(graphdef, s, x, c, layer="layer3", relu=False),
        methods.layer_cam_fn(graphdef, s, x, c, layer="layer2")))
    args = (params, jnp.asarray(images), jnp.asarray(CLASSES))
    gc, lc = both(*args)
    assert gc.shape == (2, 2, 4, 4) and lc.shape == (2, 2, 8, 8)
    want_gc = torch_maps(net, images, "layer3", grad_cam, relu=False)
    want_lc = torch_maps(net, images, "layer2", layer_cam)
    np.testing.assert_allclose(scaled(gc), scaled(want_gc), rtol=0, atol=1e-4)
    np.testing.assert_allclose(scaled(lc), scaled(want_lc), rtol=0, atol=1e-4)
