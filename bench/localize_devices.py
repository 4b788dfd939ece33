"""``camjax localize`` images/s on 1 and on 4 devices of one process, and on 2 processes
x 2 devices (``jax.distributed`` on this machine): the same photos, network and options.
Writes its section of BENCHMARKS.md.

    python bench/localize_devices.py [--images 64] [--model resnet18] [--runs 1,4,2x2]
    python bench/localize_devices.py --images 8 --model tiny_gap --runs 1,2 --no-write

Each run is a fresh process (the device count is fixed when JAX starts): ``D`` is one
process with ``D`` devices, ``PxD`` is ``P`` processes of ``D`` devices each. On a CPU
the devices are forced (``XLA_FLAGS=--xla_force_host_platform_device_count=D``) and split
the same cores: the CPU ratios show what sharding and the split over processes cost, not
a speedup, which needs real accelerators (a GPU host runs it unchanged; ``D`` is then
limited to its GPUs). The work, end to end as a user runs it: ``localize`` of a folder of
``--images`` JPEGs (about 500 x 375, quality 90: decoding, torchvision's resize and centre
crop, the network, top-5 CAMs, boxes, overlay PNGs and the tables), ``--batch`` images per
call; ``resnet18`` is torchvision's ResNet-18 with random weights read from a
.safetensors file (``localize --model resnet18 --weights``), ``tiny_gap`` the tests'
32-px network. Each process localizes the folder ``--repeats`` + 1 times (the first
compiles) and the run's time is the median over repeats of its slowest process.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import machine  # noqa: E402  (bench/machine.py)
from sections import write_section  # noqa: E402  (bench/sections.py)


def make_photos(folder: Path, count: int) -> None:
    """``count`` ImageNet-sized JPEGs (500 x 375 or 375 x 500), smooth shapes on noise."""
    from PIL import Image
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        h, w = (375, 500) if i % 2 == 0 else (500, 375)
        pixels = rng.integers(0, 256, (h, w, 3), np.uint8) // 2
        y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
        pixels[y:y + h // 3, x:x + w // 3] = rng.integers(128, 256, 3)
        Image.fromarray(pixels).save(folder / f"photo{i:04d}.jpg", quality=90)


def worker(args) -> int:
    """One process of a run: localize the folder ``--repeats`` + 1 times, print the times."""
    from camjax import distributed
    distributed.maybe_initialize()                    # CAMJAX_* variables, before any work
    import jax
    from camjax.localize import localize
    options = dict(batch_size=args.batch, progress=False, top_k=5)
    if args.model == "tiny_gap":       # its own process: the loader patched for good
        from tests.localize_parallel_run import tiny_predictor
        from camjax.localize import job
        job.from_workdir = tiny_predictor
        options.update(workdir=args.photos)
    else:
        options.update(model=args.model, weights=args.weights)
    seconds = []
    for repeat in range(args.repeats + 1):
        out = Path(args.out) / f"repeat{repeat}"
        distributed.barrier(f"bench repeat {repeat}")   # the processes start together
        start = time.perf_counter()
        result = localize([args.photos], out, **options)
        seconds.append(time.perf_counter() - start)
        assert not result.failed, result.failed
    print(json.dumps({"seconds": seconds[1:], "devices": jax.local_device_count(),
                      "process": jax.process_index()}), flush=True)
    return 0


def run(spec: str, args, root: Path) -> dict:
    """The run ``spec`` ("4" or "2x2"): its processes started together, their times."""
    procs_n, devices = (int(v) for v in spec.split("x")) if "x" in spec else (1, int(spec))
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
           "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    if procs_n > 1:
        import socket
        with socket.socket() as s:
            s.bind(("localhost", 0))
            port = s.getsockname()[1]
        env.update(CAMJAX_COORDINATOR=f"localhost:{port}", CAMJAX_NUM_PROCESSES=str(procs_n))
    command = [sys.executable, __file__, "--worker", "--photos", str(root / "photos"),
               "--out", str(root / f"out{spec}"), "--model", args.model, "--batch",
               str(args.batch), "--repeats", str(args.repeats), "--weights", str(args.weights)]
    procs = [subprocess.Popen(command, env={**env, "CAMJAX_PROCESS_ID": str(i)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(procs_n)]
    outs = [p.communicate() for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"run {spec} failed:\n" + "\n".join(o[1][-3000:] for o in outs))
    times = [json.loads(o[0].strip().splitlines()[-1])["seconds"] for o in outs]
    slowest = [max(t) for t in zip(*times)]           # per repeat, the last process to end
    return {"processes": procs_n, "devices": devices, "seconds": statistics.median(slowest)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--model", default="resnet18", choices=("resnet18", "tiny_gap"))
    p.add_argument("--batch", type=int, default=16, help="images per call, per process")
    p.add_argument("--runs", default="1,4,2x2", help="D (devices) or PxD (processes x D)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--photos", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--weights", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    stamp = machine.Stamp()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_photos(root / "photos", args.images)
        args.weights = root / "resnet18.safetensors"
        if args.model == "resnet18":
            from safetensors.numpy import save_file
            from tests.test_localize import resnet18_weights
            save_file(resnet18_weights(), args.weights)
        results = {spec: run(spec, args, root) for spec in args.runs.split(",")}
    base = next(iter(results.values()))["seconds"]
    lines = [stamp.line(),
             f"{args.model}, {args.images} JPEGs of 500 x 375, batch {args.batch} per "
             f"process, top-5 CAMs, boxes, overlays and tables; median of {args.repeats} "
             "repeats after a compiling one, the slowest process of each",
             "", "| processes x devices | s | images/s | vs the first row |",
             "|---|---:|---:|---:|"]
    for r in results.values():
        lines.append(f"| {r['processes']} x {r['devices']} | {r['seconds']:.2f} | "
                     f"{args.images / r['seconds']:.1f} | {base / r['seconds']:.2f}x |")
    import jax
    if jax.default_backend() == "cpu":
        lines += ["", "On a CPU the devices are forced and share the same cores: the ratios "
                  "show what sharding a batch and splitting the photos over processes cost "
                  "(each process writes its share; one merged predictions file), not a "
                  "speed-up, which needs real accelerators."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("localize_devices", "## `camjax localize` on several devices and "
                      "processes (bench/localize_devices.py)\n\n" + text)
        print(f"\nwrote the localize_devices section of {ROOT / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main() if "--worker" in sys.argv else machine.rerun_while_loaded(main))
