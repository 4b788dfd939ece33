"""MaxBoxAcc (V1, V2) and PxAP end to end: camjax's accumulators against wsolevaluation's
evaluators on the same maps, in the same run.

    .venv/bin/python bench/maxboxacc.py [--maps 200] [--repeats 3] [--wsolevaluation DIR]

Maps -> metric: boxes at every threshold, their IoUs with the ground truth, the counts
and the max over thresholds (``camjax.evaluation.BoxAccumulator.update`` + ``result``),
and PxAP's histograms and AP (``MaskAccumulator``), against wsolevaluation's
``BoxEvaluator`` / ``MaskEvaluator`` ``accumulate`` + ``compute``: its own code when a
checkout is given (``--wsolevaluation``; masks handed over in memory instead of read
from files, two packages it imports but does not use here stubbed if missing), else
the same loop as written in tests/boxes/oracle.py. 224x224 min-max normalised CAMs of
two families, ``noisy`` (i.i.d. random features, many local extrema: the hard case)
and ``smooth`` (features smoothed over 1.5 cells, closer to a trained network's);
CUB- and ILSVRC-shaped ground truth (box sizes and counts per image as in
wsolevaluation's test metadata, or those boxes themselves from the checkout);
thresholds ``arange(0, 1, 0.001)`` (wsolevaluation's ``cam_curve_interval``).
camjax's counts, MaxBoxAcc and PxAP are asserted equal to the reference's.
Medians of interleaved runs, 1 and 2 worker threads; where camjax's time goes, per
phase, from bench/maxboxacc_phases.py. Writes the ``maxboxacc`` section of
BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))         # camjax and the test oracle from this checkout

from camjax.evaluation import BoxAccumulator, MaskAccumulator  # noqa: E402
from maxboxacc_data import make_maps, make_truth  # noqa: E402  (bench/)
from maxboxacc_phases import phase_table  # noqa: E402  (bench/)
from maxboxacc_refs import reference  # noqa: E402  (bench/)
import machine  # noqa: E402  (bench/machine.py)
from sections import publish  # noqa: E402  (bench/sections.py)
from timing import clock, since  # noqa: E402  (bench/timing.py)

IOUS = (30, 50, 70)


def camjax_run(maps, gts, masks, taus, bin_width, workers, batch):
    """Maps -> (V1 counts, V2 counts, PxAP) through camjax, timed per metric."""
    out, times = {}, {}
    for name, multi, ious in (("V1", False, (0.5,)), ("V2", True, (0.3, 0.5, 0.7))):
        t = clock()
        acc = BoxAccumulator(taus, ious, multi_contour=multi, workers=workers)
        for a in range(0, len(maps), batch):
            acc.update(maps[a:a + batch], gts[a:a + batch])
        out[name] = (acc.num_correct, acc.result())
        times[name] = since(t)
    t = clock()
    acc = MaskAccumulator(bin_width, workers=workers)
    for a in range(0, len(maps), batch):
        acc.update(maps[a:a + batch], masks[a:a + batch])
    out["PxAP"] = acc.result()["pxap"]
    times["PxAP"] = since(t)
    return out, times


def check_equal(ours, ref, family):
    """camjax's counts and scores == the reference's, exactly."""
    for name, keys in (("V1", (50,)), ("V2", IOUS)):
        counts, result = ours[name]
        for d, k in enumerate(keys):
            assert np.array_equal(counts[d], ref[name]["num_correct"][k]), (family, name, k)
            assert result["max_box_acc"][k] == ref[name]["max_box_acc"][k], (family, name, k)
    assert ours["PxAP"] == ref["PxAP"], (family, ours["PxAP"], ref["PxAP"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--maps", type=int, default=200, help="maps per family")
    p.add_argument("--families", default="noisy,smooth")
    p.add_argument("--repeats", type=int, default=3, help="camjax runs (reference: one fewer)")
    p.add_argument("--interval", type=float, default=0.001, help="cam_curve_interval")
    p.add_argument("--batch", type=int, default=64, help="maps per update call")
    p.add_argument("--wsolevaluation", type=Path, default=None,
                   help="a checkout of clovaai/wsolevaluation: time its own evaluators")
    p.add_argument("--no-profile", action="store_true", help="skip the per-phase profile")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    stamp = machine.Stamp()
    taus = np.arange(0, 1, args.interval)
    ref_name = ("wsolevaluation's BoxEvaluator / MaskEvaluator (its code, "
                f"{args.wsolevaluation.name})" if args.wsolevaluation else
                "wsolevaluation's loop (tests/boxes/oracle.py)")
    rows, profiles = [], []
    for family in args.families.split(","):
        maps = make_maps(family, args.maps, seed=0)
        gts, masks, truth_note = make_truth(len(maps), args.wsolevaluation, seed=1)
        ref_runs, _ = reference(args.wsolevaluation, taus, IOUS)
        ours, _ = camjax_run(maps, gts, masks, taus, args.interval, 2, args.batch)   # warm-up
        t_ref = {k: [] for k in ("V1", "V2", "PxAP")}
        t_new = {(k, w): [] for k in t_ref for w in (1, 2)}
        for r in range(args.repeats):          # interleaved: all see the same machine load
            if r < max(1, args.repeats - 1):
                result, times = ref_runs(maps, gts, masks)
                for k, v in times.items():
                    t_ref[k].append(v)
            for w in (1, 2):
                ours, times = camjax_run(maps, gts, masks, taus, args.interval, w, args.batch)
                for k, v in times.items():
                    t_new[k, w].append(v)
        check_equal(ours, result, family)
        n = len(maps)
        for k in t_ref:
            ref_t, ref_cpu = (statistics.median(t[i] for t in t_ref[k]) / n for i in (0, 1))
            new = {w: statistics.median(t[0] for t in t_new[k, w]) / n for w in (1, 2)}
            cpu = statistics.median(t[1] for t in t_new[k, 1]) / n
            rows.append((family, k, ref_t, new[1], new[2], ref_cpu / cpu))
            print(f"{family} {k}: reference {ref_t * 1e3:.2f} ms/map, camjax "
                  f"{new[1] * 1e3:.3f} (1 worker, {ref_t / new[1]:.0f}x), "
                  f"{new[2] * 1e3:.3f} (2 workers, {ref_t / new[2]:.0f}x); CPU time, "
                  f"1 worker: {ref_cpu / cpu:.0f}x", flush=True)
        if not args.no_profile:
            profiles.append((family, phase_table(maps, gts, taus, max(3, args.repeats))))
    lines = [stamp.line(), "",
             f"Maps -> metric, end to end, {args.maps} maps per family (224x224 CAMs, "
             f"{len(taus)} thresholds arange(0, 1, {args.interval:g}), {truth_note}); "
             f"reference: {ref_name}; camjax: BoxAccumulator / MaskAccumulator, update in "
             f"batches of {args.batch} + result; medians of {args.repeats} camjax runs and "
             f"{max(1, args.repeats - 1)} reference runs, interleaved. Counts, MaxBoxAcc and "
             "PxAP identical to the reference's (asserted).", "",
             "| maps | metric | reference ms/map | camjax 1 worker | speed-up | "
             "camjax 2 workers | speed-up | CPU time, 1 worker |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for family, k, ref_t, one, two, cpu_ratio in rows:
        lines.append(f"| {family} | {'MaxBoxAcc ' + k if k != 'PxAP' else k} | "
                     f"{ref_t * 1e3:.2f} | {one * 1e3:.3f} | {ref_t / one:.0f}x | "
                     f"{two * 1e3:.3f} | {ref_t / two:.0f}x | {cpu_ratio:.0f}x |")
    lines += ["", "Wall-clock medians; the last column is the reference's CPU time over "
              "camjax's with one worker (both single-threaded), which other work on a shared "
              "machine disturbs less than the wall clock."]
    for family, table in profiles:
        lines += ["", f"Where camjax's time goes, {family} maps, one thread (CPU ms/map, the "
                  "least of repeated runs; the compiled phases timed cumulatively, "
                  "bench/maxboxacc_phases.py):", "",
                  *table]
    publish("maxboxacc", "MaxBoxAcc and PxAP, maps to metric (bench/maxboxacc.py)", lines,
            write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(machine.rerun_while_loaded(main))
