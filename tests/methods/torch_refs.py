"""Plain-PyTorch references for the map methods, written from the papers (or the peers'
formulas where the papers are silent), and the network they run on: torchvision's
``resnet18`` with random weights (torchvision's own initialisation, random BatchNorm
statistics and affine parameters, eval mode), as the plain-PyTorch twin of
tests/models/torch_classifiers.py with torchvision's module and parameter names, its state
dict loaded into camjax's ``resnet18`` by those names (``load_pretrained``). At 32 x 32
px layer1 is 8 x 8, layer2 4 x 4, layer3 2 x 2, layer4 1 x 1: the methods look at layer1 or
layer2. One build of each network, shared by every test (:func:`resnet_pair`). The
references take any network whose modules they name (``layer_output`` hooks
``named_modules()``). NCHW in torch, NHWC in camjax: the helpers convert."""
from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

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


def class_logit(logits, c):
    return logits[:, c]


# ----------------------------------------------------------------- perturbation methods
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


# ------------------------------------------------------------------ gradient methods
def input_grad(net, x, c):
    """d logit_c / d x for one image x (1, 3, H, W)."""
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(net(x)[0, c], x)
    return g


class GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x > 0) * (g > 0)


class GuidedReLUModule(torch.nn.Module):
    def forward(self, x):
        return GuidedReLU.apply(x)


def guided_copy(net):
    """A copy of ``net`` with every nn.ReLU module guided (Springenberg et al.)."""
    import copy
    guided = copy.deepcopy(net)
    for module in guided.modules():
        for name, child in module.named_children():
            if isinstance(child, torch.nn.ReLU):
                setattr(module, name, GuidedReLUModule())
    return guided


def per_image(fn, images, classes, net):
    x = nchw(images, net)
    return np.array([[fn(x[b:b + 1], int(c)) for c in classes[b]] for b in range(len(x))])


def saliency(net, images, classes):
    """Simonyan et al.: the largest magnitude of the input gradient over colour channels."""
    return per_image(lambda x, c: input_grad(net, x, c)[0].abs().amax(0).numpy(),
                     images, classes, net)


def smooth_grad(net, images, classes, noise, sigma):
    """Smilkov et al.: the input gradient averaged over the noisy copies ``x + sigma (max -
    min) noise_s`` (``noise`` (S, B, H, W, 3), the draws passed in), largest magnitude over
    colour channels."""
    span = images.max(axis=(1, 2, 3)) - images.min(axis=(1, 2, 3))
    grads = [per_image(lambda x, c: input_grad(net, x, c)[0].numpy(),
                       images + sigma * span[:, None, None, None] * n, classes, net)
             for n in noise]
    return np.abs(np.mean(grads, axis=0)).max(axis=2)


def integrated_gradients(net, images, classes, steps):
    """Sundararajan et al. from the zero image, the trapezoid rule on steps + 1 points,
    summed over colour channels."""
    def one(x, c):
        total = 0
        for s in range(steps + 1):
            weight = 0.5 if s in (0, steps) else 1.0
            total = total + weight * input_grad(net, x * (s / steps), c)[0]
        return (total / steps * x[0]).sum(0).numpy()
    return per_image(one, images, classes, net)


def cam(net, images, classes):
    """Zhou et al.: the classifier's weights on layer4's output."""
    _, act = layer_output(net, "layer4", nchw(images, net))
    w = net.fc.weight.detach()[torch.from_numpy(np.asarray(classes))]        # (B, k, K)
    return torch.einsum("bjk,bkyx->bjyx", w, act.detach()).numpy()


def guided_backprop(net, images, classes):
    guided = guided_copy(net)
    return per_image(lambda x, c: input_grad(guided, x, c)[0].abs().amax(0).numpy(),
                     images, classes, guided)


def grad_cam(net, x, c, size, layer):
    x = x.clone().requires_grad_(True)
    logits, act = layer_output(net, layer, x)
    (g,) = torch.autograd.grad(logits[0, c], act)
    cam = torch.relu((g.mean(dim=(2, 3), keepdim=True) * act).sum(1, keepdim=True))
    return F.interpolate(cam, size, mode="bilinear", align_corners=False)[0, 0].detach()


def guided_grad_cam(net, images, classes, layer):
    guided = guided_copy(net)
    return per_image(lambda x, c: (input_grad(guided, x, c)[0].abs().amax(0) *
                                   grad_cam(net, x, c, x.shape[2:], layer)).numpy(),
                     images, classes, net)


def input_x_gradient(net, images, classes):
    return per_image(lambda x, c: (input_grad(net, x, c)[0] * x[0]).sum(0).numpy(),
                     images, classes, net)


def blur_ig(net, images, classes, steps, max_sigma):
    """Xu et al.: -sum_i (s_{i+1} - s_i) dL/ds(s_i) . grad F(L(s_i)), L(s) scipy's
    gaussian_filter, dL/ds by a central difference in float64 (forward at s = 0)."""
    from scipy import ndimage

    def blur(img, s):        # (H, W, 3) float64
        return img if s == 0 else ndimage.gaussian_filter(img, [s, s, 0], mode="constant")

    sig = [i * max_sigma / steps for i in range(steps + 1)]
    out = []
    for b in range(len(images)):
        img = np.asarray(images[b], np.float64)
        row = []
        for c in classes[b]:
            total = np.zeros(img.shape[:2])
            for i in range(steps):
                s, h = sig[i], 1e-4
                slope = ((blur(img, s + h) - blur(img, s - h)) / (2 * h) if s > 0 else
                         (blur(img, h) - img) / h)
                point = nchw(blur(img, s)[None], net)
                g = input_grad(net, point, int(c))[0].numpy().transpose(1, 2, 0)
                total -= (sig[i + 1] - s) * (slope * g).sum(-1)
            row.append(total)
        out.append(row)
    return np.array(out)


