"""``camjax localize`` on several processes: each takes a share of the files, one merged
set of tables at the end.

The design, the simplest that stays robust: every process lists the same files
(:mod:`camjax.localize.inputs` sorts them), takes the contiguous share
:func:`share` gives it, and runs on its own with its own devices (``data_mesh(local=True)``:
no batch waits for another process, so shares may differ by an image, or by the images
that fail to decode). It writes its overlays and maps into ``--out`` (a folder every
process sees: one machine, or a shared disk) and its results to a part file
``.localize-part-<i>-of-<n>.json`` (:func:`write_part`). After a barrier, process 0 reads
the parts in process order, writes the one predictions.json / .csv / boxes.json (and
maps.npz) as a one-process run would, in the same image order, and removes the parts
(:func:`merge_parts`). Were a process to die before the barrier, the others wait there;
its part files, and those of the others, stay in ``--out`` for a look.
"""
from __future__ import annotations

import json
import os
import signal
from dataclasses import asdict
from pathlib import Path

import jax

from camjax import distributed
from camjax.localize import output


def share(items: list, index: int, count: int) -> list:
    """Process ``index`` of ``count``'s contiguous share of ``items``: the first
    ``len(items) % count`` processes take one more (the shares, in process order, are
    ``items``)."""
    base, extra = divmod(len(items), count)
    start = index * base + min(index, extra)
    return items[start:start + base + (index < extra)]


def part_path(out_dir: Path, index: int, count: int) -> Path:
    return Path(out_dir) / f".localize-part-{index}-of-{count}.json"


def write_part(out_dir: Path, results: list[output.ImageResult],
               failed: list[output.Failure], interrupted: str | None) -> None:
    """This process's results, whole or absent (a temporary file and a rename)."""
    path = part_path(out_dir, jax.process_index(), jax.process_count())
    text = json.dumps({"images": [asdict(r) for r in results],
                       "failed": [asdict(f) for f in failed], "interrupted": interrupted})
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def merge_parts(out_dir: Path, count: int):
    """(results, failed, interrupted) of the ``count`` parts, in process order (process 0,
    after the barrier); the first signal that stopped a process, or None. Removes the
    parts."""
    results, failed, interrupted = [], [], None
    paths = [part_path(out_dir, i, count) for i in range(count)]
    for path in paths:
        part = json.loads(path.read_text(encoding="utf-8"))
        results.extend(output.ImageResult(**r) for r in part["images"])
        failed.extend(output.Failure(**f) for f in part["failed"])
        interrupted = interrupted or part["interrupted"]
    for path in paths:
        path.unlink()
    return results, failed, interrupted


def gather(out_dir: Path, results, failed, interrupted):
    """Every process: write this share's part and wait at the barrier; then process 0
    returns (results, failed, interrupted) of all shares (:func:`merge_parts`), the others
    None."""
    write_part(out_dir, results, failed, interrupted)
    distributed.barrier("camjax localize: every share written")
    if jax.process_index() != 0:
        return None
    return merge_parts(out_dir, jax.process_count())


def exit_status(interrupted: str | None) -> int:
    """The shell's status of a run stopped by the signal ``interrupted`` (128 + its
    number; 0 for None)."""
    return 128 + signal.Signals[interrupted].value if interrupted else 0
