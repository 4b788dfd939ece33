"""Every ablation, in priority order (``make experiments``); writes experiments/results/RUNTIMES.md.

Models are cached in .cache/experiments (a second run reuses them). Budget on 2 shared
CPU cores: see experiments/results/README.md.

    .venv/bin/python experiments/run_all.py [--config CONFIG] [--only gap_vs_gmp threshold ...]
        [--skip generic_features]

Without ``--config`` every script runs on its own default (experiments/configs/
ablation_shapes.py; gap_vs_gmp.py: gap_vs_gmp_shapes.py, the recipe that trains GMP).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["gap_vs_gmp", "threshold", "saliency", "class_units", "mapping_resolution",
         "generic_features", "wsol_methods"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=None, help="one config for every script")
    p.add_argument("--only", nargs="+", choices=ORDER)
    p.add_argument("--skip", nargs="+", choices=ORDER, default=[])
    args, rest = p.parse_known_args()
    names = [n for n in (args.only or ORDER) if n not in args.skip]
    rows, failed = [], []
    for name in names:
        config = ["--config", args.config] if args.config else []
        cmd = [sys.executable, str(HERE / f"{name}.py"), *config, *rest]
        print(f"== {name}: {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd, cwd=HERE.parent)
        rows.append((name, rc, time.perf_counter() - t0))
        if rc:
            failed.append(name)
    total = sum(r[2] for r in rows)
    lines = ["# run_all wall times", "", "| experiment | exit | minutes |", "|---|---:|---:|"]
    lines += [f"| {n} | {rc} | {s / 60:.1f} |" for n, rc, s in rows]
    lines += [f"| **total** | | **{total / 60:.1f}** |", "",
              "Minutes include training only where a model was not already cached in "
              "`.cache/experiments` (see each result's README for its models' training time).",
              ""]
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "RUNTIMES.md").write_text("\n".join(lines))
    print("\n".join(lines))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
