"""`make bench`: every CPU benchmark in bench/, each rewriting its section of BENCHMARKS.md
(bench/accelerator.sh is the GPU one)."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    failed = []
    for script in ("localization.py", "maxboxacc.py", "train_step.py", "train_profile.py",
                   "input_pipeline.py", "methods.py", "forward_cam.py", "vit_gradcam.py",
                   "evaluate.py"):
        print(f"== bench/{script}", flush=True)
        if subprocess.call([sys.executable, str(HERE / script)], cwd=HERE.parent):
            failed.append(script)
    sys.exit(f"failed: {', '.join(failed)}" if failed else 0)
