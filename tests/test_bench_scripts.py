"""Every bench/ script runs end to end at a tiny size (``--no-write``: BENCHMARKS.md is
left alone), so a script that no longer matches the library fails here rather than in
``make bench``. What they measure is not asserted: speed is never a test."""
import subprocess
import sys

import pytest

from tests.conftest import ROOT

TINY_ARGS = {
    "localization.py": ["--images", "2", "--images-b", "2", "--repeats", "1"],
    "maxboxacc.py": ["--maps", "2", "--families", "smooth", "--repeats", "1",
                     "--interval", "0.05"],
    "train_step.py": ["--models", "tiny_gap", "--image-size", "32", "--batch-per-device",
                      "2", "--steps", "1", "--repeats", "1", "--matmul-size", "64"],
    "train_profile.py": ["--models", "tiny_gap", "--image-size", "16", "--batch", "2",
                         "--steps", "1", "--options-models", ""],
    "input_pipeline.py": ["--images", "8", "--image-sizes", "32", "--batch", "4",
                          "--batches", "1", "--threads", "1", "--workers", "--repeats", "1"],
    "methods.py": ["--images", "1", "--image-size", "32", "--chunk", "3", "--steps", "4",
                   "--rise-masks", "16", "--repeats", "1", "--resnet18-images", "0"],
    "forward_cam.py": ["--images", "1", "--image-size", "32", "--repeats", "1"],
    "localize_devices.py": ["--images", "3", "--model", "tiny_gap", "--runs", "2",
                            "--repeats", "1"],
    "vit_gradcam.py": ["--batch", "2", "--image-size", "32", "--num-layers", "2", "--layer",
                       "encoder.layers.encoder_layer_0", "--repeats", "1"],
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(TINY_ARGS))
def test_bench_script_runs(script, tmp_path):
    before = (ROOT / "BENCHMARKS.md").read_bytes()
    run = subprocess.run([sys.executable, str(ROOT / "bench" / script), *TINY_ARGS[script],
                          "--no-write"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert (ROOT / "BENCHMARKS.md").read_bytes() == before


def test_accelerator_script_refuses_a_machine_without_one():
    """bench/accelerator.sh is for a GPU (it cannot run here); on a CPU it stops at once
    with one line and exit status 2, writing nothing."""
    before = (ROOT / "BENCHMARKS.md").read_bytes()
    run = subprocess.run(["bash", str(ROOT / "bench" / "accelerator.sh"), sys.executable],
                         capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "JAX_PLATFORMS": "cpu"})
    assert run.returncode == 2, run.stdout + run.stderr
    assert "no accelerator" in run.stderr
    assert (ROOT / "BENCHMARKS.md").read_bytes() == before
