"""Bad invocations of ``python -m camjax.cli``, table-driven (docs/errors.md): each ends
in exactly one line ``camjax: error: ...`` that names the input (the key and its value,
the file, the folder), with exit status 2 (1 for a run that fails on the way) and no
traceback; none of the errors detectable up front leaves a checkpoint behind.

The cases run concurrently in subprocesses that share one JAX compilation cache; the
few that need a trained workdir wait for the one run that makes it.
"""
from __future__ import annotations

import concurrent.futures
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_cases import (CASES, Case, Context, make_read_only, train, undo_read_only,
                              write_files)
from tests.conftest import ROOT
from tests.training.conftest import cli_env

pytestmark = pytest.mark.xdist_group("cli_errors")   # one worker runs the whole table

WORKERS = 3


def _run(ctx: Context, argv: list[str], devices: int = 1, launcher: str | None = None):
    program = ["-c", launcher] if launcher else ["-m", "camjax.cli"]
    return subprocess.run([sys.executable, *program, *argv], capture_output=True, text=True,
                          env=cli_env(devices, ctx.cache), cwd=ROOT, timeout=600)


def _train_once(ctx: Context) -> Path:
    workdir = ctx.root / "trained"
    out = _run(ctx, train(eval_at_end=False, val_split="")(ctx, workdir))
    assert out.returncode == 0, out.stderr[-3000:]
    return workdir


def checkpoint_steps(workdir: Path) -> list[str]:
    folder = workdir / "checkpoints"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _run_case(ctx: Context, case: Case):
    """(the finished process, its workdir, the checkpoint steps there before it ran)."""
    workdir = ctx.root / case.id / "w"
    if case.setup is not None:
        workdir = case.setup(ctx, workdir)
        if workdir is None:
            return None, None, None      # the machine cannot make a read-only folder
    before = checkpoint_steps(workdir)
    return _run(ctx, case.argv(ctx, workdir), case.devices, case.launcher), workdir, before


def _evaluate_elsewhere(ctx: Context):
    """``evaluate --out`` of a read-only workdir: the report is written to --out."""
    workdir = ctx.root / "read_only_for_out"
    shutil.copytree(ctx.trained(), workdir)
    if not make_read_only(workdir):
        return None, workdir
    return _run(ctx, ["evaluate", "--workdir", str(workdir), "--out",
                      str(ctx.root / "elsewhere")]), workdir


@pytest.fixture(scope="module")
def runs(tiny_data_dir, tmp_path_factory):
    ctx = Context(tiny_data_dir, tmp_path_factory.mktemp("cli_errors"),
                  str(tmp_path_factory.mktemp("jax_cache")))   # shared by the subprocesses
    write_files(ctx.root / "files")
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        ctx.trained_job = pool.submit(_train_once, ctx)   # first: the others wait for it
        jobs = {case.id: pool.submit(_run_case, ctx, case) for case in CASES}
        jobs["evaluate_elsewhere"] = pool.submit(_evaluate_elsewhere, ctx)
        done = {name: job.result() for name, job in jobs.items()}
    yield ctx, done
    for path in ctx.root.rglob("*"):
        if path.is_dir():
            undo_read_only(path)


def test_the_table_is_at_least_40_cases_with_unique_names():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_invocation_is_one_named_line(case, runs):
    _, done = runs
    out, workdir, before = done[case.id]
    if out is None:
        pytest.skip("this machine cannot make a read-only folder")
    err = out.stderr
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("camjax: error: ")]
    assert "Traceback" not in err, err[-3000:]
    assert len(errors) == 1 and lines[-1] == errors[0], err[-3000:]
    if case.up_front:
        assert len(lines) == 1, err[-3000:]   # not a warning before it
    assert out.returncode == case.status, err[-3000:]
    for name in case.names:
        assert name in errors[0], f"{name!r} not in {errors[0]!r}"
    if case.up_front:
        assert checkpoint_steps(workdir) == before, f"{case.id} wrote a checkpoint"


def test_a_failed_save_keeps_the_checkpoints_before_it(runs):
    _, done = runs
    _, workdir, _ = done["checkpoint_save_fails"]
    assert checkpoint_steps(workdir) == ["1"]   # step 2 failed, training stopped before 3


def test_errors_against_the_trained_run_changed_nothing(runs):
    ctx, _ = runs
    trained = ctx.trained()
    assert checkpoint_steps(trained) == ["1", "2"]
    assert not (trained / "eval").exists()


def test_evaluate_out_writes_the_report_elsewhere_when_the_workdir_is_read_only(runs):
    ctx, done = runs
    out, workdir = done["evaluate_elsewhere"]
    if out is None:
        pytest.skip("this machine cannot make a read-only folder")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "WARNING:absl" not in out.stderr    # orbax's read-only manager warnings are muted
    assert (ctx.root / "elsewhere" / "metrics.json").stat().st_size > 100
    assert "report: " + str(ctx.root / "elsewhere" / "report.md") in out.stdout
    assert not (workdir / "eval").exists()