def guided_ig(net, images, classes, steps, fraction=0.25, max_dist=0.02):
    """PAIR's ``guided_ig_impl`` (the paper's Algorithm 1 with its bounded path), float64,
    zero baseline, summed over channels."""
    out = []
    for b in range(len(images)):
        x_in = nchw(images[b:b + 1], net)[0].numpy()
        row = []
        for c in classes[b]:
            grad_of = lambda x: input_grad(net, torch.from_numpy(x[None]), int(c))[0].numpy()  # noqa: E731
            row.append(_guided_ig_path(x_in, np.zeros_like(x_in), grad_of, steps, fraction,
                                       max_dist).sum(0))
        out.append(row)
    return np.array(out)


def _guided_ig_path(x_in, x_base, grad_of, steps, fraction, max_dist, eps=1e-9):
    diff = x_in - x_base
    l1_total = np.abs(diff).sum()
    x, attr = x_base.copy(), np.zeros_like(x_in)
    for step in range(steps):
        g_actual = grad_of(x)
        alpha = (step + 1.0) / steps
        a_min, a_max = max(alpha - max_dist, 0.0), min(alpha + max_dist, 1.0)
        x_min, x_max = x_base + diff * a_min, x_base + diff * a_max
        target = l1_total * (1 - (step + 1) / steps)
        gamma = np.inf
        while gamma > 1.0:
            x_old = x.copy()
            with np.errstate(divide="ignore", invalid="ignore"):
                x_alpha = np.where(diff != 0, (x - x_base) / diff, a_max)
            behind = x_alpha < a_min
            x[behind] = x_min[behind]
            current = np.abs(x - x_in).sum()
            if math.isclose(target, current, rel_tol=eps, abs_tol=eps):
                attr += (x - x_old) * g_actual
                break
            g = g_actual.copy()
            g[x == x_max] = np.inf
            threshold = np.quantile(np.abs(g), fraction, method="lower")
            s = (np.abs(g) <= threshold) & (g != np.inf)
            room = (np.abs(x - x_max) * s).sum()
            gamma = (current - target) / room if room > 0 else np.inf
            if gamma > 1.0:
                x[s] = x_max[s]
            else:
                x[s] = (x + (x_max - x) * gamma)[s]
            attr += (x - x_old) * g_actual
    return attr


def xrai(net, images, classes, steps, min_pixel_diff=50):
    """PAIR's XRAI: IG from the image's min and max (linspace alphas, mean), max over
    channels; Felzenszwalb masks (PAIR's recipe with scikit-image); the full greedy loop,
    every mask's gain recomputed at each region; region means."""
    from skimage import segmentation
    from skimage.morphology import dilation, disk
    from skimage.transform import resize
    out = []
    for b in range(len(images)):
        img = np.asarray(images[b], np.float64)
        x = nchw(img[None], net)
        scaled = (img - img.min()) / (img.max() - img.min()) * 2 - 1
        scaled = resize(scaled, (224, 224), order=3, mode="constant", preserve_range=True,
                        anti_aliasing=True)
        masks = []
        for scale in (50, 100, 150, 250, 500, 1200):
            seg = segmentation.felzenszwalb(scaled, scale=scale, sigma=0.8, min_size=150)
            seg = resize(seg, img.shape[:2], order=0, preserve_range=True, mode="constant",
                         anti_aliasing=False).astype(int)
            masks += [dilation(seg == label, disk(5)) for label in range(seg.min(),
                                                                          seg.max() + 1)]
        masks = np.stack(masks).reshape(len(masks), -1)
        row = []
        for c in classes[b]:
            attr = 0
            for base in (img.min(), img.max()):
                grads = sum(input_grad(net, base + a * (x - base), int(c))
                            for a in np.linspace(0, 1, steps))
                attr = attr + (grads / steps * (x - base))[0].numpy() / 2
            a = attr.max(0).ravel()
            row.append(_xrai_regions(masks, a, min_pixel_diff).reshape(img.shape[:2]))
        out.append(row)
    return np.array(out)


def _xrai_regions(masks, a, min_pixel_diff):
    covered = np.zeros(a.size, bool)
    out = np.full(a.size, -np.inf)
    remaining = list(range(len(masks)))
    while remaining:
        new = masks[remaining] & ~covered
        counts = new.sum(1)
        keep = counts >= min_pixel_diff
        remaining = [m for m, k in zip(remaining, keep) if k]
        if not remaining:
            break
        gains = (new[keep] @ a) / counts[keep]
        best = int(np.argmax(gains))
        region = new[keep][best]
        out[region] = a[region].mean()
        covered |= masks[remaining[best]]
        del remaining[best]
    if np.isinf(out).any():
        out[np.isinf(out)] = a[np.isinf(out)].mean()
    return out
