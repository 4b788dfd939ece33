"""Plain-PyTorch references for the perturbation methods, written from the papers:
Ablation-CAM, Score-CAM / IS-CAM / SS-CAM (every channel scored), RISE and occlusion. They
run on any network whose modules they name (the shared twin: :mod:`tests.methods.torch_refs`);
NHWC numpy in, maps (B, k, h, w) out."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tests.methods.torch_refs import NUM_CLASSES, layer_output, nchw


@torch.no_grad()
def ablation_cam(net, images, classes, layer, tail):
    """Desai & Ramaswamy eq. 3 with the rest of the network after ``layer``, ``tail(a)``,
    run on the layer's output with channel k set to zero, one channel at a time."""
    x = nchw(images, net)
    maps = []
    for b in range(len(x)):
        logits, act = layer_output(net, layer, x[b:b + 1])
        k = act.shape[1]
        ablated = act.repeat(k, 1, 1, 1)
        ablated[torch.arange(k), torch.arange(k)] = 0
        scores = tail(ablated)                                   # (K, C)
        row = []
        for c in classes[b]:
            y = logits[0, c]
            w = (y - scores[:, c]) / y
            row.append(torch.relu((w[:, None, None] * act[0]).sum(0)).numpy())
        maps.append(row)
    return np.array(maps)


def _score_masks(act, size):
    up = F.interpolate(act, size, mode="bilinear", align_corners=False)     # (1, K, H, W)
    lo = up.flatten(2).min(-1).values[..., None, None]
    hi = up.flatten(2).max(-1).values[..., None, None]
    return ((up - lo) / (hi - lo + 1e-8))[0]                                 # (K, H, W)


@torch.no_grad()
def score_family(net, images, classes, layer, coefficients=(1.0,), noise=None):
    """Score-CAM (softmax over channels of the class logit on ``x * M_k``), IS-CAM
    (``coefficients`` c_i: the mean over i of the logit on ``x * c_i M_k``) and SS-CAM
    (``noise`` (S, K, H, W): the mean over s of the logit on ``x * (M_k + noise_s)``),
    every channel scored (no skipping)."""
    x = nchw(images, net)
    maps = []
    for b in range(len(x)):
        _, act = layer_output(net, layer, x[b:b + 1])
        masks = _score_masks(act, x.shape[2:])
        variants = ([masks + torch.from_numpy(np.array(n)).to(x.dtype) for n in noise]
                    if noise is not None else [c * masks for c in coefficients])
        scores = torch.stack([net(v[:, None] * x[b:b + 1]) for v in variants]).mean(0)
        row = []
        for c in classes[b]:
            w = torch.softmax(scores[:, c], dim=0)
            row.append(torch.relu((w[:, None, None] * act[0]).sum(0)).numpy())
        maps.append(row)
    return np.array(maps)


@torch.no_grad()
def rise(net, images, classes, masks, p):
    """RISE's ``explain``: sum_i softmax(net(x * M_i))_c M_i / (N p)."""
    x = nchw(images, net)
    m = torch.from_numpy(np.array(masks)).to(x.dtype)       # a writable copy
    out = []
    for b in range(len(x)):
        probs = torch.softmax(net(m[:, None] * x[b:b + 1]), dim=1)          # (N, C)
        sal = (probs.T @ m.reshape(len(m), -1)).reshape(-1, *m.shape[1:]) / len(m) / p
        out.append(sal[list(classes[b])].numpy())
    return np.array(out)


@torch.no_grad()
def occlusion(net, images, classes, window, stride):
    """Zeiler & Fergus: the probability drop of a zero patch, averaged per pixel over the
    patches covering it (Captum's convention)."""
    x = nchw(images, net)
    h, w = x.shape[2:]
    probs = torch.softmax(net(x), dim=1)
    total = torch.zeros(len(x), NUM_CLASSES, h, w, dtype=x.dtype)
    count = torch.zeros(h, w, dtype=x.dtype)
    for y0 in range(0, h - window + 1, stride):
        for x0 in range(0, w - window + 1, stride):
            hidden = x.clone()
            hidden[:, :, y0:y0 + window, x0:x0 + window] = 0
            drop = probs - torch.softmax(net(hidden), dim=1)
            total[:, :, y0:y0 + window, x0:x0 + window] += drop[:, :, None, None]
            count[y0:y0 + window, x0:x0 + window] += 1
    maps = (total / count.clamp(min=1)).numpy()
    return np.take_along_axis(maps, np.asarray(classes)[:, :, None, None], axis=1)
