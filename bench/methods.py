"""Score-CAM, deletion/insertion, Ablation-CAM and RISE images/s: camjax against plain
PyTorch, same run.

    python bench/methods.py [--images 8] [--image-size 64] [--repeats 3] [--threads 1]
    python bench/methods.py --no-score-cam --no-ablation-cam --no-rise   # (b) only
    python bench/methods.py --torch-device cuda --bf16 --channels-last   # an accelerator
    python bench/methods.py --trained demo_out     # + (a'): Score-CAM on `make demo`'s network

The network is tiny_gap (five 3x3 conv + BN + ReLU layers, the CAM conv, GAP, a dense
layer without bias; 8 x 8 x 128 features at 64 px), with the same random weights copied
into a PyTorch twin written here (NCHW; the bench asserts the logits agree). Four workloads
on the same images, for the top-1 class:

(a) Score-CAM, every one of the 128 channels a masked forward pass: camjax's
    ``camjax.methods.score_cam`` (masks chunked through ``lax.map``, ``--chunk`` channels
    x the batch per forward pass) against torchcam's loop (upsample, min-max, mask, then
    one forward pass per slice of masked images of the same size); the maps must agree.
    Printed beside it: the fraction of channels Score-CAM skips (constant over the map),
    here and on torchvision's ``resnet18`` at 224 px with torchvision's random
    initialisation (random weights, not trained ones: about 2% of layer4's channels);
(a') with ``--trained WORKDIR`` (``make bench`` passes ``demo_out`` when ``make demo`` has
    written it): the same on a trained tiny_gap, a ``camjax train`` workdir (its config,
    its latest checkpoint, the first ``--images`` images of its evaluation split, its
    top-1 classes), torchcam's loop on a PyTorch copy of its weights, maps checked equal.
    Trained networks have many constant channels (dead ReLUs: about half of the (image,
    channel) pairs on the demo network), which Score-CAM skips;
(b) deletion and insertion curves, ``--steps`` steps each: camjax's
    ``deletion_insertion_curves`` (one jitted program: the 2 steps + 1 distinct images of
    each row, ``--chunk`` of them x the batch per forward pass) against RISE's
    ``CausalMetric.evaluate`` loop (one forward pass of the batch per step and mode:
    2 (steps + 1) images per row); the curves must agree. The same work: both give the
    same two curves. Beside it, each side's bare forward pass over the images it scores
    (how close the metric runs to its network's speed);
(c) Ablation-CAM, every one of the 128 channels zeroed in turn: camjax's
    ``camjax.methods.ablation_cam`` (the network's ``classify`` on ``--chunk`` ablated
    channels x the batch per pass, ``lax.map`` over chunks) against pytorch-grad-cam's
    ``AblationCAM`` loop with the features as the target layer (per image, batches of
    ``--chunk`` x images copies of its activations, one channel ablated in each by the
    ``AblationLayer`` rule, the rest of the network forwarded, each score read back with
    ``.item()``); weights (score - ablated) / score; the maps must agree after max-scaling.
    (With a target layer inside the network, e.g. ``layer4[-1]``, pytorch-grad-cam's loop
    also recomputes every layer before it on each batch of copies; not charged here.)
(d) RISE with ``--rise-masks`` masks (7 x 7 grid, p = 0.5, drawn once, the same array on
    both sides): ``camjax.methods.rise(masks=...)`` (``--chunk`` masks x the batch per
    pass, ``lax.scan``) against RISE's ``explanations.RISE.forward`` per image (the masked
    stack, softmax, ``--chunk`` x images masked copies per pass, probabilities^T @ masks /
    N / p1); the maps must agree after max-scaling.

Medians of ``--repeats`` interleaved runs after a warm-up (compilation not timed).
``--threads N`` pins both libraries to the same N cores (the stable comparison on a shared
machine). On a GPU, PyTorch runs on CUDA (``torch.cuda.synchronize()`` before every clock
read), camjax on JAX's default device; ``--bf16`` computes both in bfloat16 (camjax's
conv / dense / norm layers, PyTorch's autocast; results then checked only in float32
runs). Results go to the ``methods`` section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import functools
import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import camjax  # noqa: E402
from camjax.evaluation import deletion_insertion_curves  # noqa: E402
from camjax.evaluation.perturbation import rise_blur_kernel  # noqa: E402
from camjax.methods.rise import draw_masks  # noqa: E402  (camjax.methods.rise: the method)
from camjax.training.state import set_compute_dtype  # noqa: E402
import machine  # noqa: E402  (bench/machine.py)
import torch_device  # noqa: E402  (bench/torch_device.py)
from sections import publish  # noqa: E402  (bench/sections.py)
import timing  # noqa: E402  (bench/timing.py)

NUM_CLASSES = 100
RISE_GRID, RISE_P = 7, 0.5                  # the RISE paper's s and p1
WIDTHS, STRIDES, CAM_CHANNELS = (24, 32, 48, 64, 96), (2, 2, 1, 2, 1), 128


def camjax_model(seed: int = 0):
    """tiny_gap with He-normal kernels and non-trivial BatchNorm statistics, from numpy."""
    model = nnx.eval_shape(lambda: camjax.models.create("tiny_gap", num_classes=NUM_CLASSES,
                                                        rngs=nnx.Rngs(0)))
    rng = np.random.default_rng(seed)
    for path, var in nnx.to_flat_state(nnx.state(model)):
        x = var.get_value()
        if path[-1] == "kernel":
            value = rng.normal(0, math.sqrt(2 / math.prod(x.shape[:-1])), x.shape)
        elif path[-1] in ("scale", "var"):
            value = rng.uniform(0.5, 1.5, x.shape)
        else:                                   # BatchNorm bias and mean
            value = rng.normal(0, 0.1, x.shape)
        var.set_value(jnp.asarray(value, x.dtype))
    model.eval()
    return model


def resnet18_constant_fraction(images: int = 4, size: int = 224, seed: int = 0) -> float:
    """The fraction of layer4's channels (the Score-CAM layer) constant over the map on
    torchvision's ``resnet18`` at ``size`` px, initialised as torchvision initialises it
    (He-normal fan-out kernels, BatchNorm the identity, the classifier uniform in +-1 /
    sqrt(512)): random, not trained, weights; N(0, 1) images (normalised pixels)."""
    model = nnx.eval_shape(lambda: camjax.models.create("resnet18", num_classes=1000,
                                                        rngs=nnx.Rngs(0)))
    rng = np.random.default_rng(seed)
    for path, var in nnx.to_flat_state(nnx.state(model)):
        x = var.get_value()
        if path[-1] == "kernel" and len(x.shape) == 4:       # HWIO: fan-out = h w O
            value = rng.normal(0, math.sqrt(2 / (x.shape[0] * x.shape[1] * x.shape[3])),
                               x.shape)
        elif "classifier" in path:
            value = rng.uniform(-1, 1, x.shape) / math.sqrt(512)
        elif path[-1] in ("scale", "var"):
            value = np.ones(x.shape)
        else:                                   # BatchNorm bias and mean
            value = np.zeros(x.shape)
        var.set_value(jnp.asarray(value, x.dtype))
    model.eval()
    graphdef, state = nnx.split(model)
    x = jnp.asarray(rng.normal(0, 1, (images, size, size, 3)), jnp.float32)
    features = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x)[1])(state, x)
    return float(camjax.methods.scorecam.constant_channels(features).mean())


def trained_network(workdir, images: int):
    """(model, images (n, S, S, 3) float32, description) of a ``camjax train`` workdir:
    its saved config, its latest checkpoint (read only), the first ``images`` images of
    its evaluation split as the evaluation job feeds them."""
    from camjax import config as config_lib
    from camjax.data import pipeline
    from camjax.training import restore_for_inference
    config, _ = pipeline.with_splits(config_lib.from_json(Path(workdir) / "config.json"))
    if (config.model, config.pooling, config.wsol_method) != ("tiny_gap", "gap", "cam"):
        raise SystemExit(f"--trained {workdir}: a tiny_gap run with GAP and the plain CAM "
                         f"head expected (the PyTorch twin's), got {config.model}, "
                         f"{config.pooling}, {config.wsol_method}")
    src = pipeline.open_source(config, config.eval_split, workdir)
    graphdef, state, _ = restore_for_inference(config, workdir, pipeline.num_classes(src))
    model = nnx.merge(graphdef, state.params, state.rest)
    x = np.concatenate([np.asarray(b["image"], np.float32)[np.asarray(b["valid"])] for _, b
                        in pipeline.eval_batches(src, config, with_boxes=False, limit=images)])
    return model, x, (f"{config.model} trained on {config.dataset} ({Path(workdir).name}), "
                      f"{len(x)} {config.eval_split} images at {config.image_size} px")


# ---------------------------------------------------------------------------- PyTorch
def torch_twin(model):
    """The same network in PyTorch, camjax's weights copied in (HWIO -> OIHW)."""
    import torch
    from torch import nn

    layers, cin = [], 3
    blocks = [(layer.conv, layer.norm) for layer in model.backbone]
    blocks.append((model.cam_conv.conv, model.cam_conv.norm))
    for conv, norm in blocks:                   # odd kernels, "same" padding, no bias
        size, cout = conv.kernel.shape[0], conv.kernel.shape[-1]
        stride = conv.strides if isinstance(conv.strides, int) else conv.strides[0]
        assert size % 2 and conv.bias is None, "tiny_gap's convolutions"
        c = nn.Conv2d(cin, cout, size, stride, size // 2, bias=False)
        b = nn.BatchNorm2d(cout, eps=norm.epsilon)
        with torch.no_grad():
            c.weight.copy_(torch.from_numpy(np.array(conv.kernel[...]).transpose(3, 2, 0, 1)))
            for name, value in (("weight", norm.scale), ("bias", norm.bias),
                                ("running_mean", norm.mean), ("running_var", norm.var)):
                getattr(b, name).copy_(torch.from_numpy(np.array(value[...])))
        layers += [c, b, nn.ReLU()]
        cin = cout

    kernel = np.array(model.head.classifier.kernel[...])       # (K, C), no bias
    assert getattr(model.head.classifier, "bias", None) is None
    # a centred head (center_pooled) pools the features less their running pooled mean
    shift = torch.from_numpy(np.zeros(kernel.shape[0], np.float32) if model.pooled_mean is None
                             else np.array(model.pooled_mean.mean[...], np.float32))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.fc = nn.Linear(*kernel.shape, bias=False)

        def head(self, f):                      # the rest of the network from the features
            return self.fc(f.mean(dim=(2, 3)) - shift)

        def forward(self, x):                   # (logits, features) like camjax
            f = self.features(x)
            return self.head(f), f

    net = Net().eval()
    with torch.no_grad():
        net.fc.weight.copy_(torch.from_numpy(kernel.T))
    return net


def torch_score_cam(net, x, classes, chunk, bf16=False):
    """torchcam's ScoreCAM: softmax over channels of the class logit on masked inputs."""
    import torch
    import torch.nn.functional as F
    with torch.no_grad(), torch_device.autocast(x.device, bf16):
        _, acts = net(x)
        acts = acts.float()
        b, k = acts.shape[:2]
        up = F.interpolate(acts, x.shape[-2:], mode="bilinear", align_corners=False)
        lo = up.flatten(2).min(-1).values[..., None, None]
        hi = up.flatten(2).max(-1).values[..., None, None]
        masks = (up - lo) / (hi - lo + 1e-8)
        masked = (masks[:, :, None] * x[:, None]).reshape(b * k, *x.shape[1:])
        owner = torch.arange(b, device=x.device).repeat_interleave(k)
        scores = torch.empty(b * k, device=x.device)
        for i in range(0, b * k, chunk):        # one forward pass per slice of masks
            logits, _ = net(masked[i:i + chunk].contiguous(memory_format=(
                torch.channels_last if x.is_contiguous(memory_format=torch.channels_last)
                else torch.contiguous_format)))
            scores[i:i + chunk] = logits.float().gather(1, classes[owner[i:i + chunk], None])[:, 0]
        weights = torch.softmax(scores.view(b, k), dim=1)
        out = torch.relu((weights[:, :, None, None] * acts).sum(1))
    torch_device.sync(x.device)
    return out


def torch_ablation_cam(net, x, classes, batch_size, bf16=False):
    """pytorch-grad-cam's AblationCAM with the features as its target layer: per image,
    batches of ``batch_size`` copies of its activations, channel i of copy i ablated by
    the ``AblationLayer`` rule (0 where the activations' minimum is 0, else min - 1e7), the
    rest of the network forwarded from them, each score read back with ``.item()``;
    weights (score - ablated) / score, map ReLU(sum_K w_K A_K)."""
    import torch
    with torch.no_grad(), torch_device.autocast(x.device, bf16):
        logits, acts = net(x)
        original = [logits[i, c].float().item() for i, c in enumerate(classes.tolist())]
        k = acts.shape[1]
        weights = []
        for i, c in enumerate(classes.tolist()):
            new_scores, indices = [], list(range(k))
            for start in range(0, k, batch_size):
                copies = min(batch_size, k - start)
                output = acts[i].clone().unsqueeze(0).repeat(copies, 1, 1, 1)
                for j in range(copies):               # AblationLayer.__call__
                    if torch.min(output) == 0:
                        output[j, indices[j], :] = 0
                    else:
                        output[j, indices[j], :] = torch.min(output) - 1e7
                new_scores += [o[c].float().item() for o in net.head(output)]
                indices = indices[copies:]
            weights.append([(original[i] - s) / original[i] for s in new_scores])
        weights = torch.tensor(weights, device=x.device)
        out = torch.relu((weights[:, :, None, None] * acts.float()).sum(1))
    torch_device.sync(x.device)
    return out


def torch_rise(net, x, classes, masks, p1, gpu_batch, bf16=False):
    """RISE's ``explanations.RISE.forward`` per image: the masked stack, softmax
    probabilities ``gpu_batch`` images per pass, saliency = probabilities^T @ masks / N /
    p1 (every class, as RISE), the map of the image's class kept."""
    import torch
    n_masks, h, w = masks.shape
    masks = masks[:, None]                          # (N, 1, H, W) as RISE keeps them
    out = []
    with torch.no_grad():
        for image, c in zip(x, classes.tolist()):
            stack = torch.mul(masks, image[None])
            p = []
            for i in range(0, n_masks, gpu_batch):
                with torch_device.autocast(x.device, bf16):
                    logits, _ = net(stack[i:min(i + gpu_batch, n_masks)])
                p.append(torch.softmax(logits.float(), dim=1))
            p = torch.cat(p)
            sal = torch.matmul(p.transpose(0, 1), masks.view(n_masks, h * w))
            out.append((sal.view(-1, h, w) / n_masks / p1)[c])
        out = torch.stack(out)
    torch_device.sync(x.device)
    return out


def torch_deletion_insertion(net, x, maps, classes, steps, bf16=False):
    """RISE's CausalMetric.evaluate: one forward pass of the batch per step, both modes
    (the softmax of each step read back to the host, as RISE does)."""
    import torch
    import torch.nn.functional as F
    n, _, h, w = x.shape
    hw = h * w
    kernel = torch.from_numpy(rise_blur_kernel().astype(np.float32))
    weight = torch.zeros(3, 3, 11, 11)
    for c in range(3):
        weight[c, c] = kernel
    order = torch.from_numpy(np.argsort(-maps.reshape(n, hw), axis=1, kind="stable").copy())
    order = order.to(x.device)
    counts = (np.arange(steps + 1) * hw) // steps
    rows = torch.arange(n, device=x.device)[:, None]
    layout = (torch.channels_last if x.is_contiguous(memory_format=torch.channels_last)
              else torch.contiguous_format)
    curves = {}
    with torch.no_grad():
        blurred = F.conv2d(x, weight.to(x.device), padding=5)
        for mode, start, finish in (("deletion", x, torch.zeros_like(x)),
                                    ("insertion", blurred, x)):
            current = start.contiguous().clone().reshape(n, 3, hw)
            target = finish.contiguous().reshape(n, 3, hw)
            scores = np.empty((n, steps + 1))
            for i in range(steps + 1):
                if i:
                    idx = order[:, counts[i - 1]:counts[i]]
                    current[rows, :, idx] = target[rows, :, idx]
                with torch_device.autocast(x.device, bf16):
                    logits, _ = net(current.reshape(n, 3, h, w).contiguous(memory_format=layout))
                probs = torch.softmax(logits.float(), dim=1)
                scores[:, i] = probs.gather(1, classes[:, None])[:, 0].cpu().numpy()
            curves[mode] = scores
    return curves


def torch_forward(net, x, bf16=False):
    import torch
    with torch.no_grad(), torch_device.autocast(x.device, bf16):
        out = net(x)[0]
    torch_device.sync(x.device)
    return out


# ------------------------------------------------------------------------------ report
def check_maps(ours, ref, name):
    """Equal maps after max-scaling (each map divided by its maximum, as the libraries'
    min-max display does for non-negative maps)."""
    def scaled(m):
        return m / np.maximum(m.max(axis=(1, 2), keepdims=True), 1e-30)
    assert ours.shape == ref.shape, (name, ours.shape, ref.shape)
    assert np.allclose(scaled(ours), scaled(ref), atol=1e-4), name


def trained_score_cam(args, dev) -> tuple[str, str]:
    """(a') Score-CAM on a trained tiny_gap (``--trained WORKDIR``) against torchcam's loop
    on its PyTorch twin, top-1 class, maps checked equal: (the table row, a note)."""
    import torch
    model, images, about = trained_network(args.trained, args.images)
    n, k = len(images), model.head.classifier.kernel.shape[0]
    net = torch_device.place(torch_twin(model), dev, args.channels_last)
    x_torch = torch_device.place(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()), dev,
                                 args.channels_last)
    graphdef, state = nnx.split(model)
    run = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))
    with torch.no_grad(), torch_device.exact():
        logits, features = run(state, jnp.asarray(images))
        assert np.allclose(net(x_torch)[0].cpu().numpy(), logits, rtol=1e-3, atol=1e-3), "logits"
    classes = np.asarray(logits).argmax(axis=1)
    classes_torch, x_jax, c_jax = (torch.from_numpy(classes).to(dev), jnp.asarray(images),
                                   jnp.asarray(classes))
    constant = np.asarray(camjax.methods.scorecam.constant_channels(features))

    def jax_score():
        return camjax.methods.score_cam(model, x_jax, c_jax, batch_size=args.chunk
                                        ).block_until_ready()

    def torch_score():
        return torch_score_cam(net, x_torch, classes_torch, n * args.chunk)
    with torch_device.exact():
        ours, ref = np.asarray(jax_score())[:, 0], torch_score().cpu().numpy()
    assert np.allclose(ours, ref, rtol=1e-3, atol=1e-4 * np.abs(ref).max()), "Score-CAM"
    live = k - constant.sum(axis=1)
    per_pass = n * min(args.chunk, k)
    print(f"Score-CAM on {about}: {constant.mean():.1%} of the (image, channel) pairs "
          f"constant (skipped); per image {constant.mean(axis=1).min():.0%} to "
          f"{constant.mean(axis=1).max():.0%}; forward passes of {per_pass} masked images: "
          f"{-(-int(live.sum()) // per_pass)} (every channel: {-(-n * k // per_pass)})")
    jax_score()          # compiled at the default precision (checked at highest)
    t = timing.median_interleaved({"camjax": jax_score, "torch": torch_score}, args.repeats)
    row = (f"| (a') Score-CAM on a trained tiny_gap ({k} channels, {args.chunk} masks x {n} "
           f"images per pass, as (a)); {constant.mean():.0%} of the (image, channel) pairs "
           f"constant, skipped | {n / t['camjax']:,.2f} | {n / t['torch']:,.2f} | "
           f"{t['torch'] / t['camjax']:.2f}x |")
    return row, (f"(a') {about}, its top-1 classes; maps checked equal to torchcam's loop on "
                 "a PyTorch copy of its weights.")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--chunk", type=int, default=16, help="masks / steps per forward pass "
                   "(camjax: x the batch; PyTorch Score-CAM: the same number of images)")
    p.add_argument("--steps", type=int, default=64, help="deletion / insertion steps")
    timing.comparison_options(p, "methods")
    p.add_argument("--rise-masks", type=int, default=512, help="RISE's N (masks per image)")
    p.add_argument("--no-score-cam", action="store_true", help="skip (a) Score-CAM")
    p.add_argument("--no-ablation-cam", action="store_true", help="skip (c) Ablation-CAM")
    p.add_argument("--no-rise", action="store_true", help="skip (d) RISE")
    p.add_argument("--resnet18-images", type=int, default=4,
                   help="images for Score-CAM's skipped fraction on resnet18 at 224 px "
                        "(0: not measured)")
    p.add_argument("--trained", metavar="WORKDIR", help="also (a'): Score-CAM on a trained "
                   "tiny_gap, a `camjax train` workdir (e.g. `make demo`'s demo_out)")
    args = p.parse_args(argv)
    pinned, stamp, dev = timing.start(args)
    import torch

    n, size = args.images, args.image_size
    model = camjax_model()
    net = torch_device.place(torch_twin(model), dev, args.channels_last)
    rng = np.random.default_rng(1)
    images = rng.normal(0, 1, (n, size, size, 3)).astype(np.float32)
    x_torch = torch_device.place(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()), dev,
                                 args.channels_last)
    graphdef, state = nnx.split(model)
    predict = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x)[0])
    with torch.no_grad(), torch_device.exact():
        logits = np.asarray(predict(state, jnp.asarray(images)))
        assert np.allclose(net(x_torch)[0].cpu().numpy(), logits, rtol=1e-3, atol=1e-3), "logits"
    if args.bf16:                       # checked in float32 above; timed in bfloat16
        set_compute_dtype(model, jnp.bfloat16)
        graphdef, state = nnx.split(model)
    cast = (lambda x: x.astype(jnp.bfloat16)) if args.bf16 else (lambda x: x)
    classes = logits.argmax(axis=1)
    classes_torch = torch.from_numpy(classes).to(dev)
    x_jax, c_jax = jnp.asarray(images), jnp.asarray(classes)
    rows = []

    # (a) Score-CAM
    if not args.no_score_cam:
        def jax_score():
            return camjax.methods.score_cam(model, cast(x_jax), c_jax, batch_size=args.chunk
                                            ).block_until_ready()
        with torch_device.exact():
            ours = np.asarray(jax_score(), np.float32)[:, 0]
            ref = torch_score_cam(net, x_torch, classes_torch, n * args.chunk,
                                  args.bf16).cpu().numpy()
        if not args.bf16:
            assert np.allclose(ours, ref, rtol=1e-3, atol=1e-4 * np.abs(ref).max()), "Score-CAM"
        # the channels Score-CAM skips exactly (constant over the map: the zero image's score)
        features = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x)[1])(state, cast(x_jax))
        skipped = float(camjax.methods.scorecam.constant_channels(features).mean())
        print(f"Score-CAM: {skipped:.1%} of the channels constant (skipped)")
        if args.resnet18_images:
            resnet_skipped = resnet18_constant_fraction(args.resnet18_images)
            print(f"Score-CAM on torchvision's resnet18 (224 px, torchvision's random "
                  f"initialisation, not trained weights): {resnet_skipped:.1%} of layer4's "
                  f"channels constant (skipped)")
        jax_score()          # compiled at the default precision (checked at highest)
        t_sc = timing.median_interleaved({"camjax": jax_score, "torch": lambda: (
            torch_score_cam(net, x_torch, classes_torch, n * args.chunk, args.bf16))},
            args.repeats)
        rows.append(
            f"| (a) Score-CAM, {CAM_CHANNELS} masked passes per image, {args.chunk} masks x "
            f"{n} images per pass (PyTorch: torchcam's loop, {n * args.chunk} per pass); "
            f"{skipped:.0%} of the channels constant, skipped | "
            f"{n / t_sc['camjax']:,.2f} | {n / t_sc['torch']:,.2f} | "
            f"{t_sc['torch'] / t_sc['camjax']:.2f}x |")

    notes = []
    if args.trained and not args.no_score_cam:
        row, note = trained_score_cam(args, dev)
        rows.append(row)
        notes.append(note)

    # (b) deletion and insertion
    maps = np.asarray(camjax.cam.normalize(camjax.cam.upsample(
        camjax.methods.cam(model, cast(x_jax), c_jax), (size, size))), np.float32)[:, 0]
    # the evaluation job's score_fn (training/scoring.py)
    probabilities = jax.jit(lambda s, x: jax.nn.softmax(
        nnx.merge(graphdef, s)(cast(x))[0].astype(jnp.float32)))
    # a partial: the weights are arguments of the compiled program, not constants
    score_fn = functools.partial(probabilities, state)

    def jax_curves():
        out = deletion_insertion_curves(score_fn, x_jax, maps, c_jax, steps=args.steps,
                                        batch_size=args.chunk)
        return jax.block_until_ready(out)
    with torch_device.exact():
        ref = torch_deletion_insertion(net, x_torch, maps, classes_torch, args.steps,
                                       args.bf16)
        ours = jax_curves()
        if not args.bf16:
            for mode in ("deletion", "insertion"):
                assert np.allclose(np.asarray(ours[mode]), ref[mode], atol=2e-4), mode
    jax_curves()                           # compiled at the default precision, warmed up
    per_pass = jnp.asarray(np.repeat(images, args.chunk, axis=0))       # one camjax pass
    probabilities(state, per_pass).block_until_ready()                  # compile, warm up
    torch_forward(net, x_torch, args.bf16)
    passes = 2 * (args.steps + 1)                   # forward passes timed as one sample

    def forward_loop(fn, k):
        def run():
            for _ in range(k):
                out = fn()
            return out
        return run
    t_di = timing.median_interleaved({
        "camjax": jax_curves,
        "torch": lambda: torch_deletion_insertion(net, x_torch, maps, classes_torch,
                                                  args.steps, args.bf16),
        "camjax forward": forward_loop(lambda: probabilities(state, per_pass
                                                             ).block_until_ready(),
                                       max(1, passes // args.chunk)),
        "torch forward": forward_loop(lambda: torch_forward(net, x_torch, args.bf16), passes),
    }, args.repeats)
    scored_j, scored_t = n * (2 * args.steps + 1), n * passes
    fwd_j = len(per_pass) * max(1, passes // args.chunk) / t_di["camjax forward"]
    fwd_t = n * passes / t_di["torch forward"]
    rows.append(
        f"| (b) deletion + insertion, {args.steps} steps each, {args.chunk} points x {n} "
        f"images per pass (PyTorch: RISE's loop, one pass of {n} per step) | "
        f"{n / t_di['camjax']:,.2f} | {n / t_di['torch']:,.2f} | "
        f"{t_di['torch'] / t_di['camjax']:.2f}x |")

    # (c) Ablation-CAM
    if not args.no_ablation_cam:
        per_pass = n * args.chunk

        def jax_ablation():
            return camjax.methods.ablation_cam(model, cast(x_jax), c_jax, batch_size=args.chunk
                                               ).block_until_ready()
        with torch_device.exact():
            ours = np.asarray(jax_ablation(), np.float32)[:, 0]
            ref = torch_ablation_cam(net, x_torch, classes_torch, per_pass,
                                     args.bf16).cpu().numpy()
        if not args.bf16:
            check_maps(ours, ref, "Ablation-CAM")
        jax_ablation()          # compiled at the default precision (checked at highest)
        t_ab = timing.median_interleaved({"camjax": jax_ablation, "torch": lambda: (
            torch_ablation_cam(net, x_torch, classes_torch, per_pass, args.bf16))},
            args.repeats)
        rows.append(
            f"| (c) Ablation-CAM, {CAM_CHANNELS} channels ablated per image, the rest of the "
            f"network from the features: {args.chunk} channels x {n} images per pass "
            f"(PyTorch: pytorch-grad-cam's loop, {per_pass} copies of one image's "
            f"activations per pass) | {n / t_ab['camjax']:,.2f} | {n / t_ab['torch']:,.2f} | "
            f"{t_ab['torch'] / t_ab['camjax']:.2f}x |")

    # (d) RISE, the same masks on both sides
    if not args.no_rise:
        per_pass = n * args.chunk
        rise_masks = np.asarray(draw_masks(
            jax.random.key(2), args.rise_masks, RISE_GRID, RISE_P, (size, size)), np.float32)
        masks_jax = jnp.asarray(rise_masks)
        masks_torch = torch.from_numpy(rise_masks.copy()).to(dev)

        def jax_rise():
            return camjax.methods.rise(model, cast(x_jax), c_jax, masks=masks_jax, p=RISE_P,
                                       batch_size=args.chunk).block_until_ready()
        with torch_device.exact():
            ours = np.asarray(jax_rise(), np.float32)[:, 0]
            ref = torch_rise(net, x_torch, classes_torch, masks_torch, RISE_P, per_pass,
                             args.bf16).cpu().numpy()
        if not args.bf16:
            check_maps(ours, ref, "RISE")
        jax_rise()          # compiled at the default precision (checked at highest)
        t_ri = timing.median_interleaved({"camjax": jax_rise, "torch": lambda: torch_rise(
            net, x_torch, classes_torch, masks_torch, RISE_P, per_pass, args.bf16)},
            args.repeats)
        rows.append(
            f"| (d) RISE, {args.rise_masks} masks ({RISE_GRID} x {RISE_GRID} grid, p = "
            f"{RISE_P}) per image: {args.chunk} masks x {n} images per pass (PyTorch: RISE's "
            f"loop, {per_pass} masked copies of one image per pass) | "
            f"{n / t_ri['camjax']:,.2f} | {n / t_ri['torch']:,.2f} | "
            f"{t_ri['torch'] / t_ri['camjax']:.2f}x |")

    lines = [
        stamp.line(),
        timing.setup_line(torch_device.describe(dev, args.bf16, args.channels_last), pinned,
                          "bfloat16" if args.bf16 else "float32", args.repeats),
        "",
        f"tiny_gap at {size} px ({CAM_CHANNELS} feature channels), {n} images, top-1 class; "
        + ("maps and curves checked equal to the PyTorch reference's." if not args.bf16 else
           "logits checked equal in float32; bfloat16 maps and curves not compared."),
        "",
        *notes,
        *([""] if notes else []),
        "| workload | camjax img/s | PyTorch img/s | camjax / PyTorch |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Deletion + insertion at the same work (the same two curves): camjax scores "
        f"{2 * args.steps + 1} distinct images per row, RISE's loop {2 * (args.steps + 1)}. "
        f"Images scored per second, in the metric / in bare forward passes of the same "
        f"batches: camjax {scored_j / t_di['camjax']:,.0f} / {fwd_j:,.0f} "
        f"({scored_j / t_di['camjax'] / fwd_j:.0%}), PyTorch {scored_t / t_di['torch']:,.0f}"
        f" / {fwd_t:,.0f} ({scored_t / t_di['torch'] / fwd_t:.0%}); the networks' forward "
        f"passes alone: camjax / PyTorch {fwd_j / fwd_t:.2f}x.",
    ]
    publish(args.section, "Map methods and faithfulness (bench/methods.py)", lines,
            write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(machine.rerun_while_loaded(main))
