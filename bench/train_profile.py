"""Where a CPU train step's time goes: camjax's XLA:CPU step, op by op (jax.profiler), against
PyTorch's (torch.profiler) on the same network and batch; and what XLA's options change.

    python bench/train_profile.py [--models tiny_gap,vgg16_gap] [--batch 16 64] [--threads 1]

(a) Profiles: ``--steps`` train steps of bench/train_step.py's networks, traced. camjax:
    each XLA thunk of the compiled step (``jax.profiler`` trace, Perfetto export), named
    by the optimised HLO and put in a category: convolutions forward, their input
    gradient, their weight gradient (a convolution whose window is the activation and
    whose output is the kernel), layout transposes and copies, reductions (BatchNorm
    statistics, pooling, loss), elementwise fusions (BatchNorm, ReLU, their gradients, the
    SGD update), dense. PyTorch: ``torch.profiler`` self CPU time per aten op, in the same
    categories (its convolution backward computes the input and weight gradients in one
    op). Shares of each side's own total; the top ops of camjax's step.
(b) Options: bench/train_step.py run in a subprocess per variant (camjax and PyTorch in
    the same process, interleaved, so every ratio has its reference in the same run):
    camjax's default (YNNPACK's fusions off, ``camjax.xla_cpu``); XLA's own default
    (YNNPACK's fusions on: ``CAMJAX_XLA_CPU_DEFAULTS=0``); XLA:CPU's oneDNN
    (``--xla_cpu_use_onednn``); XNNPACK (``--xla_cpu_use_xnnpack``).

``--threads 1`` (the default) pins both libraries to one core and reads CPU time: the
stable comparison on a shared machine. Results go to the ``train_profile`` section.
"""
from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from camjax import xla_cpu  # noqa: E402
import machine  # noqa: E402  (bench/machine.py)
import threads  # noqa: E402  (bench/threads.py)
from sections import publish  # noqa: E402  (bench/sections.py)

CATEGORIES = ("conv forward", "conv input gradient", "conv weight gradient",
              "conv backward (input + weights)", "transposes, copies", "reductions",
              "elementwise (BatchNorm, ReLU, SGD)", "dense", "other")
# (label, environment variables, XLA flags added to XLA_FLAGS)
FLAG_VARIANTS = (("camjax's default: YNNPACK's fusions off", {}, ""),
                 ("XLA's default: YNNPACK's fusions on", {"CAMJAX_XLA_CPU_DEFAULTS": "0"}, ""),
                 ("--xla_cpu_use_onednn=true", {}, "--xla_cpu_use_onednn=true"),
                 ("--xla_cpu_use_xnnpack=true", {}, "--xla_cpu_use_xnnpack=true"))


# ------------------------------------------------------------------------- XLA side
def hlo_categories(hlo: str, batch: int) -> dict[str, tuple[str, str]]:
    """Instruction name -> (category, shape) for the thunks of an optimised HLO module."""
    computations, current = {}, None
    for line in hlo.splitlines():
        m = re.match(r"%?([\w.\-]+) .*\{$", line)
        if m and not line.startswith(" "):
            current = computations.setdefault(m.group(1), [])
        elif current is not None and line.startswith("  "):
            current.append(line)
    out = {}
    for lines in computations.values():
        for line in lines:
            m = re.match(r"\s*(?:ROOT )?%?([\w.\-]+) = (\S+) (\w+)\(", line)
            if not m:
                continue
            name, shape, opcode = m.groups()
            called = re.search(r"calls=%?([\w.\-]+)", line)
            body = computations.get(called.group(1), []) if called else []
            conv = next((x for x in [line, *body] if " convolution(" in x), None)
            out[name] = (_category(name, opcode, conv, body, line, batch), shape)
    return out


