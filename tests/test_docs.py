"""Every shell command block of README.md and docs/*.md runs as written (after the
substitutions below), so a documented command that stops working fails ``make test``.

Commands run in this process through ``camjax.cli.main``, each block in a sandbox folder
of its own (relative paths such as ``runs/demo`` and ``loc/`` land there), against small
fixtures:

* paths users have (``/data/pets``, ``/data/wsolevaluation/...``, ``~/tfds``,
  ``my_photo.jpg``) become generated class folders, a wsolevaluation layout, the prepared
  ``camjax_shapes/tiny`` and a few photos; a synopsis's placeholders (``DIR``,
  ``IMAGE_OR_FOLDER...``, ``X.py``, ``[--top_k K]``) get a value, ``[...]`` options are
  taken (the first of ``a|b``) and ``[--config.key=value ...]`` dropped;
* training is cut (:data:`CUTS`: 2 steps of 8 images at 32 px), the built-in dataset is
  its ``tiny`` config, and the recipes whose network needs weights users fetch
  (``experiments/configs/wsol_*``, ...) run ``tiny_gap`` from scratch (:data:`NETWORK_CUT`);
* a workdir a command reads before any command of its block wrote it is a copy of the
  shared 2-step run (tests/conftest.py ``trained_workdir``); so is the workdir of a
  ``train`` of the demo config, which then resumes at its last step and evaluates;
* ``make TARGET`` is checked with ``make -n`` (the target exists and expands).

Only blocks or commands that need files users fetch themselves are skipped, with the
reason in :data:`SKIP_BLOCKS` and :data:`SKIP_COMMANDS`. A fenced block tagged ``sh`` /
``bash`` that is not a command block fails the test, and so does a path with no fixture.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from camjax import cli
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = ("sh", "bash", "shell", "console")
STARTS = ("camjax", "make", "mkdir", "cd", "export", "mv", "curl", "for", "python",
          ".venv/bin/python", "tensorboard", "pip")

# block text -> why the block cannot run here
SKIP_BLOCKS = {
    r"ILSVRC2012_img_train\.tar": "needs the ImageNet archives, downloaded by hand from "
                                  "image-net.org",
    r"download\.pytorch\.org": "downloads torchvision's weights from the network",
    r"experiments/(run_all|gap_vs_gmp)\.py": "runs the paper's ablations (an hour of CPU); "
                                            "tests/experiments runs every script at a tiny size",
}
# command text -> why the command cannot run here (its block's other commands do)
SKIP_COMMANDS = {
    r"CAMJAX_COORDINATOR|--config\.distributed=True": "needs several hosts (and ImageNet)",
    r"eval_annotations=/data/ILSVRC2012": "needs ImageNet and its validation XML",
    r"--weights resnet50\.safetensors": "needs torchvision's resnet50 weights, fetched by the "
                                        "user; tests/test_localize.py runs --model on "
                                        "generated resnet18 weights",
}
# training cut to seconds; these keys win over the command's
CUTS = {"num_train_steps": 2, "batch_size": 8, "eval_batch_size": 16, "image_size": 32,
        "log_every_steps": 1, "checkpoint_every_steps": 2, "warmup_steps": 0,
        "data_threads": 1, "faithfulness_steps": 2, "cam_curve_interval": 0.01,
        "eval_map_size": 0}
# recipes whose network starts from weights users fetch: tiny_gap from scratch instead
NETWORK_CUT = {"model": "tiny_gap", "model_kwargs": "{}", "pretrained": "''"}
PLACEHOLDERS = {"DIR": "dir_out", "IMAGE_OR_FOLDER...": "photos/", "K": "2", "NAME": "cam",
                "T": "0.2", "N": "4", "PIXELS": "100000000",
                "experiments/configs/X.py": "demo"}
TRAINED_RECIPES = ("demo",)       # configs whose fresh workdir is the shared 2-step run


def fenced_blocks():
    """(file, line, language, text) of every fenced block of the docs."""
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
            line = text[:m.start()].count("\n") + 1
            yield path.relative_to(ROOT).as_posix(), line, m.group(1), m.group(2)


def logical_lines(text: str) -> list[str]:
    """Commands: ``\\`` continuations joined, a synopsis's indented ``[...]`` line joined to
    the command above, comments and blank lines dropped."""
    out, pending = [], ""
    for raw in text.splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        if pending:
            pending += " " + line.strip()
        elif out and raw[:1].isspace() and line.strip().startswith("["):
            out[-1] += " " + line.strip()
            continue
        else:
            pending = line.strip()
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
        else:
            out.append(pending)
            pending = ""
    return out + ([pending] if pending else [])


def is_command(line: str) -> bool:
    words = [w for w in line.split() if not re.fullmatch(r"[A-Z_]+=\S*", w)]
    return bool(words) and words[0] in STARTS


def command_blocks():
    for file, line, lang, text in fenced_blocks():
        lines = logical_lines(text)
        if lang in SHELL or (lang == "" and lines and is_command(lines[0])):
            yield pytest.param(file, line, lang, text, id=f"{file}:{line}")


def skipped(text: str, table: dict) -> str | None:
    return next((why for pattern, why in table.items() if re.search(pattern, text)), None)


def expand(command: str) -> list[str]:
    """A synopsis made concrete: ``[...]`` taken (``a|b`` -> a, ``...`` dropped),
    placeholders given a value."""
    def optional(m):
        inner = m.group(1)
        return "" if "..." in inner else " ".join(w.split("|")[0] for w in inner.split())
    command = re.sub(r"\[([^\[\]]*)\]", optional, command)
    return [PLACEHOLDERS.get(word, word) for word in shlex.split(command)]


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory, tiny_data_dir):
    """What the docs' paths become (a path with no entry fails the test)."""
    from tests.data.fixtures import make_folders, make_wsol
    root = tmp_path_factory.mktemp("doc_fixtures")
    wsol = make_wsol(root / "wsol")           # val: masks (OpenImages), test: boxes
    cub = root / "cub"                        # CUB: boxes in val and test
    shutil.copytree(wsol["metadata"], cub)
    shutil.rmtree(cub / "val")
    shutil.copytree(cub / "test", cub / "val")
    maps = root / "scoremaps"                 # as wsolevaluation's inference saves them
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:224, 0:224]
    for image_id in (cub / "test" / "image_ids.txt").read_text().split():
        (maps / image_id).parent.mkdir(parents=True, exist_ok=True)
        cy, cx, sigma = rng.uniform(40, 184), rng.uniform(40, 184), rng.uniform(15, 60)
        np.save(maps / image_id, np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2)))
    folders = make_folders(root / "pets", classes=("cat", "dog"),
                           per_split=(("train", 4), ("val", 2)))
    paths = {"/data/pets": folders, "/data/my_photos": folders, "~/tfds": tiny_data_dir,
             "train_log/scoremaps": maps, "/data/wsolevaluation/metadata/CUB": cub,
             "experiments/configs/": f"{ROOT / 'experiments' / 'configs'}/"}  # a checkout
    for name in ("CUB", "ILSVRC", "OpenImages"):
        paths.setdefault(f"/data/wsolevaluation/metadata/{name}", wsol["metadata"])
        paths[f"/data/wsolevaluation/dataset/{name}"] = wsol["images"]
    return {k: str(v) for k, v in paths.items()}


