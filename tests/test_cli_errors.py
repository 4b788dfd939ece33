"""Bad invocations of the ``camjax`` command, table-driven (tests/cli_cases.py,
docs/errors.md): each ends in exactly one line ``camjax: error: ...`` that names the input
(the key and its value, the file, the folder), with exit status 2 (1 for a run that fails
on the way) and no traceback; an error found before any work leaves nothing on disk (the
workdir or --out folder it names does not exist afterwards, a folder it was given is
unchanged).

The cases run in this process through ``camjax.cli.main`` (the command line's own code:
parse, check, run), sharing compiled functions and one trained workdir; what needs a
process of its own (another device count, no torch, a full disk) is simulated with
monkeypatch. tests/test_localize.py and tests/training run the command in subprocesses.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from camjax import cli
from tests.cli_cases import CASES, Case, Context, make_read_only, undo_read_only, write_files

pytestmark = pytest.mark.xdist_group("cli_errors")   # one worker: one trained workdir


@pytest.fixture(scope="module")
def ctx(tiny_data_dir, trained_workdir, tmp_path_factory):
    from tests.data.fixtures import make_wsol
    root = tmp_path_factory.mktemp("cli_errors")
    write_files(root / "files")
    context = Context(tiny_data_dir, root, trained_workdir, make_wsol(root / "wsol"))
    yield context
    for path in root.rglob("*"):
        if path.is_dir():
            undo_read_only(path)


def listing(path: Path) -> list[tuple[str, int]]:
    """Every file under ``path`` with its size (a folder given to a case must not change)."""
    if not path.is_dir():
        return [("", path.stat().st_size)] if path.exists() else []
    return sorted((p.relative_to(path).as_posix(), p.stat().st_size)
                  for p in path.rglob("*") if p.is_file())


def test_the_table_is_at_least_60_cases_with_unique_names():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_invocation_is_one_named_line(case: Case, ctx, capsys, monkeypatch):
    workdir = ctx.root / case.id / "w"
    if case.setup is not None:
        workdir = case.setup(ctx, workdir)
        if workdir is None:
            pytest.skip("this machine cannot make a read-only folder")
    given = workdir.exists()
    before = listing(workdir)
    if case.patch is not None:
        case.patch(monkeypatch)
    argv = case.argv(ctx, workdir)
    status = cli.main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("camjax: error: ")]
    assert "Traceback" not in err, err[-3000:]
    assert len(errors) == 1 and lines[-1] == errors[0], err[-3000:]
    if case.up_front:
        assert len(lines) == 1, err[-3000:]   # not a warning before it
    assert status == case.status, err[-3000:]
    for name in case.names:
        assert name in errors[0], f"{name!r} not in {errors[0]!r}"
    if case.up_front:
        absent = case.absent(ctx, workdir) if case.absent else ([] if given else [workdir])
        for path in absent:
            assert not path.exists(), f"{case.id} left {path} behind"
        assert listing(workdir) == before, f"{case.id} changed {workdir}"
    if case.kept is not None:
        case.kept(workdir)


def test_errors_against_the_trained_run_changed_nothing(ctx):
    trained = ctx.trained()
    assert sorted(p.name for p in (trained / "checkpoints").iterdir()) == ["1", "2"]
    assert not (trained / "eval").exists()


def test_evaluate_out_writes_the_report_elsewhere_when_the_workdir_is_read_only(ctx, capsys):
    workdir = ctx.root / "read_only_for_out"
    shutil.copytree(ctx.trained(), workdir)
    if not make_read_only(workdir):
        pytest.skip("this machine cannot make a read-only folder")
    out = ctx.root / "elsewhere"
    assert cli.main(["evaluate", "--workdir", str(workdir), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "WARNING:absl" not in captured.err  # orbax's read-only manager warnings are muted
    assert (out / "metrics.json").stat().st_size > 100
    assert (out / "per_image.csv").is_file()
    assert "report: " + str(out / "report.md") in captured.out
    assert not (workdir / "eval").exists()