def _category(name, opcode, conv, body, line, batch) -> str:
    if conv is not None:
        window = re.search(r"window=\{size=(\d+)x(\d+)", conv)
        dims = re.search(r"= \w+\[(\d+),(\d+),(\d+),", conv)      # rank 4, or 5: groups
        if window and dims:
            kernel = int(window.group(1)) * int(window.group(2))
            spatial = int(dims.group(2)) * int(dims.group(3))
            if kernel > spatial:          # the window is the activation: a weight gradient
                return "conv weight gradient"
        return "conv input gradient" if "transpose(jvp" in conv else "conv forward"
    if "transpose" in name or opcode in ("transpose", "copy") or "copy" in name:
        return "transposes, copies"
    if opcode == "dot" or any(" dot(" in x for x in body):
        return "dense"
    if opcode == "reduce" or any(" reduce(" in x or " reduce-window(" in x for x in body):
        return "reductions"
    if opcode == "fusion" or opcode in ("add", "multiply", "select", "maximum"):
        return "elementwise (BatchNorm, ReLU, SGD)"
    return "other"


def camjax_profile(model, size, batch, steps) -> tuple[dict, list, float]:
    """({category: ms per step}, top ops [(ms, name, category, shape)], total ms)."""
    import jax
    import train_step
    step, setup, arrays, _ = train_step.camjax_setup(model, size, batch, "float32")
    compiled = step.lower(setup.state, arrays).compile()
    names = hlo_categories(compiled.as_text(), batch)
    state = setup.state
    for _ in range(2):
        state, metrics = compiled(state, arrays)
    jax.block_until_ready(metrics)
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp, create_perfetto_trace=True):
            for _ in range(steps):
                state, metrics = compiled(state, arrays)
            jax.block_until_ready(metrics)
        trace = json.load(gzip.open(next(Path(tmp).rglob("perfetto_trace.json.gz"))))
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    per_op = collections.defaultdict(float)
    for e in events:
        if e.get("ph") == "X" and e.get("name") in names:
            per_op[e["name"]] += e.get("dur", 0) / 1e3 / steps
    cats = collections.defaultdict(float)
    for op, ms in per_op.items():
        cats[names[op][0]] += ms
    top = sorted(((ms, op, *names[op]) for op, ms in per_op.items()), reverse=True)
    return dict(cats), top, sum(per_op.values())


# --------------------------------------------------------------------- PyTorch side
def _torch_category(op: str) -> str:
    op = op.lower()
    if "convolution_backward" in op:
        return "conv backward (input + weights)"
    if "convolution" in op or "conv2d" in op:
        return "conv forward"
    if "batch_norm" in op or "threshold" in op or "relu" in op or "clamp" in op \
            or "foreach" in op or "add_" in op or "mul_" in op or "optimizer" in op:
        return "elementwise (BatchNorm, ReLU, SGD)"
    if "copy" in op or "contiguous" in op or "clone" in op or "to_copy" in op:
        return "transposes, copies"
    if "pool" in op or "mean" in op or "sum" in op or "softmax" in op or "nll" in op:
        return "reductions"
    if op in ("aten::mm", "aten::addmm", "aten::linear", "aten::matmul"):
        return "dense"
    return "other"


def torch_profile(model, size, batch, steps) -> tuple[dict, float]:
    from torch.profiler import ProfilerActivity, profile
    import torch_device
    import train_step
    run, _ = train_step.torch_runner(model, size, batch, torch_device.pick("cpu"))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run(steps)
    cats = collections.defaultdict(float)
    for avg in prof.key_averages():
        if avg.key.startswith(("ProfilerStep", "autograd::engine", "Optimizer.zero_grad")):
            continue
        cats[_torch_category(avg.key)] += avg.self_cpu_time_total / 1e3 / steps
    return dict(cats), sum(cats.values())


