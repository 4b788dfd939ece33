"""Plain-PyTorch references for CAM and the gradient methods, written from the papers (or
the peers' formulas where the papers are silent): saliency, SmoothGrad, Integrated
Gradients, guided backprop, guided Grad-CAM, Input x Gradient, and the path attributions
Blur IG, Guided IG and XRAI (PAIR's loops). Input gradients by autograd on any network
(the shared twin: :mod:`tests.methods.torch_refs`); NHWC numpy in, maps (B, k, h, w) out."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from tests.methods.torch_refs import layer_output, nchw


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
