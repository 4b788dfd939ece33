"""ViT-B/16 Grad-CAM at a named block, images/s: camjax against a plain-PyTorch forward-hook
loop on the same weights, in the same run.

    python bench/vit_gradcam.py [--batch 32] [--image-size 224] [--repeats 3]
        [--layer encoder.layers.encoder_layer_10] [--num-layers 12] [--threads N]
        [--torch-device auto|cpu|cuda] [--section vit_gradcam] [--no-write]

The network is torchvision's ``vit_b_16`` as ``tests/models/torch_transformers.py`` writes it
(torchvision's module and parameter names; torch's default initialisation, seed 0), its
state dict loaded whole into camjax's ``vit_b_16``. The workload, for a batch: the logits,
the top-1 class of each image, its Grad-CAM at ``--layer`` (a block's output: tokens, class
token dropped, patches reshaped to the 14x14 grid), upsampled (bilinear) to the input and
min-max normalised:

* camjax: ``camjax.explain(model, images, "grad_cam", layer=...)``, one jitted call (the
  map engine: the forward pass with a zero perturbation at the block, one pullback to it);
* PyTorch: the recipe of pytorch-grad-cam users, written plainly: a forward hook keeps the
  block's output, ``torch.autograd.grad`` of the summed top-1 logits with respect to it
  (only the graph after the block; no parameter gradients, which ``loss.backward()`` in
  pytorch-grad-cam would also compute), ``reshape_transform`` (class token dropped),
  channel weights = the gradient's spatial mean, ReLU of the weighted sum,
  ``F.interpolate`` (bilinear) and ``(m - min) / (max - min + 1e-7)``; on CUDA when there
  is one (``torch.cuda.synchronize()`` before the clock stops).

The bench asserts both give the same top-1 classes (90%: random weights may
have near-ties) and, where they agree, the same maps (1e-3). Medians of
``--repeats`` interleaved runs after a warm-up (the first call, camjax's compile, is
reported apart). Results go to the ``vit_gradcam`` section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np
from flax import nnx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import camjax  # noqa: E402
import machine  # noqa: E402  (bench/machine.py)
import torch_device  # noqa: E402  (bench/torch_device.py)
from sections import publish  # noqa: E402  (bench/sections.py)
import timing  # noqa: E402  (bench/timing.py)

NAME = "vit_b_16"


def networks(num_layers: int, image_size: int):
    """(torch reference in eval mode, camjax model filled from its state dict)."""
    import torch
    from tests.models.torch_transformers import VisionTransformer
    torch.manual_seed(0)
    net = VisionTransformer(NAME, num_layers=num_layers, image_size=image_size).eval()
    with torch.no_grad():                  # torch initialises these to zeros / tiny values
        net.class_token.normal_(0, 0.5)
        net.encoder.pos_embedding.normal_(0, 0.5)
    model = nnx.eval_shape(lambda: camjax.models.create(
        NAME, num_classes=1000, num_layers=num_layers, image_size=image_size,
        rngs=nnx.Rngs(0)))
    state = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    assert camjax.models.load_pretrained(model, state).classifier_loaded
    return net, model


def torch_grad_cam(net, x, layer: str):
    """(top-1 classes, (B, H, W) maps): the forward-hook loop."""
    import torch
    import torch.nn.functional as F
    seen = {}
    handle = dict(net.named_modules())[layer].register_forward_hook(
        lambda module, inputs, output: seen.update(out=output))
    try:
        logits = net(x)
    finally:
        handle.remove()
    top = logits.argmax(dim=1)
    act = seen["out"]
    (grad,) = torch.autograd.grad(logits.gather(1, top[:, None]).sum(), act)
    b, h, w = x.shape[0], x.shape[2] // net.patch_size, x.shape[3] // net.patch_size
    with torch.no_grad():
        act = act[:, 1:].reshape(b, h, w, -1)              # reshape_transform
        grad = grad[:, 1:].reshape(b, h, w, -1)
        cam = torch.relu((grad.mean(dim=(1, 2), keepdim=True) * act).sum(dim=-1))
        cam = F.interpolate(cam[:, None], size=x.shape[2:], mode="bilinear",
                            align_corners=False)[:, 0]
        lo = cam.amin(dim=(1, 2), keepdim=True)
        hi = cam.amax(dim=(1, 2), keepdim=True)
        maps = (cam - lo) / (hi - lo + 1e-7)
    torch_device.sync(x.device)
    return top.cpu().numpy(), maps.cpu().numpy()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--layer", default="encoder.layers.encoder_layer_10")
    p.add_argument("--num-layers", type=int, default=12, help="encoder blocks (12: ViT-B)")
    timing.comparison_options(p, "vit_gradcam", dtypes=False)
    args = p.parse_args(argv)
    pinned, stamp, dev = timing.start(args)
    import torch

    net, model = networks(args.num_layers, args.image_size)
    net = net.to(dev)
    images = np.random.default_rng(1).normal(
        0, 1, (args.batch, args.image_size, args.image_size, 3)).astype(np.float32)
    x_torch = torch.from_numpy(images.transpose(0, 3, 1, 2).copy()).to(dev)
    x_jax = jax.device_put(images)

    def ours():
        result = camjax.explain(model, x_jax, "grad_cam", layer=args.layer)
        return jax.block_until_ready((result.classes, result.maps))

    with torch_device.exact():                 # float32 as float32 while compared
        start = time.perf_counter()
        classes, maps = ours()
        first = time.perf_counter() - start
        top, want = torch_grad_cam(net, x_torch, args.layer)
    same = np.asarray(classes)[:, 0] == top             # a near-tie may swap a class
    assert same.mean() >= 0.9, f"top-1 classes differ: {same.mean():.0%} agree"
    np.testing.assert_allclose(np.asarray(maps)[same, 0], want[same], rtol=0, atol=1e-3)
    ours()                                     # default precision: compiled again
    torch_grad_cam(net, x_torch, args.layer)
    t = timing.median_interleaved(
        {"camjax": ours, "torch": lambda: torch_grad_cam(net, x_torch, args.layer)},
        args.repeats)

    n, side = args.batch, args.image_size
    grid = side // 16
    lines = [
        stamp.line(),
        timing.setup_line(torch_device.describe(dev, False, False), pinned, "float32",
                          args.repeats),
        "",
        f"{NAME} ({args.num_layers} blocks, random weights, the same in both), batch {n} at "
        f"{side}x{side}: logits, the top-1 class, its Grad-CAM at `{args.layer}` "
        f"({grid}x{grid} patch grid, class token dropped), upsampled to {side}x{side} and "
        "min-max normalised; classes and maps checked equal to the PyTorch loop's (1e-3).",
        "",
        "| implementation | s / batch | images/s | vs PyTorch |",
        "|---|---|---|---|",
        f"| camjax `explain(..., \"grad_cam\", layer=...)`, one jitted call | "
        f"{t['camjax']:.3f} | {n / t['camjax']:,.2f} | {t['torch'] / t['camjax']:.2f}x |",
        f"| PyTorch forward hook + `autograd.grad` to the block (reference) | "
        f"{t['torch']:.3f} | {n / t['torch']:,.2f} | 1.00x |",
        "",
        f"camjax's first call (compile and run): {first:.1f} s.",
    ]
    publish(args.section, "ViT-B/16 Grad-CAM at a named block (bench/vit_gradcam.py)", lines,
            write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(machine.rerun_while_loaded(main))
