"""Forward pass + top-5 CAMs, VGG16-GAP at 224: camjax against plain PyTorch, same weights,
same run. Writes its section of BENCHMARKS.md.

    python bench/forward_cam.py [--images 8] [--image-size 224] [--repeats 5] [--threads 1]
    python bench/forward_cam.py --images 64 --bf16 --channels-last     # an accelerator

Both sides hold the same random weights: a plain-PyTorch VGG16-GAP (torchvision's
``features`` layout from tests/models/torch_reference.py, the CAM conv with 2 groups, ReLU,
global average pooling, a dense layer without bias), loaded into camjax's ``vgg16_gap``
with ``camjax.models.load_pretrained`` (the backbone) and by hand (CAM conv, classifier).
The work, per batch: the forward pass, the 5 best classes, their CAMs at 14 x 14,
bilinear upsampling to the input size (half-pixel centres: ``F.interpolate(...,
align_corners=False)``), min-max normalisation per map. camjax: ``camjax_maps``, one
jitted call (the one function to switch to the map engine); PyTorch: ``torch_maps`` under
``no_grad`` (CUDA when there is one, ``torch.cuda.synchronize()`` before the clock
stops; ``--bf16`` autocast, ``--channels-last``). The bench checks the logits, classes
and maps agree (float32), then reports medians of ``--repeats`` interleaved runs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import camjax  # noqa: E402
from camjax.training.state import set_compute_dtype  # noqa: E402
import machine  # noqa: E402  (bench/machine.py)
import torch_device  # noqa: E402  (bench/torch_device.py)
from sections import publish  # noqa: E402  (bench/sections.py)
import timing  # noqa: E402  (bench/timing.py)

NUM_CLASSES, TOP = 1000, 5


# ------------------------------------------------------------------------------ camjax
def camjax_maps(graphdef, state, images, size):
    """Logits, top-5 classes and their normalised CAMs at ``size``: the camjax side."""
    model = nnx.merge(graphdef, state)
    logits, features = model(images)
    top = camjax.cam.top_k_classes(logits, TOP)
    maps = camjax.cam.class_activation_maps(features, camjax.models.class_weights(model), top)
    maps = camjax.cam.normalize(camjax.cam.upsample(maps.astype(jnp.float32), (size, size)))
    return logits, top, maps


# ----------------------------------------------------------------------------- PyTorch
def torch_vgg16_gap(seed: int = 0):
    """torchvision's VGG16 features[:30] + the CAM conv (2 groups) + GAP + dense (no bias)."""
    import torch
    from torch import nn
    from tests.models.torch_reference import VGG16

    torch.manual_seed(seed)

    class VGG16GAP(nn.Module):
        def __init__(self):
            super().__init__()
            self.vgg = VGG16()
            self.cam_conv = nn.Conv2d(512, 1024, 3, padding=1, groups=2)
            self.fc = nn.Linear(1024, NUM_CLASSES, bias=False)
            with torch.no_grad():
                self.fc.weight.normal_(0, 0.01)

        def forward(self, x):
            features = torch.relu(self.cam_conv(self.vgg.backbone(x)))
            return self.fc(features.mean(dim=(2, 3))), features
    return VGG16GAP().eval()


def camjax_twin(net):
    """camjax's vgg16_gap with ``net``'s weights (eval mode); built abstractly (eager
    initialisation would compile one op per parameter) and filled from the torch tensors."""
    model = nnx.eval_shape(lambda: camjax.models.create("vgg16_gap", num_classes=NUM_CLASSES,
                                                        rngs=nnx.Rngs(0)))
    for _, var in nnx.to_flat_state(nnx.state(model, nnx.Not(nnx.Param))):
        value = var.get_value()                      # dropout's RNG stream: key and count
        var.set_value(jax.random.key(0) if jax.dtypes.issubdtype(
            value.dtype, jax.dtypes.prng_key) else jnp.zeros(value.shape, value.dtype))
    camjax.models.load_pretrained(model, {k: v.numpy() for k, v in
                                          net.vgg.state_dict().items()})
    model.cam_conv.conv.kernel.set_value(jnp.asarray(
        net.cam_conv.weight.detach().numpy().transpose(2, 3, 1, 0)))
    model.cam_conv.conv.bias.set_value(jnp.asarray(net.cam_conv.bias.detach().numpy()))
    model.head.classifier.kernel.set_value(jnp.asarray(net.fc.weight.detach().numpy().T))
    model.eval()
    return model


