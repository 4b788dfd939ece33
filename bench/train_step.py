"""Images/s of camjax's jitted, sharded train step against a plain PyTorch step of the same
network and batch, measured in the same run; model FLOPs utilisation against the machine's
measured matmul peak. Writes its section of BENCHMARKS.md.

    python bench/train_step.py                  # CPU: tiny_gap and vgg16_gap, batch 16 and 64
    python bench/train_step.py --threads 1 --clock cpu      # per core, on a busy machine
    python bench/train_step.py --models resnet50_gap --image-size 224 --dtype bfloat16 \\
        --batch-per-device max --channels-last              # an accelerator (bench/accelerator.sh)

What is timed: ``steps`` train steps (forward, backward, SGD momentum update, BatchNorm
statistics) on one device-resident uint8 batch (normalised in the step, as the input
pipeline's batches are), after two warm-up steps; the median over ``repeats``, camjax and
PyTorch runs interleaved so that both see the same machine load. camjax's state is donated
to each step; the clock stops after ``block_until_ready`` (camjax) and
``torch.cuda.synchronize()`` (PyTorch on CUDA). PyTorch runs on CUDA when there is one,
in bf16 autocast when ``--dtype bfloat16`` (channels-last with ``--channels-last``).
Data loading is not included. Model FLOPs per step are 3x the forward pass's (XLA's cost
analysis of the forward function); MFU = model FLOPs/s over the best of large matmuls in
the same dtype, timed between the runs. ``--clock cpu`` reads the process's CPU time
instead of the wall clock (with ``--threads 1``, the time the step itself used, whatever
else the machine runs). ``--batch-per-device max``: the largest power of two that fits
(estimated from the compiled step's memory at a small batch, then halved on failure).
"""
from __future__ import annotations

import argparse
import json
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
import threads  # noqa: E402  (bench/threads.py)
import torch_device  # noqa: E402  (bench/torch_device.py)

START, END = "<!-- train_step:start -->", "<!-- train_step:end -->"
NUM_CLASSES = 1000
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


# ----------------------------------------------------------------------------- camjax
def _config(model: str, image_size: int, batch: int, dtype: str):
    return config_lib.load("demo", {
        "model": model, "image_size": image_size, "batch_size": batch, "eval_batch_size": batch,
        "compute_dtype": dtype, "learning_rate": 0.001, "lr_schedule": "constant",
        "warmup_steps": 0, "new_layer_lr_mult": 1.0 if model == "tiny_gap" else 10.0})


def _flops(stage) -> float:
    cost = stage.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost.get("flops", 0.0))


def filled_model(c):
    """``config.model`` built abstractly and filled from numpy (He-normal kernels, unit
    BatchNorm): eager flax initialisation compiles one op per parameter shape, seconds
    the timings do not need."""
    model = nnx.eval_shape(lambda: state_lib.build_model(c, NUM_CLASSES, load_weights=False))
    rng = np.random.default_rng(0)
    for path, var in nnx.to_flat_state(nnx.state(model)):
        x = var.get_value()
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            value = jax.random.key(0)
        elif path[-1] == "kernel":
            value = rng.normal(0, np.sqrt(2 / max(1, np.prod(x.shape[:-1]))), x.shape)
        elif path[-1] in ("scale", "var"):
            value = np.ones(x.shape)
        else:
            value = np.zeros(x.shape)
        var.set_value(value if isinstance(value, jax.Array) else jnp.asarray(value, x.dtype))
    return model


def camjax_setup(model_name, image_size, batch, dtype):
    """(step, state, batch arrays, info): the compiled train step of the config."""
    c = _config(model_name, image_size, batch, dtype)
    mesh = mesh_lib.data_mesh()
    model = filled_model(c)
    params_count = models.parameter_count(model)
    setup = state_lib.initial_state(model, c, mesh)
    step = state_lib.compile_train_step(setup.train_graphdef, setup.tx, mesh, c)
    rng = np.random.default_rng(0)
    arrays = mesh_lib.global_batch(mesh, {
        "image": rng.integers(0, 256, (batch, image_size, image_size, 3), dtype=np.uint8),
        "label": rng.integers(0, NUM_CLASSES, size=batch).astype(np.int32)})
    return step, setup, arrays, {"params": params_count, "config": c}


