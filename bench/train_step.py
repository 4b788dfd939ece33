"""Images/s of camjax's jitted, sharded train step against a plain PyTorch step of the same
network and batch, measured in the same run; model FLOPs utilisation against the machine's
measured matmul peak. Writes its section of BENCHMARKS.md.

    python bench/train_step.py                  # CPU: tiny_gap and vgg16_gap at 64 px
    python bench/train_step.py --device-note "1x H100" --dtype bfloat16 \\
        --image-size 224 --batch-per-device 128 --no-torch     # an accelerator

What is timed: ``steps`` train steps (forward, backward, SGD momentum update, BatchNorm
statistics) on one device-resident batch, after two warm-up steps; the median over
``repeats``, camjax and PyTorch runs interleaved so that both see the same machine load.
Data loading is not included. Model FLOPs per step are 3x the forward pass's (XLA's cost
analysis of the forward function); MFU = model FLOPs/s over the best of large matmuls in
the same dtype, timed between the runs.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from camjax import config as config_lib, models  # noqa: E402
from camjax.training import mesh as mesh_lib, state as state_lib  # noqa: E402
import machine  # noqa: E402  (bench/machine.py)

START, END = "<!-- train_step:start -->", "<!-- train_step:end -->"
NUM_CLASSES = 1000


# ----------------------------------------------------------------------------- camjax
def _config(model: str, image_size: int, batch: int, dtype: str):
    return config_lib.load("demo", {
        "model": model, "image_size": image_size, "batch_size": batch, "eval_batch_size": batch,
        "compute_dtype": dtype, "learning_rate": 0.001, "lr_schedule": "constant",
        "warmup_steps": 0, "new_layer_lr_mult": 1.0 if model == "tiny_gap" else 10.0})


def _flops(compiled) -> float:
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost.get("flops", 0.0))


def _seconds_per_step(run, steps: int) -> float:
    start = time.perf_counter()
    run(steps)
    return (time.perf_counter() - start) / steps


def camjax_runner(model_name, image_size, batch, dtype):
    """(run(n steps), info) for camjax's compiled train step, warmed up."""
    c = _config(model_name, image_size, batch, dtype)
    mesh = mesh_lib.data_mesh()
    model = state_lib.build_model(c, NUM_CLASSES, load_weights=False)
    params_count = models.parameter_count(model)
    setup = state_lib.initial_state(model, c, mesh)
    step = state_lib.compile_train_step(setup.train_graphdef, setup.tx, mesh, c)
    rng = np.random.default_rng(0)
    batch_arrays = mesh_lib.global_batch(mesh, {
        "image": rng.normal(size=(batch, image_size, image_size, 3)).astype(np.float32),
        "label": rng.integers(0, NUM_CLASSES, size=batch).astype(np.int32)})

    def forward(params, rest, images):
        return nnx.merge(setup.train_graphdef, params, rest)(images.astype(
            state_lib.compute_dtype(c)))[0]
    fwd = jax.jit(forward).lower(setup.state.params, setup.state.rest,
                                 batch_arrays["image"]).compile()
    model_flops = 3 * _flops(fwd)

    state = setup.state
    for _ in range(2):
        state, metrics = step(state, batch_arrays)
    jax.block_until_ready(metrics)
    holder = {"state": state}

    def run(n):
        s = holder["state"]
        for _ in range(n):
            s, m = step(s, batch_arrays)
        jax.block_until_ready(m["loss"])
        holder["state"] = s
    return run, {"model_flops": model_flops, "params": params_count}


def matmul_runner(dtype: str, n: int):
    """A function timing one n x n matmul on the default device; returns FLOP/s."""
    dt = jnp.bfloat16 if dtype == "bfloat16" else jnp.float32
    a = jax.random.normal(jax.random.key(0), (n, n), dt)
    b = jax.random.normal(jax.random.key(1), (n, n), dt)
    mm = jax.jit(lambda x, y: x @ y)
    mm(a, b).block_until_ready()

    def sample() -> float:
        start = time.perf_counter()
        mm(a, b).block_until_ready()
        return 2 * n ** 3 / (time.perf_counter() - start)
    return sample


# ---------------------------------------------------------------------------- PyTorch
def torch_net(model_name: str):
    """The same network in plain PyTorch (NCHW), torchvision-free."""
    import torch.nn as nn

    class GapNet(nn.Module):
        def __init__(self, features, channels, dropout):
            super().__init__()
            self.features = features
            self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
            self.fc = nn.Linear(channels, NUM_CLASSES, bias=False)

        def forward(self, x):
            return self.fc(self.dropout(self.features(x).mean(dim=(2, 3))))

    layers, cin = [], 3
    if model_name == "tiny_gap":
        for cout, stride in zip((24, 32, 48, 64, 96), (2, 2, 1, 2, 1)):
            layers += [nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                       nn.BatchNorm2d(cout, momentum=0.1), nn.ReLU(inplace=True)]
            cin = cout
        layers += [nn.Conv2d(cin, 128, 3, 1, 1, bias=False),   # CAM conv with BatchNorm
                   nn.BatchNorm2d(128, momentum=0.1), nn.ReLU(inplace=True)]
        return GapNet(nn.Sequential(*layers), 128, 0.0), 1.0
    if model_name == "vgg16_gap":
        for item in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                     512, 512, 512):
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, item, 3, 1, 1), nn.ReLU(inplace=True)]
                cin = item
        layers += [nn.Conv2d(cin, 1024, 3, 1, 1, groups=2), nn.ReLU(inplace=True)]
        return GapNet(nn.Sequential(*layers), 1024, 0.5), 10.0
    raise ValueError(f"no PyTorch version of {model_name}")


