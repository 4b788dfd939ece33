"""BENCHMARKS.md is a set of sections, one per bench script, each between the markers
``<!-- name:start -->`` and ``<!-- name:end -->``; a run replaces its own section only."""
from __future__ import annotations

from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def write_section(name: str, text: str, path: Path = BENCHMARKS) -> Path:
    """Replace (or append) section ``name`` of ``path`` with ``text``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{text.rstrip()}\n{end}\n"
    old = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if start in old and end in old:
        head, rest = old.split(start, 1)
        new = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        new = old.rstrip("\n") + "\n\n" + block
    path.write_text(new)
    return path


def publish(name: str, heading: str, text, *, write: bool = True, echo: bool = True,
            path: Path = BENCHMARKS) -> None:
    """Print ``text`` (a string or its lines; ``echo``: unless the bench printed it as it
    went), then write it under ``## heading`` as section ``name`` (unless ``write`` is
    False: a ``--no-write`` run) and say so."""
    text = text if isinstance(text, str) else "\n".join(text)
    if echo:
        print("\n" + text)
    if write:
        write_section(name, f"## {heading}\n\n{text}", path)
        print(f"\nwrote the {name} section of {path}")
