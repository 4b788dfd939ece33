"""The network the plain-PyTorch references of the map methods run on: torchvision's
``resnet18`` with random weights (torchvision's own initialisation, random BatchNorm
statistics and affine parameters, eval mode), as the plain-PyTorch twin of
tests/models/torch_classifiers.py with torchvision's module and parameter names, its state
dict loaded into camjax's ``resnet18`` by those names (``load_pretrained``). At 32 x 32
px layer1 is 8 x 8, layer2 4 x 4, layer3 2 x 2, layer4 1 x 1: the methods look at layer1 or
layer2. One build of each network, shared by every test (:func:`resnet_pair`). The
references take any network whose modules they name (``layer_output`` hooks
``named_modules()``). NCHW in torch, NHWC in camjax: the helpers convert.

This module holds the network and the helpers the references share; the references are
in :mod:`tests.methods.torch_refs_perturbation` (Ablation-CAM, the Score-CAM family,
RISE, occlusion) and :mod:`tests.methods.torch_refs_gradient` (CAM and the gradient and
path-attribution methods)."""
from __future__ import annotations

import functools

import numpy as np
import torch

from camjax import models
from tests.models.torch_classifiers import ResNet
from tests.models.torch_reference import randomize_batchnorm

NUM_CLASSES = 10
SIZE = 32                                  # images are SIZE x SIZE
DEAD = np.arange(0, 64, 4)                 # layer1's output channels killed: constant (zero)
STAGES = ("layer1", "layer2", "layer3", "layer4")


def torchvision_init(net: torch.nn.Module) -> torch.nn.Module:
    """torchvision's ResNet initialisation: He-normal (fan_out) convolutions; its linear
    layer keeps torch's default."""
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net


@functools.cache
def resnet_pair(seed: int = 3):
    """(the torch twin in float64, camjax ``resnet18``) with the same weights; channels
    ``DEAD`` of layer1's output are dead (a large negative bias of ``layer1.1.bn2``, before
    the residual sum and ReLU), so Score-CAM has constant channels to skip."""
    torch.manual_seed(seed)
    net = randomize_batchnorm(torchvision_init(ResNet(18, num_classes=NUM_CLASSES)), seed)
    with torch.no_grad():
        net.layer1[1].bn2.bias[torch.from_numpy(DEAD)] = -1e4
    for m in net.modules():      # hooks read layer outputs an in-place ReLU would overwrite
        if isinstance(m, torch.nn.ReLU):
            m.inplace = False
    model = models.create_abstract("resnet18", num_classes=NUM_CLASSES)
    report = models.load_pretrained(model, {k: v.detach().numpy()
                                            for k, v in net.state_dict().items()})
    assert report.classifier_loaded
    model.eval()
    return net.double().eval(), model


def tail(net, layer, a):
    """The rest of the ResNet after the stage ``layer`` (``"layer1"`` ... ``"layer4"``)."""
    for name in STAGES[STAGES.index(layer) + 1:]:
        a = getattr(net, name)(a)
    return net.fc(torch.flatten(net.avgpool(a), 1))


def nchw(images, like=None):
    """NHWC numpy -> NCHW tensor, float64 (or the dtype of the module ``like``)."""
    x = torch.from_numpy(np.ascontiguousarray(np.asarray(images, np.float64)
                                              .transpose(0, 3, 1, 2)))
    return x if like is None else x.to(next(like.parameters()).dtype)


def scaled(maps):
    """Each map divided by its largest magnitude (no map compared as zeros)."""
    maps = np.asarray(maps, np.float64)
    scale = np.abs(maps).max(axis=(-2, -1), keepdims=True)
    assert np.all(scale > 0)
    return maps / scale


def layer_output(net, layer, x):
    store = {}
    handle = dict(net.named_modules())[layer].register_forward_hook(
        lambda m, i, out: store.update(out=out))
    logits = net(x)
    handle.remove()
    return logits, store["out"]
