"""`camjax evaluate` end to end against wsolevaluation's pipeline, in the same run, on CPU.

    .venv/bin/python bench/evaluate.py [--images 256] [--batch 32] [--wsolevaluation DIR]

A wsolevaluation-layout folder is generated in a temporary folder (bench/evaluate_data.py:
JPEGs of 224-400 px, quality 90, objects with boxes (CUB layout) and masks (OpenImages
layout) over the same images). One random ResNet-50 (torchvision's names, weights from a
seed, random BatchNorm statistics; 200 classes) is evaluated on both layouts by:

* camjax (bench/evaluate_camjax.py): the code of ``camjax evaluate`` for a workdir
  without checkpoint (``training.evaluate.pretrained_for_inference`` loading the state
  dict as ``config.pretrained``, ``pipeline.open_source`` / ``eval_batches`` (grain, 2
  threads: decode, resize), ``training.inference.predict_function`` (the jitted
  ``engine.predict``: forward, CAM of the label and the top-5, bicubic upsampling to
  224, min-max) and ``evaluator.compare`` (paper-rule boxes, MaxBoxAcc V1 and V2, the
  centre-Gaussian baseline, PxAP); no report written;
* the reference: wsolevaluation's ``CAMComputer`` loop (bench/evaluate_refs.py), its own
  code with ``--wsolevaluation``, with the same weights in PyTorch.

Both at wsolevaluation's settings: 224 x 224 (no crop), ``cam_curve_interval`` 0.001,
MaxBoxAccV2 (IoU 30/50/70, all contours) and PxAP; the metrics are asserted equal within
``--tolerance`` points. Timed: images/s end to end (the first pass, a warm-up batch,
compiles and is not timed), and "maps -> metrics" alone (each side replaying its
recorded maps: camjax's job on its device maps; the reference's resize, normalisation,
``np.save`` and evaluators on its raw CAMs; and camjax's accumulator alone on the label
maps, the reference's evaluator's work). camjax runs with and without the overlap of
a batch's host work with the next batch's forward (``evaluator.compare(overlap=...)``).
Writes the ``evaluate`` section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
# the reference's DataLoader forks its workers from this process, where JAX has threads:
# they only decode images (PIL, NumPy), never call JAX
warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))         # camjax and the test twins from this checkout

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from camjax.training.evaluate import pretrained_for_inference  # noqa: E402
from evaluate_camjax import CLASSES, Camjax, camjax_config, scores  # noqa: E402  (bench/)
from evaluate_data import make_folder  # noqa: E402  (bench/)
import evaluate_refs as refs  # noqa: E402  (bench/)
import machine  # noqa: E402  (bench/machine.py)
from sections import write_section  # noqa: E402  (bench/sections.py)

IOUS = (30, 50, 70)


def reference(run, net, folder, metadata, mask_root, args, log):
    """The reference pass: (scores, seconds, replay() -> seconds of maps -> metrics)."""
    cams, seen = [], []

    def stream():
        for images, labels, ids in refs.loader(folder["images"], metadata, args.batch,
                                               args.workers):
            seen.append((labels, ids))
            yield images, labels, ids
    t = time.perf_counter()
    result = run(refs.recording(net, cams), stream(), metadata, mask_root, log)
    seconds = time.perf_counter() - t

    def replay():
        t = time.perf_counter()
        again = run(refs.Replay(cams), refs.replay_stream(seen), metadata, mask_root, log)
        assert np.allclose(again, result)
        return time.perf_counter() - t
    out = ({f"MaxBoxAccV2@{k}": float(v) for k, v in zip(IOUS, result)}
           if mask_root is None else {"PxAP": float(result)})
    return out, seconds, replay, cams


def map_difference(ours, cams) -> float:
    """The largest |camjax's label map - the reference's scoremap| over all pixels (the
    reference's from its recorded CAMs, resized and normalised as its loop does)."""
    worst = 0.0
    for (_, _, maps), raw in zip(ours, cams):
        for m, cam in zip(np.asarray(maps)[:, 0], raw.numpy().astype(float)):
            ref = refs.normalize_scoremap(cv2.resize(cam, m.shape[::-1],
                                                     interpolation=cv2.INTER_CUBIC))
            worst = max(worst, float(np.abs(m - ref).max()))
    return worst


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--interval", type=float, default=0.001, help="cam_curve_interval")
    p.add_argument("--workers", type=int, default=2, help="the reference's DataLoader workers")
    p.add_argument("--tolerance", type=float, default=0.5,
                   help="metric agreement, points (at least one image's worth, 100 / N)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--wsolevaluation", type=Path, default=None,
                   help="a checkout of clovaai/wsolevaluation: time its own CAMComputer")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    stamp = machine.Stamp()
    thresholds = np.arange(0, 1, args.interval)
    run_ref = refs.pipeline(args.wsolevaluation, thresholds, IOUS)
    ref_name = ("wsolevaluation's CAMComputer and evaluators (its code, "
                f"{args.wsolevaluation.name})" if args.wsolevaluation else
                "wsolevaluation's CAMComputer loop (bench/evaluate_refs.py) with the "
                "evaluators of tests/boxes/oracle.py")
    rows, checks = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        folder = make_folder(tmp / "data", args.images, CLASSES, args.seed)
        print(f"{args.images} JPEGs written in {time.perf_counter() - t:.1f} s", flush=True)
        net, state_dict = refs.network(CLASSES, args.seed)
        torch.save({k: torch.from_numpy(v) for k, v in state_dict.items()}, tmp / "w.pth")
        layouts = (("boxes (CUB layout): MaxBoxAccV2", folder["boxes"], None),
                   ("masks (OpenImages layout): PxAP", folder["mask_meta"], folder["masks"]))
        network = None
        for title, metadata, mask_root in layouts:
            config = camjax_config(folder, metadata, tmp / "w.pth", args)
            network = network or pretrained_for_inference(config, CLASSES)   # one compile
            side = Camjax(config, tmp, network)
            side.run(limit=args.batch)                          # compiles: not timed
            run_ref(net, [next(iter(refs.loader(folder["images"], metadata, args.batch, 0)))],
                    metadata, mask_root, tmp / "warm")          # warm-up, not timed
            ref, ref_s, ref_replay, cams = reference(run_ref, net, folder, metadata, mask_root,
                                               args, tmp / "log")
            plain, plain_s, _, _ = side.recorded(overlap=False)
            side.outputs = []                                   # (its maps freed)
            ours, ours_s, ours_replay, alone = side.recorded(overlap=True)
            assert scores(plain) == scores(ours), (scores(plain), scores(ours))
            ref_maps_s, ours_maps_s, alone_s = ref_replay(), ours_replay(), alone()
            diff = map_difference(side.outputs, cams)
            got, want = scores(ours), ref
            for k in want:
                checks.append((title, k, got[k], want[k]))
            n = args.images
            rows.append((title, n / ref_s, n / plain_s, n / ours_s, n / ref_maps_s,
                         n / ours_maps_s, n / alone_s, diff, ref_s - ref_maps_s,
                         ours_s - ours_maps_s))
            print(f"{title}: camjax {got}, reference {want}\n  end to end: reference "
                  f"{n / ref_s:.1f} images/s, camjax {n / plain_s:.1f} (no overlap), "
                  f"{n / ours_s:.1f} (overlap): {ref_s / ours_s:.2f}x; maps -> metrics: "
                  f"reference {n / ref_maps_s:.0f} images/s, camjax {n / ours_maps_s:.0f}: "
                  f"{ref_maps_s / ours_maps_s:.1f}x (the metric alone: {n / alone_s:.0f} "
                  f"images/s); the rest (decode, resize, forward, CAM): "
                  f"reference {n / (ref_s - ref_maps_s):.1f} images/s, camjax "
                  f"{n / (ours_s - ours_maps_s):.1f}; label maps differ by at most {diff:.4f}",
                  flush=True)
            del side
    # a small run: one image whose box or hits change moves a metric by 100 / N points
    tolerance = max(args.tolerance, 100 / args.images)
    bad = [c for c in checks if abs(c[2] - c[3]) > tolerance + 1e-9]
    lines = [stamp.line(), "",
             f"{args.images} generated JPEGs (224-400 px, quality 90; bench/evaluate_data.py), "
             f"a random ResNet-50 (200 classes, the same weights on both sides), batches of "
             f"{args.batch}, 224 x 224, cam_curve_interval {args.interval:g}; reference: "
             f"{ref_name}, torch {torch.__version__} with {torch.get_num_threads()} threads, "
             f"DataLoader with {args.workers} workers; camjax: `camjax evaluate`'s "
             "code (pretrained_for_inference, eval_batches, predict_function, "
             "evaluator.compare; no report). One timed pass per side after a warm-up batch "
             "(camjax's compile excluded). Maps -> metrics: each side replaying its recorded "
             "maps (camjax: boxes and counts from its upsampled, normalised device maps; "
             "reference: cv2 bicubic resize, min-max, np.save and its evaluators from the "
             "7 x 7 CAMs).", "",
             "| layout | reference images/s | camjax, no overlap | camjax, overlap | "
             "speed-up | maps -> metrics: reference | camjax's job | speed-up | camjax, "
             "the metric alone | the rest (decode .. CAM): reference | camjax | "
             "largest map difference |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    n = args.images
    for title, ref_r, plain_r, ours_r, ref_m, ours_m, alone_r, diff, ref_rest, ours_rest \
            in rows:
        lines.append(f"| {title} | {ref_r:.1f} | {plain_r:.1f} | {ours_r:.1f} | "
                     f"{ours_r / ref_r:.2f}x | {ref_m:.0f} | {ours_m:.0f} | "
                     f"{ours_m / ref_m:.1f}x | {alone_r:.0f} | {n / ref_rest:.1f} | "
                     f"{n / ours_rest:.1f} | {diff:.4f} |")
    lines += ["", "Metrics (camjax / reference): " + "; ".join(
        f"{k} {a:.2f} / {b:.2f}" for _, k, a, b in checks) +
        f" (asserted within {tolerance:.2g} points). The label maps differ (last column of "
        "the table, on a 0-1 scale) in two principled ways, not in the weights or the "
        "arithmetic: camjax resizes the decoded image with cv2 bilinear, wsolevaluation "
        "with PIL's antialiased bilinear (torchvision's Resize), and camjax upsamples the "
        "CAM with the a = -0.5 Keys cubic where cv2's INTER_CUBIC has a = -0.75 (alone "
        "about 0.03). camjax's job also computes what the reference does not: the maps "
        "of the top-5 classes, their paper-rule boxes, MaxBoxAcc V1 and the centre-Gaussian "
        "baseline; 'the metric alone' is camjax's accumulator doing the reference's "
        "evaluator's work on the same recorded label maps."]
    text = "\n".join(lines)
    print("\n" + text)
    if bad:
        print(f"\nFAILED: metrics differ by more than {tolerance:.2g} points: {bad}")
        return 1
    if not args.no_write:
        write_section("evaluate", "## `camjax evaluate` end to end (bench/evaluate.py)\n\n"
                      + text)
        print(f"\nwrote the evaluate section of {ROOT / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(machine.rerun_while_loaded(main))
