"""The references of bench/maxboxacc.py: wsolevaluation's evaluators, map by map.

With a checkout of clovaai/wsolevaluation, its own ``evaluation.py``: ``BoxEvaluator``
built on a metadata folder written here (ids, 224x224 sizes, the boxes) and
``MaskEvaluator`` with ``get_mask`` handing over the in-memory mask (reading mask files
is not part of the metric); ``accumulate`` per map, then ``compute``. Its imports need
``munch`` and ``torchvision`` (for data loading this bench does not use): stand-ins
are put in ``sys.modules`` when they are not installed, and ``np.float`` (removed from
NumPy) is restored as ``float``, which is what it was. Without a checkout, the same
loop as tests/boxes/oracle.py writes it.
"""
from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

from timing import clock, since  # (bench/timing.py)


def load_wsolevaluation(path: Path):
    for name, attrs in (("munch", ("Munch",)), ("torchvision", ("transforms",))):
        try:
            __import__(name)
        except ImportError:
            mod = types.ModuleType(name)
            if name == "munch":
                class Munch(dict):
                    __getattr__ = dict.__getitem__
                    __setattr__ = dict.__setitem__
                mod.Munch = Munch
            else:
                mod.transforms = types.ModuleType("torchvision.transforms")
                sys.modules["torchvision.transforms"] = mod.transforms
            sys.modules[name] = mod
    if "float" not in np.__dict__:
        np.float = float        # the alias wsolevaluation uses, removed in NumPy 1.24
    sys.path.insert(0, str(Path(path).resolve()))
    import evaluation
    return evaluation


def _metadata(folder: Path, gts, masks: bool) -> list[str]:
    ids = [f"img{i}.jpg" for i in range(len(gts))]
    (folder / "image_ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (folder / "image_sizes.txt").write_text("".join(f"{i},224,224\n" for i in ids))
    if masks:
        lines = [f"{i},{i}.png,{i}.ignore.png\n" for i in ids]
    else:
        lines = [f"{i},{x0},{y0},{x1},{y1}\n" for i, g in zip(ids, gts) for x0, y0, x1, y1 in g]
    (folder / "localization.txt").write_text("".join(lines))
    return ids


def _wsolevaluation_runs(path: Path, taus, ious):
    ev = load_wsolevaluation(path)
    thresholds = list(taus)

    def runs(maps, gts, masks):
        result, times = {}, {}
        with tempfile.TemporaryDirectory() as tmp:
            box_dir, mask_dir = Path(tmp, "boxes"), Path(tmp, "masks")
            box_dir.mkdir()
            mask_dir.mkdir()
            ids = _metadata(box_dir, gts, masks=False)
            _metadata(mask_dir, gts, masks=True)
            for name, multi, keys in (("V1", False, [50]), ("V2", True, list(ious))):
                e = ev.BoxEvaluator(metadata=ev.configure_metadata(str(box_dir)),
                                    dataset_name="CUB", split="test",
                                    cam_threshold_list=thresholds, iou_threshold_list=keys,
                                    mask_root="", multi_contour_eval=multi)
                t = clock()
                for m, i in zip(maps, ids):
                    e.accumulate(m, i)
                accs = e.compute()
                times[name] = since(t)
                result[name] = {"num_correct": e.num_correct,
                                "max_box_acc": dict(zip(keys, accs))}
            by_path = {f"{i}.png": m for i, m in zip(ids, masks)}
            ev.get_mask = lambda root, paths, ignore: by_path[paths[0]]
            e = ev.MaskEvaluator(metadata=ev.configure_metadata(str(mask_dir)),
                                 dataset_name="OpenImages", split="test",
                                 cam_threshold_list=thresholds, iou_threshold_list=list(ious),
                                 mask_root="", multi_contour_eval=False)
            t = clock()
            for m, i in zip(maps, ids):
                e.accumulate(m, i)
            with contextlib.redirect_stdout(io.StringIO()):
                result["PxAP"] = float(e.compute())
            times["PxAP"] = since(t)
        return result, times
    return runs


def _oracle_runs(taus, ious):
    from tests.boxes.oracle import BoxEvaluatorLoop, MaskEvaluatorLoop

    def runs(maps, gts, masks):
        result, times = {}, {}
        for name, multi, keys in (("V1", False, [50]), ("V2", True, list(ious))):
            t = clock()
            e = BoxEvaluatorLoop(taus, keys, multi)
            for m, g in zip(maps, gts):
                e.accumulate(m, g)
            accs = e.compute()
            times[name] = since(t)
            result[name] = {"num_correct": e.num_correct, "max_box_acc": dict(zip(keys, accs))}
        t = clock()
        e = MaskEvaluatorLoop(taus)
        for m, mask in zip(maps, masks):
            e.accumulate(m, mask)
        result["PxAP"] = e.compute()
        times["PxAP"] = since(t)
        return result, times
    return runs


def reference(wsolevaluation: Path | None, taus, ious):
    """``(runs, name)``: ``runs(maps, gts, masks) -> (result, {metric: (wall, CPU)
    seconds})``."""
    if wsolevaluation is not None:
        return _wsolevaluation_runs(wsolevaluation, taus, ious), "wsolevaluation"
    return _oracle_runs(taus, ious), "oracle"
