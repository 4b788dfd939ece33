"""What ``camjax localize`` writes into ``--out``:

* ``overlays/<name>.png``: one picture per image (:mod:`camjax.localize.draw`), ``<name>``
  the image's unique output name (:mod:`camjax.localize.inputs`), sub-folders kept:
  ``photos/a/x.jpg`` found under the argument ``photos`` -> ``overlays/a/x.jpg.png``;
* ``predictions.csv``: one row per image and rank, the columns of :data:`CSV_COLUMNS`, boxes
  inclusive in original pixels;
* ``predictions.json``: the run's settings (method, threshold, top_k or the ``--class``
  indices as ``classes``, the model and its preprocessing), ``interrupted`` (true when
  SIGINT / SIGTERM stopped the run: then ``images`` holds the images done, ``num_images``
  the images found), ``images`` (per image: path, name, overlay, ``map`` with
  ``--save_maps``, size, the region the model saw, the top-k predictions, or the
  ``--class`` classes ranked in their order, with boxes), ``failed`` (path and message of
  each file that did not decode) and ``skipped`` (files in the folders without an image
  extension);
* ``boxes.json``: the same predictions as a list of ``{"image", "overlay", "predictions":
  [{"class", "index", "probability", "box"}]}``, the layout of the first ``camjax
  localize``, kept for the scripts that read it.

Both tables are written, through a temporary file and a rename, when the run ends, failed
images or not.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

CSV_COLUMNS = ("image", "rank", "class_index", "class_name", "probability", "x0", "y0", "x1",
               "y1")


@dataclass
class ImageResult:
    """The top-k of one image: classes, names, probabilities, boxes in original pixels."""
    path: str
    name: str
    overlay: str
    height: int
    width: int
    region: list[int]
    classes: list[int]
    class_names: list[str]
    probabilities: list[float]
    boxes: list[list[int]]
    map: str | None = None        # --save_maps: maps/<name>.npy, relative to --out

    def predictions(self) -> list[dict]:
        return [{"rank": r + 1, "class_index": c, "class_name": n, "probability": p, "box": b}
                for r, (c, n, p, b) in enumerate(zip(self.classes, self.class_names,
                                                     self.probabilities, self.boxes))]


@dataclass
class Failure:
    path: str
    error: str


@dataclass
class Tables:
    json: Path
    csv: Path
    settings: dict = field(default_factory=dict)


def overlay_path(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / "overlays" / f"{name}.png"


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    os.replace(tmp, path)


def csv_text(results: list[ImageResult]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in results:
        for p in r.predictions():
            writer.writerow([r.path, p["rank"], p["class_index"], p["class_name"],
                             f"{p['probability']:.6g}", *p["box"]])
    return buffer.getvalue()


def write_tables(out_dir: Path, settings: dict, results: list[ImageResult],
                 failed: list[Failure], skipped: list[str], *, interrupted: str | None = None,
                 num_inputs: int | None = None) -> Tables:
    """predictions.json and predictions.csv in ``out_dir``; ``interrupted``: the signal
    that stopped the run after ``len(results) + len(failed)`` of ``num_inputs`` images."""
    out_dir = Path(out_dir)
    done = len(results) + len(failed)
    document = {**settings, "interrupted": interrupted is not None,
                **({"signal": interrupted} if interrupted else {}),
                "num_images": done if num_inputs is None else num_inputs,
                "num_processed": done,
                "images": [{"image": r.path, "name": r.name, "overlay": r.overlay,
                            "height": r.height, "width": r.width, "region": r.region,
                            **({"map": r.map} if r.map else {}),
                            "predictions": r.predictions()} for r in results],
                "failed": [{"image": f.path, "error": f.error} for f in failed],
                "skipped": list(skipped)}
    tables = Tables(out_dir / "predictions.json", out_dir / "predictions.csv", settings)
    _write_atomically(tables.json, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    _write_atomically(tables.csv, csv_text(results))
    boxes = [{"image": r.path, "overlay": r.overlay, "predictions": [
        {"class": n, "index": c, "probability": pr, "box": b}
        for c, n, pr, b in zip(r.classes, r.class_names, r.probabilities, r.boxes)]}
        for r in results]
    _write_atomically(out_dir / "boxes.json", json.dumps(boxes, indent=2, ensure_ascii=False))
    return tables
