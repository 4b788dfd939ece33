"""`make bench`: every CPU benchmark in bench/, each rewriting its section of BENCHMARKS.md
(bench/accelerator.sh is the GPU one)."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent / "demo_out"             # `make demo`'s workdir: a trained tiny_gap


def arguments(script: str) -> list[str]:
    if script != "methods.py":
        return []
    if (DEMO / "checkpoints").is_dir():
        return ["--trained", str(DEMO)]
    print(f"bench/methods.py: no trained network in {DEMO} (run `make demo` first): "
          "the row (a'), Score-CAM on a trained tiny_gap, is skipped", flush=True)
    return []


if __name__ == "__main__":
    failed = []
    for script in ("localization.py", "maxboxacc.py", "train_step.py", "train_profile.py",
                   "input_pipeline.py", "methods.py", "forward_cam.py", "vit_gradcam.py",
                   "localize_devices.py", "evaluate.py"):
        print(f"== bench/{script}", flush=True)
        if subprocess.call([sys.executable, str(HERE / script), *arguments(script)],
                           cwd=HERE.parent):
            failed.append(script)
    sys.exit(f"failed: {', '.join(failed)}" if failed else 0)
