"""Input pipeline: training images/s read, decoded, augmented and batched from a
wsolevaluation folder of JPEGs, camjax's grain pipeline (threads; worker processes)
against a plain PIL loop in the same run. Writes its section of BENCHMARKS.md.

    .venv/bin/python bench/input_pipeline.py [--images 512] [--threads 1 2 4] [--workers 2]

The bench writes ``--images`` JPEGs (224 x 224 to 320 x 256, smooth colour noise, quality
90) and their wsolevaluation metadata to a temporary folder. Every variant produces the
same work per image: decode, resize to 256 x 256, random 224 crop, random flip, normalise
(float32), stack into batches of ``--batch``:

* camjax: ``pipeline.open_source`` + ``pipeline.train_iterator`` (``augment =
  "resize_crop"``), with ``data_threads`` grain threads, or ``data_workers`` grain worker
  processes;
* reference: one Python loop, ``PIL.Image.open(...).convert("RGB").resize((256, 256))``,
  crop, flip, normalise, ``np.stack``.

Timed: ``--batches`` batches after the first (start-up and warm-up not counted); medians
of ``--repeats`` runs. From the 1-thread rate, the number of cores that feed one
accelerator at an assumed ResNet-50 training speed (``--resnet50-rate``).
"""
from __future__ import annotations

import argparse
import itertools
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camjax import config as config_lib  # noqa: E402
from camjax.data import pipeline, transforms  # noqa: E402
import machine  # noqa: E402  (bench/machine.py)
from sections import write_section  # noqa: E402  (bench/sections.py)

# Assumed, not measured here: ResNet-50 v1.5 mixed-precision training on one A100, the
# order of NVIDIA DeepLearningExamples' published throughput (~2,500-3,000 images/s).
RESNET50_RATE = 2800


def write_dataset(root: Path, n: int, classes: int = 10) -> tuple[Path, Path]:
    """n JPEGs under root/images and wsolevaluation metadata (train: labels only)."""
    rng = np.random.default_rng(0)
    images, meta = root / "images", root / "metadata" / "train"
    meta.mkdir(parents=True)
    ids = []
    for k in range(n):
        w, h = int(rng.integers(224, 321)), int(rng.integers(224, 257))
        coarse = rng.integers(0, 256, (h // 16 + 2, w // 16 + 2, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((w, h), Image.BILINEAR)
        image_id = f"c{k % classes}/img_{k:05d}.jpg"
        (images / image_id).parent.mkdir(parents=True, exist_ok=True)
        image.save(images / image_id, "JPEG", quality=90)
        ids.append(image_id)
    (meta / "image_ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (meta / "class_labels.txt").write_text("".join(f"{i},{k % classes}\n"
                                                   for k, i in enumerate(ids)))
    (meta / "image_sizes.txt").write_text("")
    (meta / "localization.txt").write_text("")
    return root / "metadata", images


def camjax_rate(config, batches: int) -> float:
    """Images/s of ``batches`` batches after the first one."""
    src = pipeline.open_source(config, "train", config.image_root)
    it = pipeline.train_iterator(src, config, seed=0)
    try:
        next(it)
        t = time.perf_counter()
        for batch in itertools.islice(it, batches):
            assert batch["image"].shape == (config.batch_size, 224, 224, 3)
        return batches * config.batch_size / (time.perf_counter() - t)
    finally:
        if hasattr(it, "close"):
            it.close()


def pil_rate(paths: list[Path], batch: int, batches: int) -> float:
    rng = np.random.default_rng(0)
    order = itertools.cycle(rng.permutation(len(paths)))

    def one(path):
        image = np.asarray(Image.open(path).convert("RGB").resize((256, 256),
                                                                  Image.BILINEAR))
        y, x = rng.integers(0, 256 - 224 + 1, size=2)
        image = image[y:y + 224, x:x + 224]
        if rng.random() < 0.5:
            image = image[:, ::-1]
        return transforms.normalize_image(image)

    np.stack([one(paths[next(order)]) for _ in range(batch)])          # warm-up batch
    t = time.perf_counter()
    for _ in range(batches):
        out = np.stack([one(paths[next(order)]) for _ in range(batch)])
        assert out.shape == (batch, 224, 224, 3)
    return batches * batch / (time.perf_counter() - t)




def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--batches", type=int, default=6, help="timed batches per run")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--workers", type=int, nargs="*", default=[2])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--resnet50-rate", type=float, default=RESNET50_RATE)
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    stamp = machine.Stamp()
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    with tempfile.TemporaryDirectory() as tmp:
        metadata, images = write_dataset(Path(tmp), args.images)
        paths = sorted(images.rglob("*.jpg"))
        base = {"dataset": f"wsol:{metadata}", "image_root": str(images), "image_size": 224,
                "augment": "resize_crop", "batch_size": args.batch}
        variants = [(f"camjax, {t} grain thread{'s' * (t > 1)}", {"data_threads": t})
                    for t in args.threads]
        variants += [(f"camjax, {w} grain worker processes", {"data_threads": 1,
                                                              "data_workers": w})
                     for w in args.workers]
        rates = {name: [] for name, _ in variants}
        rates["PIL loop (reference)"] = []
        for _ in range(args.repeats):        # interleaved: every variant sees the same load
            rates["PIL loop (reference)"].append(pil_rate(paths, args.batch, args.batches))
            for name, extra in variants:
                cfg = config_lib.load(config_lib.packaged("demo"), {**base, **extra})
                rates[name].append(camjax_rate(cfg, args.batches))
    med = {k: statistics.median(v) for k, v in rates.items()}
    ref = med["PIL loop (reference)"]
    say(stamp.line())
    say(f"{args.images} JPEGs 224-320 x 224-256, batches "
        f"of {args.batch}, {args.batches} timed batches per run, medians of {args.repeats}")
    say()
    say("| pipeline (decode, resize 256, crop 224, flip, normalise, batch) | images/s | "
        "vs PIL loop |")
    say("|---|---:|---:|")
    say(f"| PIL loop (reference) | {ref:,.0f} | 1.0x |")
    for name, _ in variants:
        say(f"| {name} | {med[name]:,.0f} | {med[name] / ref:.2f}x |")
    one_core = med.get("camjax, 1 grain thread", ref)
    cores = math.ceil(args.resnet50_rate / one_core)
    say()
    say(f"At {one_core:,.0f} images/s per core (camjax, 1 thread), {cores} cores feed one "
        f"accelerator at ResNet-50 speed ({args.resnet50_rate:,.0f} images/s: assumed, the "
        "order of NVIDIA DeepLearningExamples' ResNet-50 v1.5 mixed-precision training on "
        "one A100, not measured here).")
    if not args.no_write:
        write_section("input_pipeline",
                      "## Input pipeline (bench/input_pipeline.py)\n\n" + "\n".join(lines))
        print(f"\nwrote the input_pipeline section of {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    sys.exit(machine.rerun_while_loaded(main))