def _photos(sandbox: Path) -> None:
    rng = np.random.default_rng(0)
    for name in ("my_photo.jpg", "photo1.jpg", "photo2.jpg", "photos/a.jpg", "photos/b.png"):
        (sandbox / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), np.uint8)).save(sandbox / name)


def _substitute(word: str, paths: dict) -> str:
    for path, fixture in paths.items():
        word = word.replace(path, fixture)
    assert "/data/" not in word and not word.startswith("~"), f"no fixture for {word!r}"
    return word


def _option(argv: list[str], name: str) -> str | None:
    for i, word in enumerate(argv):
        if word == name and i + 1 < len(argv):
            return argv[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def prepared(argv: list[str], trained: Path, tiny_data_dir: str) -> list[str]:
    """argv with the cuts; the workdir it reads filled from the shared run when absent."""
    command, config = argv[0], _option(argv, "--config")
    workdir = _option(argv, "--workdir")
    if command == "prepare":
        return [w if w != "camjax_shapes" else "camjax_shapes/tiny" for w in argv]
    if command not in ("train", "evaluate", "demo"):
        if command == "localize" and workdir and not Path(workdir).exists():
            shutil.copytree(trained, workdir)
        return argv
    sets = {w.split("=")[0][len("--config."):] for w in argv if w.startswith("--config.")}
    cuts = dict(CUTS)
    if "dataset" not in sets and (config is not None or command == "demo"):
        cuts.update(dataset="camjax_shapes/tiny", data_dir=tiny_data_dir)
    if config is not None and Path(config).name.startswith(("wsol_", "ilsvrc_", "cub_")):
        cuts.update(NETWORK_CUT)
    workdir = workdir or ("demo_out" if command == "demo" else None)
    # a copy of the shared run only where the command sets nothing its checkpoint records
    # (e.g. --config.wsol_method=acol trains afresh: resuming the copy would be refused)
    fresh_train = command in ("train", "demo") and (config in TRAINED_RECIPES
                                                    or command == "demo") \
        and not sets - set(CUTS)
    if workdir and not Path(workdir).exists() and (command == "evaluate" or fresh_train) \
            and "dataset" not in sets:
        shutil.copytree(trained, workdir)
    return argv + [f"--config.{k}={v}" for k, v in cuts.items()]


def test_the_docs_have_command_blocks():
    ids = [p.id for p in command_blocks()]
    assert len(ids) >= 15 and any(i.startswith("README.md") for i in ids)


@pytest.mark.parametrize("file, line, lang, text", list(command_blocks()))
def test_a_documented_command_block_runs(file, line, lang, text, fixtures, trained_workdir,
                                         tiny_data_dir, tmp_path, monkeypatch, capsys):
    lines = logical_lines(text)
    assert lines and all(is_command(c) for c in lines[:1]), \
        f"{file}:{line}: a {lang} block that is not a command block"
    if why := skipped(text, SKIP_BLOCKS):
        pytest.skip(why)
    reasons = [skipped(c, SKIP_COMMANDS) for c in lines]
    if all(reasons):
        pytest.skip("; ".join(sorted(set(reasons))))
    monkeypatch.chdir(tmp_path)
    _photos(tmp_path)
    for command, why in zip(lines, reasons):
        if why:
            continue
        argv = [_substitute(w, fixtures) for w in expand(command)]
        if argv[0] == "make":
            out = subprocess.run(["make", "-n", *argv[1:]], cwd=ROOT, capture_output=True,
                                 text=True)
            assert out.returncode == 0, f"{file}:{line}: {command}\n{out.stderr}"
            continue
        assert argv[0] == "camjax", f"{file}:{line}: no rule to run {command!r}"
        argv = prepared(argv[1:], trained_workdir, tiny_data_dir)
        status = cli.main(argv)
        captured = capsys.readouterr()
        assert status == 0, (f"{file}:{line}: `{command}` exited {status}:\n"
                             f"{captured.err[-3000:]}")