def torch_runner(model_name, image_size, batch):
    """(run(n steps), info) for the same train step in plain PyTorch, warmed up."""
    import torch
    torch.manual_seed(0)
    net, mult = torch_net(model_name)
    cam = len(net.features) - (3 if model_name == "tiny_gap" else 2)   # the CAM conv's index
    new = [p for name, p in net.named_parameters()
           if name.startswith("fc") or name.startswith(f"features.{cam}.")]
    old = [p for p in net.parameters() if all(p is not q for q in new)]
    opt = torch.optim.SGD([{"params": old}, {"params": new, "lr": 0.001 * mult}], lr=0.001,
                          momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, 3, image_size, image_size)
    y = torch.randint(0, NUM_CLASSES, (batch,))
    net.train()

    def run(n):
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
        float(loss)
    run(2)
    return run, {"params": sum(p.numel() for p in net.parameters()),
                 "threads": torch.get_num_threads(), "version": torch.__version__}


# ------------------------------------------------------------------------------ report
def write_section(path: Path, note: str, block: str) -> None:
    """Replace this device note's block inside the train_step section; keep the others."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    blocks: dict[str, str] = {}
    if START in text and END in text:
        inner = text[text.index(START) + len(START):text.index(END)]
        for m in re.finditer(r"<!-- device: (.*?) -->\n(.*?)(?=<!-- device: |\Z)", inner, re.S):
            blocks[m[1]] = m[2].strip()
        head, tail = text[:text.index(START)], text[text.index(END) + len(END):]
    else:
        head, tail = text.rstrip() + "\n\n", "\n"
    blocks[note] = block.strip()
    body = "\n".join(f"<!-- device: {k} -->\n{v}\n" for k, v in blocks.items())
    section = (f"{START}\n## Train step (bench/train_step.py)\n\n"
               "camjax's jitted train step (forward, backward, SGD momentum, BatchNorm) on a "
               "device-resident batch against the same network and step in plain PyTorch, "
               "same machine, same run; MFU = model FLOPs (3x forward) per second over a "
               "measured matmul peak.\n\n" + body + END)
    path.write_text(head + section + tail)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="tiny_gap,vgg16_gap")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--batch-per-device", type=int, default=16)
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--matmul-size", type=int, default=0, help="0: 2048 on CPU, 8192 else")
    p.add_argument("--device-note", default="", help="names this machine's block in "
                   "BENCHMARKS.md (default: the JAX platform and device kind)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)

    devices = jax.devices()
    platform_name = devices[0].platform
    kind = devices[0].device_kind
    note = args.device_note or (platform_name if kind == platform_name else
                                f"{platform_name} {kind}")
    batch = args.batch_per_device * len(devices)
    stamp = machine.Stamp()
    n = args.matmul_size or (2048 if platform_name == "cpu" else 8192)
    peak_sample = matmul_runner(args.dtype, n)
    torch_ok = not args.no_torch and platform_name == "cpu"
    if torch_ok:
        try:
            import torch  # noqa: F401
        except ImportError:
            torch_ok = False
    rows, torch_info, peaks = [], None, []
    for name in args.models.split(","):
        run_j, j = camjax_runner(name, args.image_size, batch, args.dtype)
        run_t, t = torch_runner(name, args.image_size, batch) if torch_ok else (None, None)
        if t is not None:
            torch_info = t
            assert t["params"] == j["params"], (name, t["params"], j["params"])
        times_j, times_t = [], []
        for _ in range(args.repeats):     # interleaved: both see the same machine load
            peaks.append(peak_sample())
            times_j.append(_seconds_per_step(run_j, args.steps))
            if run_t is not None:
                times_t.append(_seconds_per_step(run_t, args.steps))
        j["seconds"] = statistics.median(times_j)
        t_seconds = statistics.median(times_t) if times_t else None
        peak = max(peaks)
        ips = batch / j["seconds"]
        mfu = j["model_flops"] / j["seconds"] / peak
        rows.append((name, ips, ips / len(devices), t_seconds and batch / t_seconds, j, mfu))
        print(f"{name}: camjax {ips:,.1f} img/s ({ips / len(devices):,.1f} per device), "
              f"{j['seconds'] * 1e3:.1f} ms/step, {j['model_flops'] / 1e9:.2f} GFLOP/step, "
              f"MFU {mfu:.1%}" + (f"; PyTorch {batch / t_seconds:,.1f} img/s, camjax/PyTorch "
                                  f"{t_seconds / j['seconds']:.2f}x" if t_seconds else ""))
    peak = max(peaks)
    lines = [stamp.line(), f"jax {jax.__version__} on {len(devices)} x {note}; "
             + (f"PyTorch {torch_info['version']} ({torch_info['threads']} threads); "
                if torch_info else "no PyTorch reference; ")
             + f"{args.dtype}; medians of {args.repeats} interleaved runs of {args.steps} "
             f"steps; matmul peak {peak / 1e9:,.1f} GFLOP/s (best {n}x{n} {args.dtype} "
             "matmul between runs)", "",
             "| network | input | global batch | camjax img/s | per device | PyTorch img/s "
             "| camjax / PyTorch | ms/step | model GFLOP/step | MFU |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, ips, per_dev, tips, j, mfu in rows:
        lines.append(f"| {name} | {args.image_size} px | {batch} | {ips:,.1f} | {per_dev:,.1f} | "
                     + (f"{tips:,.1f} | {ips / tips:.2f}x" if tips else "- | -")
                     + f" | {j['seconds'] * 1e3:.1f} | {j['model_flops'] / 1e9:.2f} | "
                     f"{mfu:.1%} |")
    block = "\n".join(lines)
    print("\n" + block)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", note, block)
        print(f"\nwrote the train_step section of {ROOT / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(machine.rerun_while_loaded(main))