def torch_maps(net, x, bf16=False):
    import torch
    import torch.nn.functional as F
    with torch.no_grad(), torch_device.autocast(x.device, bf16):
        logits, features = net(x)
        logits, features = logits.float(), features.float()
        top = logits.topk(TOP, dim=1).indices
        weights = net.fc.weight.float()[top]                        # (B, 5, 1024)
        cams = torch.einsum("bkc,bchw->bkhw", weights, features)
        cams = F.interpolate(cams, x.shape[-2:], mode="bilinear", align_corners=False)
        lo = cams.amin(dim=(2, 3), keepdim=True)
        hi = cams.amax(dim=(2, 3), keepdim=True)
        maps = torch.where(hi > lo, (cams - lo) / (hi - lo), torch.zeros_like(cams))
    torch_device.sync(x.device)
    return logits, top, maps


# ------------------------------------------------------------------------------ report
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=8, help="batch size")
    p.add_argument("--image-size", type=int, default=224)
    timing.comparison_options(p, "forward_cam", repeats=5)
    args = p.parse_args(argv)
    pinned, stamp, dev = timing.start(args)
    import torch

    n, size = args.images, args.image_size
    net = torch_vgg16_gap()
    model = camjax_twin(net)
    net = torch_device.place(net, dev, args.channels_last)
    images = np.random.default_rng(0).normal(0, 1, (n, size, size, 3)).astype(np.float32)
    x_torch = torch_device.place(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()), dev,
                                 args.channels_last)
    x_jax = jnp.asarray(images)
    graphdef, state = nnx.split(model)
    run = jax.jit(camjax_maps, static_argnums=(0, 3))
    with torch_device.exact():
        logits, top, maps = run(graphdef, state, x_jax, size)
        t_logits, t_top, t_maps = torch_maps(net, x_torch)
    np.testing.assert_allclose(np.asarray(logits), t_logits.cpu().numpy(), rtol=1e-3,
                               atol=1e-3 * float(np.abs(np.asarray(logits)).max()))
    same = np.asarray(top) == t_top.cpu().numpy()            # near-ties may swap a class
    assert same.mean() > 0.9, "top-5 classes differ"
    rows = same.all(axis=1)
    np.testing.assert_allclose(np.asarray(maps)[rows], t_maps.cpu().numpy()[rows], atol=2e-3)
    if args.bf16:
        set_compute_dtype(model, jnp.bfloat16)
        graphdef, state = nnx.split(model)
        x_jax = x_jax.astype(jnp.bfloat16)

    def ours():
        jax.block_until_ready(run(graphdef, state, x_jax, size))
    ours()                                                   # compile (bf16), warm up
    torch_maps(net, x_torch, args.bf16)
    med = timing.median_interleaved(
        {"camjax": ours, "torch": lambda: torch_maps(net, x_torch, args.bf16)}, args.repeats)
    lines = [
        stamp.line(),
        timing.setup_line(torch_device.describe(dev, args.bf16, args.channels_last), pinned,
                          "bfloat16" if args.bf16 else "float32", args.repeats),
        "",
        f"VGG16-GAP at {size} px, batch {n}: forward, top-{TOP} classes, CAMs ({size // 16} x "
        f"{size // 16} -> "
        f"{size} x {size}, bilinear), min-max normalised; logits, classes and maps checked "
        "equal to PyTorch's in float32.",
        "",
        "| implementation | ms / batch | images/s | maps/s | vs PyTorch |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in (("torch", "plain PyTorch (reference)"),
                        ("camjax", "camjax, one jitted call")):
        lines.append(f"| {label} | {med[name] * 1e3:,.1f} | {n / med[name]:,.1f} | "
                     f"{n * TOP / med[name]:,.0f} | {med['torch'] / med[name]:.2f}x |")
    publish(args.section, "Forward + top-5 CAMs, VGG16-GAP (bench/forward_cam.py)", lines,
            write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(machine.rerun_while_loaded(main))
