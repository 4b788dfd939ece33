"""The package works installed, not only from a checkout: build a wheel, install it into a
fresh virtual environment outside the repository, run ``camjax demo`` from a folder that
holds no checkout, and check it trained and wrote its report.

The fresh environment gets camjax from the wheel alone. Its dependencies (jax, flax,
tfds, ...: gigabytes, and no network in CI's test run) are borrowed from the test
environment through a ``.pth`` line naming that environment's site-packages; a plain path
line does not run the ``.pth`` hooks found there, so the test environment's editable
camjax finder is not installed and ``import camjax`` can only find the wheel's copy
(the test asserts where it came from).
"""
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE_FILES = ("pyproject.toml", "setup.cfg", "README.md")


def _build_wheel(tmp: Path) -> Path:
    """The wheel of a copy of the package sources (the checkout stays untouched)."""
    src = tmp / "src"
    shutil.copytree(ROOT / "camjax", src / "camjax",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    for name in PACKAGE_FILES:
        shutil.copy(ROOT / name, src / name)
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation,
                    "-w", str(tmp / "dist"), str(src)], check=True, timeout=300)
    (wheel,) = (tmp / "dist").glob("camjax-*.whl")
    return wheel


@pytest.mark.slow
def test_an_installed_wheel_runs_the_demo(tmp_path):
    wheel = _build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", str(wheel)], check=True, timeout=300)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    (Path(site.stdout.strip()) / "camjax_test_deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"            # no checkout here or above
    elsewhere.mkdir()
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "CAMJAX_DATA_DIR": str(tmp_path / "tfds"),
           "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)
    where = subprocess.run([str(python), "-c", "import camjax.configs; "
                            "print(camjax.configs.__file__)"], capture_output=True, text=True,
                           cwd=elsewhere, env=env, check=True)
    assert where.stdout.strip().startswith(str(venv)), where.stdout
    names = subprocess.run([str(python), "-c", "import camjax.data; "  # package data
                            "print(len(camjax.data.imagenet_classes()))"],
                           capture_output=True, text=True, cwd=elsewhere, env=env, check=True)
    assert names.stdout.strip() == "1000", names.stdout

    out = subprocess.run(
        [str(venv / "bin" / "camjax"), "demo", "--workdir", "W", "--config.num_train_steps=2",
         "--config.dataset=camjax_shapes/tiny", "--config.image_size=32",
         "--config.batch_size=8", "--config.eval_batch_size=16", "--config.warmup_steps=0",
         "--config.log_every_steps=1", "--config.data_threads=1"],
        capture_output=True, text=True, cwd=elsewhere, env=env, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    work = elsewhere / "W"
    assert (work / "checkpoints").is_dir() and (work / "metrics.jsonl").is_file()
    report = (work / "eval" / "report.md").read_text()
    assert "GT-known accuracy, paper rule" in report and (work / "eval" / "gallery.png").is_file()
    assert "camjax_shapes/tiny / test" in report