def camjax_runner(model_name, image_size, batch, dtype):
    """(run(n steps), info) for camjax's compiled train step, warmed up."""
    step, setup, arrays, info = camjax_setup(model_name, image_size, batch, dtype)
    c = info["config"]

    def forward(params, rest, images):
        return nnx.merge(setup.train_graphdef, params, rest)(images.astype(
            state_lib.compute_dtype(c)))[0]
    fwd = jax.jit(forward).lower(setup.state.params, setup.state.rest,
                                 jax.ShapeDtypeStruct(arrays["image"].shape, jnp.float32))
    info["model_flops"] = 3 * _flops(fwd)        # the lowered program's count: no compile
    step = step.lower(setup.state, arrays).compile()    # compiled once, run as is
    state = setup.state
    for _ in range(2):
        state, metrics = step(state, arrays)
    jax.block_until_ready(metrics)
    holder = {"state": state}

    def run(n):
        s = holder["state"]
        for _ in range(n):
            s, m = step(s, arrays)            # the state is donated: no copy per step
        jax.block_until_ready(m["loss"])
        holder["state"] = s
    return run, info


def largest_batch(model_name, image_size, dtype, probe: int = 32, share: float = 0.8) -> int:
    """The largest power-of-two batch per device whose compiled step fits in ``share`` of
    the device's memory (less when PyTorch's step of the same batch must fit beside it):
    estimated from the memory analysis at ``probe``, then halved on failure."""
    stats = jax.devices()[0].memory_stats() or {}
    limit = stats.get("bytes_limit", 0)
    if not limit:
        return probe
    step, setup, arrays, _ = camjax_setup(model_name, image_size, probe, dtype)
    mem = step.lower(setup.state, arrays).compile().memory_analysis()
    fixed = mem.argument_size_in_bytes + mem.output_size_in_bytes
    per_image = max(mem.temp_size_in_bytes / probe, 1)
    batch = probe
    while fixed + per_image * batch * 2 < share * limit:
        batch *= 2
    while batch > probe:
        try:
            run, _ = camjax_runner(model_name, image_size, batch * jax.device_count(), dtype)
            run(1)
            return batch
        except Exception as err:               # XlaRuntimeError: RESOURCE_EXHAUSTED
            if "RESOURCE_EXHAUSTED" not in str(err) and "out of memory" not in str(err):
                raise
            batch //= 2
    return batch


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
    """The same network in plain PyTorch (NCHW), torchvision-free; (net, new layers' lr
    multiplier, names of the new layers' parameters)."""
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
        return GapNet(nn.Sequential(*layers), 128, 0.0), 1.0, ("fc", "features.15.")
    if model_name == "vgg16_gap":
        for item in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                     512, 512, 512):
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, item, 3, 1, 1), nn.ReLU(inplace=True)]
                cin = item
        layers += [nn.Conv2d(cin, 1024, 3, 1, 1, groups=2), nn.ReLU(inplace=True)]
        return GapNet(nn.Sequential(*layers), 1024, 0.5), 10.0, ("fc", "features.30.")
    if model_name == "resnet50_gap":                # torchvision's layout (tests' reference)
        from tests.models.torch_reference import ResNet50

        class ResNet50GAP(ResNet50):
            def __init__(self):
                super().__init__(num_classes=NUM_CLASSES)
                self.fc = nn.Linear(2048, NUM_CLASSES, bias=False)

            def forward(self, x):
                return self.fc(self.backbone(x).mean(dim=(2, 3)))
        return ResNet50GAP(), 10.0, ("fc",)
    raise ValueError(f"no PyTorch version of {model_name}")


def torch_runner(model_name, image_size, batch, device, bf16=False, channels_last=False):
    """(run(n steps), info) for the same train step in plain PyTorch, warmed up."""
    import torch
    torch.manual_seed(0)
    net, mult, new_names = torch_net(model_name)
    net = torch_device.place(net, device, channels_last)
    new = [p for name, p in net.named_parameters() if name.startswith(new_names)]
    old = [p for p in net.parameters() if all(p is not q for q in new)]
    opt = torch.optim.SGD([{"params": old}, {"params": new, "lr": 0.001 * mult}], lr=0.001,
                          momentum=0.9, weight_decay=5e-4)
    x = torch_device.place(torch.randn(batch, 3, image_size, image_size), device,
                           channels_last)
    y = torch.randint(0, NUM_CLASSES, (batch,), device=device)
    net.train()

    def run(n):
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            with torch_device.autocast(device, bf16):
                loss = torch.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
        torch_device.sync(device)
    run(2)
    return run, {"params": sum(p.numel() for p in net.parameters()),
                 "describe": torch_device.describe(device, bf16, channels_last)}


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
               "measured matmul peak. Where the time goes: bench/train_profile.py.\n\n"
               + body + END)
    path.write_text(head + section + tail)


