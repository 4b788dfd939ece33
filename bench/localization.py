"""Localization benchmarks: boxes from maps, and CAMs from features.

    .venv/bin/python bench/localization.py [--images 8] [--repeats 3]

On the same CAM maps (top-5 classes of a batch, 224x224, min-max normalised):

(a) the WSOL rule, V2 (all contours) and V1, for thresholds arange(0, 1, 0.001):
    camjax's sweep (compiled component trees, camjax.boxes._unionfind, threads
    over the batch) vs the per-threshold OpenCV loop written as wsolevaluation
    writes it (the test oracle, tests/boxes/oracle.py); the bench asserts the
    boxes are identical and reports the first call's time (numba compile, or
    loading its on-disk cache);
(b) the paper rule at one threshold (0.2): camjax on the host (OpenCV labelling)
    and on the device (jitted JAX labelling) vs a per-map scikit-image loop (the
    oracle); (b') the same at 51 thresholds in one call (camjax's sweep);
(c) CAMs for the top-5 classes from 14x14x1024 features to 224x224 maps with
    camjax.cam (class_activation_maps + upsample + normalize), maps per second.

Medians of ``--repeats`` runs; ratios are against the reference measured in the
same run. Results go to the ``localization`` section of BENCHMARKS.md. (a) times the
boxes alone; bench/maxboxacc.py times MaxBoxAcc and PxAP from maps to the metric.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))         # camjax and the test oracle from this checkout

import camjax  # noqa: E402
from camjax.threads import default_workers  # noqa: E402
from tests.boxes import oracle  # noqa: E402
import machine  # noqa: E402  (bench/machine.py)
from sections import publish  # noqa: E402  (bench/sections.py)
from timing import median_time  # noqa: E402  (bench/timing.py)



def make_cams(key, batch: int, k: int = 5, classes: int = 1000):
    """Top-k CAMs of random ReLU features through camjax.cam: (batch, k, 224, 224)."""
    kf, kw = jax.random.split(key)
    feats = jax.nn.relu(jax.random.normal(kf, (batch, 14, 14, 1024), jnp.float32))
    weights = jax.random.normal(kw, (1024, classes), jnp.float32) / 32.0
    logits = feats.mean(axis=(1, 2)) @ weights
    top = camjax.cam.top_k_classes(logits, k)
    return feats, weights, top


def cam_maps(feats, weights, top):
    maps = camjax.cam.class_activation_maps(feats, weights, top)
    maps = camjax.cam.upsample(maps, (224, 224), "bilinear")
    return camjax.cam.normalize(maps, "minmax")




def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=8, help="images for (a); x5 maps")
    p.add_argument("--images-b", type=int, default=32, help="images for (b) and (c)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    stamp = machine.Stamp()
    rep = args.repeats
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    key = jax.random.key(0)
    feats, weights, top = make_cams(key, args.images_b)
    maps = np.asarray(cam_maps(feats, weights, top))               # (B, 5, 224, 224)
    maps_a = maps[:args.images].reshape(-1, 224, 224).astype(np.float64)
    taus = np.arange(0, 1, 0.001)
    say(f"jax {jax.__version__} on {jax.devices()[0].platform}, OpenCV {cv2.__version__}; "
        f"medians of {rep} runs")
    say()

    # (a) WSOL rule, 1000 thresholds
    n = len(maps_a)
    say(f"(a) WSOL rule, {n} maps 224x224, thresholds arange(0, 1, 0.001)")
    say()
    say("| variant | per-threshold OpenCV loop | camjax.boxes.wsol_boxes | speed-up |")
    say("|---|---|---|---|")
    first = {}
    for multi, name in ((True, "V2 (all contours)"), (False, "V1 (largest contour)")):
        want = oracle.wsol_boxes_reference(maps_a, taus, multi)
        t = time.perf_counter()
        got = camjax.boxes.wsol_boxes(maps_a, taus, multi)
        first[name] = time.perf_counter() - t
        for a, b in zip(want, got):
            assert np.array_equal(a, b), f"{name}: camjax boxes differ from the OpenCV loop"
        t_ref = median_time(lambda: oracle.wsol_boxes_reference(maps_a, taus, multi),
                            max(1, rep - 1))
        t_new = median_time(lambda: camjax.boxes.wsol_boxes(maps_a, taus, multi), rep)
        say(f"| {name} | {t_ref / n * 1e3:.1f} ms/map | {t_new / n * 1e3:.2f} ms/map | "
            f"{t_ref / t_new:.1f}x |")
    say()
    say(f"boxes identical to the loop's ({len(got.boxes)} boxes for V1, checked per pair); "
        f"{default_workers()} worker threads; first call (JIT compile or "
        "cache load, plus the work): " + ", ".join(f"{k.split()[0]} {v:.1f} s"
                                                   for k, v in first.items()))
    say()

    # (b) paper rule, one threshold
    maps_b = maps.astype(np.float32)
    nb = maps_b.shape[0] * maps_b.shape[1]
    ref = oracle.largest_component_boxes_reference(maps_b, 0.2)
    host = camjax.boxes.largest_component_boxes(maps_b, 0.2)
    dev_maps = jnp.asarray(maps_b)
    dev = np.asarray(camjax.boxes.largest_component_boxes_device(dev_maps, 0.2))
    assert np.array_equal(ref, host) and np.array_equal(ref, dev), "paper-rule boxes differ"
    t_ref = median_time(lambda: oracle.largest_component_boxes_reference(maps_b, 0.2), rep)
    t_host = median_time(lambda: camjax.boxes.largest_component_boxes(maps_b, 0.2), rep)
    t_dev = median_time(lambda: camjax.boxes.largest_component_boxes_device(
        dev_maps, 0.2, check=False).block_until_ready(), rep)
    say(f"(b) paper rule, threshold 0.2, top-5 maps of {maps_b.shape[0]} images ({nb} maps)")
    say()
    say("| implementation | ms/map | vs scikit-image loop |")
    say("|---|---|---|")
    say(f"| per-map skimage.measure.label loop (reference) | {t_ref / nb * 1e3:.3f} | 1.0x |")
    say(f"| camjax host (OpenCV labelling, {default_workers()} worker threads) | "
        f"{t_host / nb * 1e3:.3f} | {t_ref / t_host:.1f}x |")
    say(f"| camjax device, jitted JAX on {jax.devices()[0].platform} | {t_dev / nb * 1e3:.3f} | "
        f"{t_ref / t_dev:.2f}x |")
    say()

    # (b') paper rule, many thresholds in one call
    maps_m = maps_b[:4].reshape(-1, 224, 224)
    ts = np.linspace(0.0, 1.0, 51)
    want = oracle.largest_component_boxes_reference(maps_m, ts)
    assert np.array_equal(camjax.boxes.largest_component_boxes(maps_m, ts), want)
    t_ref = median_time(lambda: oracle.largest_component_boxes_reference(maps_m, ts),
                        max(1, rep - 1))
    t_new = median_time(lambda: camjax.boxes.largest_component_boxes(maps_m, ts), rep)
    say(f"(b') paper rule, {len(ts)} thresholds in one call, {len(maps_m)} maps: skimage loop "
        f"{t_ref / len(maps_m) * 1e3:.1f} ms/map, camjax sweep {t_new / len(maps_m) * 1e3:.1f} "
        f"ms/map ({t_ref / t_new:.1f}x), boxes identical")
    say()

    # (c) CAMs
    fn = jax.jit(cam_maps)
    fn(feats, weights, top).block_until_ready()
    t_cam = median_time(lambda: fn(feats, weights, top).block_until_ready(), rep)
    nm = top.size
    say(f"(c) CAM top-5 from 14x14x1024 features to 224x224 (cam + upsample + normalize, "
        f"jitted, batch {feats.shape[0]}): {nm / t_cam:,.0f} maps/s "
        f"({t_cam / nm * 1e3:.3f} ms/map)")
    lines.insert(0, stamp.line())
    print(lines[0])
    publish("localization", "Localization (bench/localization.py)", lines,
            write=not args.no_write, echo=False)


if __name__ == "__main__":
    sys.exit(machine.rerun_while_loaded(main))