# ------------------------------------------------------------------------- options
def option_runs(model, size, batches, threads_n, repeats) -> list[tuple[str, dict]]:
    out = []
    for label, variables, flags in FLAG_VARIANTS:
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            inherited = os.environ.get("XLA_FLAGS", "").split()
            if variables.get(xla_cpu.OPT_OUT) == "0":     # this process's import added it
                inherited = [f for f in inherited if f != xla_cpu.YNN_FUSIONS_OFF]
            env = {**os.environ, **variables, "XLA_FLAGS": " ".join([*inherited, flags]).strip()}
            cmd = [sys.executable, str(ROOT / "bench" / "train_step.py"), "--models", model,
                   "--image-size", str(size), "--batch-per-device", *map(str, batches),
                   "--threads", str(threads_n), "--clock", "cpu" if threads_n == 1 else
                   "wall", "--repeats", str(repeats), "--steps", "2", "--matmul-size", "256",
                   "--torch-device", "cpu", "--json", f.name, "--no-write"]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode:
                out.append((label, {"error": done.stderr.strip().splitlines()[-1][:120]}))
                continue
            out.append((label, json.loads(Path(f.name).read_text())))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="tiny_gap,vgg16_gap")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--batch", type=int, nargs="+", default=[16, 64])
    p.add_argument("--steps", type=int, default=3, help="profiled steps")
    p.add_argument("--repeats", type=int, default=3, help="(b): timed runs per variant")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--top", type=int, default=6, help="camjax's costliest ops listed")
    p.add_argument("--options-models", default="tiny_gap",
                   help="networks of (b) (comma-separated; empty: none)")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    pinned = threads.pin(args.threads)
    stamp = machine.Stamp()
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    sections = []
    for model in args.models.split(","):
        for batch in args.batch:
            cj, top, total_j = camjax_profile(model, args.image_size, batch, args.steps)
            ct, total_t = torch_profile(model, args.image_size, batch, args.steps)
            sections.append((model, batch, cj, top, total_j, ct, total_t))
    options = [(model, option_runs(model, args.image_size, args.batch, args.threads,
                                   args.repeats))
               for model in args.options_models.split(",") if model]

    say(stamp.line())
    say(f"{pinned}; float32, {args.image_size} px; profiles of {args.steps} steps (the "
        "profilers' own times: camjax's XLA thunks, PyTorch's self CPU time per op)")
    for model, batch, cj, top, total_j, ct, total_t in sections:
        say()
        say(f"**{model}, batch {batch}**: camjax {total_j:,.1f} ms/step in XLA thunks, "
            f"PyTorch {total_t:,.1f} ms/step in aten ops")
        say()
        say("| category | camjax ms/step | share | PyTorch ms/step | share |")
        say("|---|---:|---:|---:|---:|")
        for cat in CATEGORIES:
            if cj.get(cat, 0) or ct.get(cat, 0):
                j, t = cj.get(cat, 0.0), ct.get(cat, 0.0)
                say(f"| {cat} | {j:,.1f} | {j / total_j:.0%} | {t:,.1f} | "
                    f"{t / total_t:.0%} |")
        conv_back = cj.get("conv input gradient", 0) + cj.get("conv weight gradient", 0)
        say(f"| *conv backward, both (camjax)* | {conv_back:,.1f} | "
            f"{conv_back / total_j:.0%} | | |")
        say()
        say("camjax's costliest ops: " + "; ".join(
            f"{name} ({cat}, {shape.split('{')[0]}) {ms:,.1f} ms {ms / total_j:.0%}"
            for ms, name, cat, shape in top[:args.top]))
    for model, runs in options:
        say()
        say(f"**{model}: XLA options** (bench/train_step.py per variant, camjax and PyTorch "
            "interleaved in each run; images/s and camjax / PyTorch)")
        say()
        say("| variant | " + " | ".join(f"batch {b}: camjax | PyTorch | ratio"
                                        for b in args.batch) + " |")
        say("|---|" + "---:|---:|---:|" * len(args.batch))
        for label, res in runs:
            if "error" in res:
                say(f"| {label} | failed: {res['error']} |")
                continue
            cells = [f"{r['camjax_ips']:,.0f} | {r['torch_ips']:,.0f} | "
                     f"{r['camjax_ips'] / r['torch_ips']:.2f}x" for r in res["rows"]]
            say(f"| {label} | " + " | ".join(cells) + " |")
    publish("train_profile", "Train step profile, XLA:CPU against PyTorch "
            "(bench/train_profile.py)", lines, write=not args.no_write, echo=False)
    return 0


if __name__ == "__main__":
    sys.exit(machine.rerun_while_loaded(main))