def seconds_per_step(run, steps: int, clock) -> float:
    start = clock()
    run(steps)
    return (clock() - start) / steps


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="tiny_gap,vgg16_gap")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--batch-per-device", nargs="+", default=["16", "64"],
                   help="batch sizes per device, or 'max' (the largest that fits)")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="pin both libraries to N cores")
    p.add_argument("--clock", default="wall", choices=sorted(CLOCKS))
    p.add_argument("--matmul-size", type=int, default=0, help="0: 2048 on CPU, 8192 else")
    p.add_argument("--device-note", default="", help="names this machine's block in "
                   "BENCHMARKS.md (default: the JAX platform and device kind)")
    p.add_argument("--torch-device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--channels-last", action="store_true", help="PyTorch in channels-last")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    p.add_argument("--json", default="", help="also write the rows to this file")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    pinned = threads.pin(args.threads)
    stamp = machine.Stamp()
    clock = CLOCKS[args.clock]
    devices = jax.devices()
    platform_name, kind = devices[0].platform, devices[0].device_kind
    note = args.device_note or (platform_name if kind == platform_name else
                                f"{platform_name} {kind}")
    n = args.matmul_size or (2048 if platform_name == "cpu" else 8192)
    peak_sample = matmul_runner(args.dtype, n)
    dev = None
    if not args.no_torch:
        try:
            dev = torch_device.pick(args.torch_device)
        except ImportError:
            dev = None
    rows, torch_describe, peaks = [], None, []
    for name in args.models.split(","):
        for per_device in args.batch_per_device:
            per_device = (largest_batch(name, args.image_size, args.dtype,
                                        share=0.8 if dev is None else 0.45)
                          if per_device == "max" else int(per_device))
            batch = per_device * len(devices)
            run_j, j = camjax_runner(name, args.image_size, batch, args.dtype)
            run_t = None
            if dev is not None:
                try:
                    run_t, t = torch_runner(name, args.image_size, batch, dev,
                                            args.dtype == "bfloat16", args.channels_last)
                except RuntimeError as err:     # CUDA out of memory beside camjax's step
                    if "out of memory" not in str(err):
                        raise
                    print(f"PyTorch: out of memory at batch {batch}: no reference", flush=True)
                else:
                    torch_describe = t["describe"]
                    assert t["params"] == j["params"], (name, t["params"], j["params"])
            times_j, times_t = [], []
            for _ in range(args.repeats):     # interleaved: both see the same machine load
                peaks.append(peak_sample())
                times_j.append(seconds_per_step(run_j, args.steps, clock))
                if run_t is not None:
                    times_t.append(seconds_per_step(run_t, args.steps, clock))
            sj = statistics.median(times_j)
            st = statistics.median(times_t) if times_t else None
            mfu = j["model_flops"] / sj / max(peaks)
            rows.append({"network": name, "batch": batch, "per_device": per_device,
                         "camjax_ips": batch / sj, "torch_ips": st and batch / st,
                         "ms": sj * 1e3, "gflop": j["model_flops"] / 1e9, "mfu": mfu})
            print(f"{name} batch {batch}: camjax {batch / sj:,.1f} img/s, {sj * 1e3:.1f} "
                  f"ms/step, MFU {mfu:.1%}" + (f"; PyTorch {batch / st:,.1f} img/s, "
                                               f"camjax/PyTorch {st / sj:.2f}x" if st else ""),
                  flush=True)
    peak = max(peaks)
    lines = [stamp.line(),
             f"jax {jax.__version__} on {len(devices)} x {note}; "
             + (f"{torch_describe}; " if torch_describe else "no PyTorch reference; ")
             + f"{pinned}; {args.dtype}; {args.clock} clock; medians of {args.repeats} "
             f"interleaved runs of {args.steps} steps; matmul peak {peak / 1e9:,.1f} GFLOP/s "
             f"(best {n}x{n} {args.dtype} matmul between runs)", "",
             "| network | input | global batch | camjax img/s | per device | PyTorch img/s "
             "| camjax / PyTorch | ms/step | model GFLOP/step | MFU |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        tips = r["torch_ips"]
        lines.append(f"| {r['network']} | {args.image_size} px | {r['batch']} | "
                     f"{r['camjax_ips']:,.1f} | {r['camjax_ips'] / len(devices):,.1f} | "
                     + (f"{tips:,.1f} | {r['camjax_ips'] / tips:.2f}x" if tips else "- | -")
                     + f" | {r['ms']:.1f} | {r['gflop']:.2f} | {r['mfu']:.1%} |")
    block = "\n".join(lines)
    print("\n" + block)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "line": lines[1]}, indent=1))
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", note, block)
        print(f"\nwrote the train_step section of {ROOT / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(machine.rerun_while_loaded(main))
