"""HiResCAM, Grad-CAM element-wise, XGrad-CAM, Eigen-CAM, Eigen-Grad-CAM, KPCA-CAM,
Smooth Grad-CAM++, FullGrad, and Grad-CAM with ``eigen_smooth`` and ``aug_smooth``, against
plain-PyTorch references written from the papers (pytorch-grad-cam's formula where the
paper is silent), with forward hooks, on torchvision's ``resnet18`` with random weights
and its plain-PyTorch twin with torchvision's names (``torch_refs.resnet_pair``: random
BatchNorm statistics, eval mode, float64), at 32 x 32 px.

The feature methods look at ``layer2`` (4 x 4 at 32 x 32), whose gradient flows through
layer3, layer4 and the head and so varies per position (at the features, a GAP head's
gradient is constant and every method would collapse to CAM). Maps are compared after
scaling each by its largest magnitude, to 1e-4, signed where the method has
``relu=False``. Smooth Grad-CAM++ gets the noise camjax draws (``jax.random.normal(
fold_in(key, s))``, written out here) as arrays; KPCA-CAM's reference is scikit-learn's
``KernelPCA``; FullGrad's hooks every BatchNorm (bn1, each block's, the downsamples').
Grad-CAM, Grad-CAM++ and LayerCAM are checked here too on the torchvision network (their
closed forms on the toy network are in test_feature_methods.py).

Two compiles of ResNet-18: the methods reading the gradients at layer2 in one program
(``make test``), the three with more passes (Smooth Grad-CAM++'s noise samples, FullGrad's
every BatchNorm, aug_smooth's six augmentations) in a second (``exhaustive``: ``make
test-all``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from camjax import methods

torch = pytest.importorskip("torch", reason="PyTorch is needed for the hook reference")
from torch.nn import functional as F  # noqa: E402

from tests.methods import torch_refs as refs  # noqa: E402  (needs torch)

CLASSES = np.array([[3, 5], [1, 3]])        # two classes per image, one shared
LAYER = "layer2"
KEY, SAMPLES, SIGMA = jax.random.key(5), 3, 0.2


@pytest.fixture(scope="module")
def nets():
    net, model = refs.resnet_pair()
    images = np.random.default_rng(0).normal(0, 1, (2, refs.SIZE, refs.SIZE, 3)).astype(
        np.float32)
    return net, model, images


SHARED = ("grad_cam", "hires_cam", "grad_cam_element_wise", "x_grad_cam", "eigen_cam",
          "eigen_grad_cam", "kpca_cam", "grad_cam_plus_plus", "layer_cam", "eigen_smooth")
MORE = ("smooth_grad_cam_plus_plus", "full_grad", "aug_smooth")      # more passes each


@pytest.fixture(scope="module")
def maps(nets):
    """The camjax maps of ``SHARED``, from one jitted program: they all read the
    activations and gradients at layer2 (the same computation, which XLA computes once)."""
    _, model, images = nets
    graphdef, state = nnx.split(model)

    def run(s, x, c):
        def pure(name, **options):
            return methods.get_pure(name)(graphdef, s, x, c, layer=LAYER, **options)
        return {"logits": nnx.merge(graphdef, s)(x)[0],
                "grad_cam": pure("grad_cam", relu=False),
                "hires_cam": pure("hires_cam", relu=False),
                "grad_cam_element_wise": pure("grad_cam_element_wise"),
                "x_grad_cam": pure("x_grad_cam", relu=False),
                "eigen_cam": pure("eigen_cam", relu=False),
                "eigen_grad_cam": pure("eigen_grad_cam", relu=False),
                "kpca_cam": pure("kpca_cam", relu=False),
                "grad_cam_plus_plus": pure("grad_cam_plus_plus", relu=False),
                "layer_cam": pure("layer_cam"),
                "eigen_smooth": pure("grad_cam", relu=False, eigen_smooth=True)}
    return jax.jit(run)(state, jnp.asarray(images), jnp.asarray(CLASSES))


@pytest.fixture(scope="module")
def more_maps(nets):
    """The camjax maps of ``MORE`` (noise samples, every BatchNorm, six augmentations),
    from a second program."""
    _, model, images = nets
    graphdef, state = nnx.split(model)

    def run(s, x, c):
        return {"smooth_grad_cam_plus_plus": methods.get_pure("smooth_grad_cam_plus_plus")(
                    graphdef, s, x, c, layer=LAYER, relu=False, samples=SAMPLES,
                    sigma=SIGMA, key=KEY, batch_size=2),
                "full_grad": methods.get_pure("full_grad")(graphdef, s, x, c),
                "aug_smooth": methods.smoothing.run(methods.registry.get("grad_cam"),
                                                    graphdef, s, x, c, aug_smooth=True,
                                                    relu=False, layer=LAYER)}
    return jax.jit(run)(state, jnp.asarray(images), jnp.asarray(CLASSES))


# ------------------------------------------------------------------- the references
def nchw(images):
    return refs.nchw(images)                      # float64, as the twin


def hooked(net, x, module):
    """(activations (B, C, h, w), [d score_j / d activations for each class column j])."""
    store = {}
    handle = module.register_forward_hook(lambda m, i, out: store.update(act=out))
    logits = net(x)
    handle.remove()
    grads = []
    for j in range(CLASSES.shape[1]):
        score = logits[torch.arange(len(x)), torch.from_numpy(CLASSES[:, j])].sum()
        grads.append(torch.autograd.grad(score, store["act"], retain_graph=True)[0])
    return store["act"].detach(), grads


def projection(x):
    """(B, C, h, w) -> (B, h, w): centred SVD, first right singular vector, the entry of
    largest magnitude made positive (camjax's documented sign convention)."""
    out = []
    for a in x.double():
        points = a.reshape(a.shape[0], -1).T
        points = points - points.mean(dim=0)
        p = points @ torch.linalg.svd(points, full_matrices=False)[2][0]
        out.append((p * torch.sign(p[p.abs().argmax()])).reshape(a.shape[1:]))
    return torch.stack(out)


def kernel_projection(x):
    from sklearn.decomposition import KernelPCA
    out = []
    for a in x.double().numpy():
        points = a.reshape(a.shape[0], -1).T
        points = points - points.mean(axis=0)
        out.append(KernelPCA(n_components=1, kernel="sigmoid").fit_transform(points)
                   .reshape(a.shape[1:]))
    return torch.from_numpy(np.stack(out))


def per_class(net, images, fn):
    act, grads = hooked(net, nchw(images), dict(net.named_modules())[LAYER])
    return np.stack([fn(act, g).detach().numpy() for g in grads], axis=1)     # (B, k, h, w)


def smooth_plus_plus(net, images):
    x = nchw(images)
    module = dict(net.named_modules())[LAYER]
    act, _ = hooked(net, x, module)
    span = images.max(axis=(1, 2, 3)) - images.min(axis=(1, 2, 3))
    moments = [[0, 0, 0] for _ in range(CLASSES.shape[1])]
    for s in range(SAMPLES):         # the noise camjax draws for sample s, as arrays
        noise = np.asarray(jax.random.normal(jax.random.fold_in(KEY, s), images.shape))
        noisy = images + SIGMA * span[:, None, None, None] * noise
        _, grads = hooked(net, nchw(noisy.astype(np.float32)), module)
        for j, g in enumerate(grads):
            moments[j] = [m + g ** p / SAMPLES for m, p in zip(moments[j], (1, 2, 3))]
    return np.stack([plus_plus(act, *m).numpy() for m in moments], axis=1)


def plus_plus(act, d1, d2, d3):
    """Grad-CAM++'s closed form (pytorch-grad-cam's) from the gradient's first three powers
    (or their averages over noise), signed."""
    total = act.sum(dim=(2, 3), keepdim=True)
    denominator = 2 * d2 + total * d3
    alpha = torch.where(denominator != 0, d2 / torch.where(denominator != 0,
                                                           denominator, 1), 0)
    weights = (alpha * torch.relu(d1)).sum(dim=(2, 3), keepdim=True)
    return (weights * act).sum(dim=1)


def full_grad(net, images):
    """FullGrad with hooks on every BatchNorm: |grad x input| and |grad_l * folded bias_l|,
    each channel rescaled to [0, 1] (1e-7), upsampled bilinearly, summed."""
    x = nchw(images).requires_grad_(True)
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    outputs = []
    handles = [m.register_forward_hook(lambda m, i, out: outputs.append(out)) for m in bns]
    logits = net(x)
    for h in handles:
        h.remove()
    biases = [(m.bias - m.running_mean * m.weight / torch.sqrt(m.running_var + m.eps))
              .detach()[None, :, None, None] for m in bns]

    def rescaled(t):
        lo, hi = t.amin(dim=(2, 3), keepdim=True), t.amax(dim=(2, 3), keepdim=True)
        return (t - lo) / (hi - lo + 1e-7)
    maps = []
    for j in range(CLASSES.shape[1]):
        score = logits[torch.arange(len(x)), torch.from_numpy(CLASSES[:, j])].sum()
        grads = torch.autograd.grad(score, [x] + outputs, retain_graph=True)
        total = rescaled((grads[0] * x).abs()).sum(dim=1)
        for g, b in zip(grads[1:], biases):
            up = F.interpolate(rescaled((g * b).abs()), size=x.shape[2:], mode="bilinear",
                               align_corners=False)
            total = total + up.sum(dim=1)
        maps.append(total.detach().numpy())
    return np.stack(maps, axis=1)


def grad_cam_map(act, g):
    return (g.mean(dim=(2, 3), keepdim=True) * act).sum(dim=1)      # signed: relu=False


def aug_smooth(net, images):
    """pytorch-grad-cam's aug_smooth: flips x multipliers (0.9, 1, 1.1), each map flipped
    back and min-max normalised, then averaged (of the signed Grad-CAM: rectified, a map of
    these random weights may be all zero)."""
    total = 0
    for flip in (False, True):
        for factor in (0.9, 1.0, 1.1):
            x = images * np.float32(factor)
            x = x[:, :, ::-1] if flip else x
            m = per_class(net, x, grad_cam_map)
            m = m[..., ::-1] if flip else m
            lo, hi = m.min(axis=(2, 3), keepdims=True), m.max(axis=(2, 3), keepdims=True)
            total = total + (m - lo) / (hi - lo)
    return total / 6


REFERENCES = {
    "grad_cam": lambda net, x: per_class(net, x, grad_cam_map),
    "grad_cam_plus_plus": lambda net, x: per_class(
        net, x, lambda a, g: plus_plus(a, g, g ** 2, g ** 3)),
    "layer_cam": lambda net, x: per_class(net, x, lambda a, g: torch.relu(
        (torch.relu(g) * a).sum(dim=1))),
    "hires_cam": lambda net, x: per_class(net, x, lambda a, g: (g * a).sum(dim=1)),
    "grad_cam_element_wise": lambda net, x: per_class(
        net, x, lambda a, g: torch.relu(g * a).sum(dim=1)),
    "x_grad_cam": lambda net, x: per_class(net, x, lambda a, g: (torch.nan_to_num(
        (g * a).sum(dim=(2, 3), keepdim=True) / a.sum(dim=(2, 3), keepdim=True)) * a).sum(
        dim=1)),                  # a channel that never fires: 0 / 0, weight 0
    "eigen_cam": lambda net, x: per_class(net, x, lambda a, g: projection(a)),
    "eigen_grad_cam": lambda net, x: per_class(net, x, lambda a, g: projection(g * a)),
    "kpca_cam": lambda net, x: per_class(net, x, lambda a, g: kernel_projection(a)),
    "smooth_grad_cam_plus_plus": smooth_plus_plus,
    "full_grad": full_grad,
    "eigen_smooth": lambda net, x: per_class(net, x, lambda a, g: projection(
        g.mean(dim=(2, 3), keepdim=True) * a)),
    "aug_smooth": aug_smooth,
}


def scaled(m):
    m = np.asarray(m, np.float64)
    scale = np.abs(m).max(axis=(-2, -1), keepdims=True)
    assert np.all(scale > 0)          # no map compared as zeros
    return m / scale


def test_the_twin_is_the_network(nets, maps):
    net, _, images = nets
    with torch.no_grad():
        want = net(nchw(images)).numpy()
    np.testing.assert_allclose(maps["logits"], want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", [*SHARED, *(pytest.param(n, marks=pytest.mark.exhaustive)
                                              for n in MORE)])
def test_maps_equal_the_torch_reference_up_to_a_positive_scale(nets, request, name):
    net, _, images = nets
    want = REFERENCES[name](net, images)
    got = request.getfixturevalue("maps" if name in SHARED else "more_maps")[name]
    assert got.shape == want.shape
    if name not in ("grad_cam_element_wise", "full_grad", "aug_smooth", "layer_cam",
                    "grad_cam_plus_plus",               # ReLU(g) weights, ReLU activations
                    "smooth_grad_cam_plus_plus"):      # non-negative by construction
        assert (np.asarray(got) < 0).any()         # signed maps: a sign error would show
    np.testing.assert_allclose(scaled(got), scaled(want), rtol=0, atol=1e-4, err_msg=name)
