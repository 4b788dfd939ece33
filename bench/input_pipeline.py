"""Input pipeline: training images/s read, decoded, augmented and batched from a
wsolevaluation folder of ImageNet-sized JPEGs, camjax's grain pipeline (threads; worker
processes) against a plain PIL loop doing the same work, in the same run; images/s per
core and the cores one accelerator needs. Writes its section of BENCHMARKS.md.

    python bench/input_pipeline.py [--images 256] [--image-sizes 224 112] [--threads 1 2]

The bench writes ``--images`` JPEGs of 400-500 x 300-375 pixels (ImageNet's typical
size; smooth colour fields with texture and noise, quality 90: ~100 KB each, about
ImageNet's mean file size) and their wsolevaluation metadata to a temporary folder. For
each ``--image-sizes`` S, every variant does the same work per image: decode, resize to
S * 256 / 224 square, random S crop, random flip, stack into uint8 batches of
``--batch`` (the train step normalises them on the device):

* camjax: ``pipeline.open_source`` + ``train_stream.train_iterator`` (``augment =
  "resize_crop"``), with ``data_threads`` grain threads, or ``data_workers`` processes;
  JPEG draft decoding on (the default: libjpeg decodes at 1/2, 1/4 or 1/8 scale when the
  image stays at least S * 256 / 224 on both sides; at 224 a 500 x 375 image does not
  qualify, at 112 it decodes at 1/2) and off (``jpeg_draft=False``);
* reference: one Python loop, ``PIL.Image.open(...).convert("RGB")``, OpenCV resize (as
  camjax's transform), crop, flip, ``np.stack``; and the same loop normalising to float32
  on the host, which is what camjax's pipeline did before (a quarter of the bytes now go
  to the device).

Timed: ``--batches`` batches after the first (start-up and warm-up not counted); medians
of ``--repeats`` interleaved runs. From the 1-thread rate (one core: the reading thread;
the consumer only takes batches), the number of cores that feed one accelerator training
ResNet-50 at ``--resnet50-rate`` images/s.
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
from camjax.data import pipeline, train_stream, transforms  # noqa: E402
import machine  # noqa: E402  (bench/machine.py)
from sections import publish  # noqa: E402  (bench/sections.py)

# Assumed, not measured here: ResNet-50 v1.5 training, mixed precision, on one A100 80GB:
# 2,470 images/s (NVIDIA DeepLearningExamples, PyTorch/Classification/ConvNets/resnet50v1.5,
# README "Training performance: NVIDIA DGX A100 (8x A100 80GB)", 1 GPU, pytorch-21.03).
RESNET50_RATE = 2470
RESNET50_SOURCE = ("NVIDIA DeepLearningExamples' ResNet-50 v1.5 PyTorch README: 2,470 "
                   "images/s training in mixed precision on one A100 80GB")


def photo(rng, w: int, h: int) -> Image.Image:
    """Smooth colour fields, finer texture and noise: compresses like a photo (~100 KB)."""
    coarse = rng.integers(0, 256, (h // 24 + 2, w // 24 + 2, 3), dtype=np.uint8)
    fine = rng.integers(0, 256, (h // 2 + 1, w // 2 + 1, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC), np.float32)
    texture = np.asarray(Image.fromarray(fine).resize((w, h), Image.BILINEAR), np.float32)
    pixels = 0.6 * base + 0.4 * texture + rng.normal(0, 10, (h, w, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_dataset(root: Path, n: int, classes: int = 10) -> tuple[Path, Path]:
    """n JPEGs under root/images and wsolevaluation metadata (train: labels only)."""
    rng = np.random.default_rng(0)
    images, meta = root / "images", root / "metadata" / "train"
    meta.mkdir(parents=True)
    ids = []
    for k in range(n):
        w, h = int(rng.integers(400, 501)), int(rng.integers(300, 376))
        image_id = f"c{k % classes}/img_{k:05d}.jpg"
        (images / image_id).parent.mkdir(parents=True, exist_ok=True)
        photo(rng, w, h).save(images / image_id, "JPEG", quality=90)
        ids.append(image_id)
    (meta / "image_ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (meta / "class_labels.txt").write_text("".join(f"{i},{k % classes}\n"
                                                   for k, i in enumerate(ids)))
    (meta / "image_sizes.txt").write_text("")
    (meta / "localization.txt").write_text("")
    return root / "metadata", images


def camjax_rate(config, batches: int) -> float:
    """Images/s of ``batches`` batches after the first one."""
    src = pipeline.open_source(config, "train", config.image_root,
                               draft_size=train_stream.train_draft_size(config))
    it = train_stream.train_iterator(src, config, seed=0)
    size = config.image_size
    try:
        next(it)
        t = time.perf_counter()
        for batch in itertools.islice(it, batches):
            assert batch["image"].shape == (config.batch_size, size, size, 3)
            assert batch["image"].dtype == np.uint8
        return batches * config.batch_size / (time.perf_counter() - t)
    finally:
        if hasattr(it, "close"):
            it.close()


def pil_rate(paths: list[Path], size: int, batch: int, batches: int,
             normalise: bool) -> float:
    rng = np.random.default_rng(0)
    order = itertools.cycle(rng.permutation(len(paths)))
    big = size * 256 // 224

    def one(path):
        image = transforms.resize(np.asarray(Image.open(path).convert("RGB")), big)
        y, x = rng.integers(0, big - size + 1, size=2)
        image = image[y:y + size, x:x + size]
        if rng.random() < 0.5:
            image = image[:, ::-1]
        return transforms.normalize_image(image) if normalise else image

    np.stack([one(paths[next(order)]) for _ in range(batch)])          # warm-up batch
    t = time.perf_counter()
    for _ in range(batches):
        out = np.stack([one(paths[next(order)]) for _ in range(batch)])
        assert out.shape == (batch, size, size, 3)
    return batches * batch / (time.perf_counter() - t)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--image-sizes", type=int, nargs="+", default=[224, 112])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--batches", type=int, default=4, help="timed batches per run")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--workers", type=int, nargs="*", default=[2])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--resnet50-rate", type=float, default=RESNET50_RATE,
                   help="images/s of one accelerator training ResNet-50 (the assumption)")
    p.add_argument("--resnet50-source", default=RESNET50_SOURCE)
    p.add_argument("--section", default="input_pipeline",
                   help="BENCHMARKS.md section to write")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    stamp = machine.Stamp()
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        metadata, images = write_dataset(Path(tmp), args.images)
        paths = sorted(images.rglob("*.jpg"))
        kb = np.mean([q.stat().st_size for q in paths]) / 1024
        for size in args.image_sizes:
            base = {"dataset": f"wsol:{metadata}", "image_root": str(images),
                    "image_size": size, "augment": "resize_crop", "batch_size": args.batch}
            variants = [(f"camjax, {t} grain thread{'s' * (t > 1)}", {"data_threads": t})
                        for t in args.threads]
            variants.insert(1, ("camjax, 1 grain thread, no JPEG draft",
                                {"data_threads": 1, "jpeg_draft": False}))
            variants += [(f"camjax, {w} grain worker processes",
                          {"data_threads": 1, "data_workers": w}) for w in args.workers]
            refs = {"PIL loop, uint8 (reference)": False,
                    "PIL loop, float32 normalised on the host (camjax before)": True}
            rates = {name: [] for name in [*refs, *(v[0] for v in variants)]}
            for _ in range(args.repeats):    # interleaved: every variant sees the same load
                for name, normalise in refs.items():
                    rates[name].append(pil_rate(paths, size, args.batch, args.batches,
                                                normalise))
                for name, extra in variants:
                    cfg = config_lib.load(config_lib.packaged("demo"), {**base, **extra})
                    rates[name].append(camjax_rate(cfg, args.batches))
            results[size] = {k: statistics.median(v) for k, v in rates.items()}
    say(stamp.line())
    say(f"{args.images} JPEGs 400-500 x 300-375 (mean {kb:.0f} KB, quality 90), batches of "
        f"{args.batch} uint8 images, {args.batches} timed batches per run, medians of "
        f"{args.repeats} interleaved runs")
    for size, med in results.items():
        ref = med["PIL loop, uint8 (reference)"]
        say()
        say(f"Training input at {size} px (decode, resize {size * 256 // 224}, crop {size}, "
            "flip, batch):")
        say()
        say("| pipeline | images/s | vs PIL loop |")
        say("|---|---:|---:|")
        for name, rate in med.items():
            say(f"| {name} | {rate:,.0f} | {rate / ref:.2f}x |")
        one_core = med.get("camjax, 1 grain thread", ref)
        say()
        if size == 224:
            say(f"At 224 px: {one_core:,.0f} images/s per core (camjax, 1 grain thread), "
                f"so **{math.ceil(args.resnet50_rate / one_core)} cores** feed one "
                f"accelerator training ResNet-50 at {args.resnet50_rate:,.0f} images/s "
                f"(assumed, not measured here: {args.resnet50_source}); a faster chip "
                "needs proportionally more.")
        else:
            say(f"At {size} px: {one_core:,.0f} images/s per core (camjax, 1 grain thread).")
    publish(args.section, "Input pipeline (bench/input_pipeline.py)", lines,
            write=not args.no_write, echo=False)
    return 0


if __name__ == "__main__":
    sys.exit(machine.rerun_while_loaded(main))
