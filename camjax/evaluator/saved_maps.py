"""``camjax score``: score maps saved by any tool, scored against a wsolevaluation metadata
folder as wsolevaluation's ``evaluation.py --scoremap_root`` scores them.

Maps: one ``<image_id>.npy`` per image under a folder (``np.save(root / image_id, map)``,
as wsolevaluation's inference saves them: ``123/456.jpg`` -> ``123/456.jpg.npy``;
``123/456.npy`` is accepted too), or one ``.npz`` keyed by image id. Each map is a 2-D
(H, W) array in [0, 1] (min-max normalised), read as float64 as wsolevaluation reads it.
The ground truth is brought to each map's frame: boxes rescaled from image_sizes.txt with
int(x * new / old), mask files resized with nearest neighbour (wsolevaluation's evaluator
does both at 224 x 224, the size its inference saves maps at; at that size the numbers
are the same).

Boxes (CUB, ILSVRC): MaxBoxAcc (V1: the largest contour, IoU 0.5, wsolevaluation's
``multi_contour_eval=False``), MaxBoxAccV2 (every contour, the mean over
``iou_thresholds``) with their best thresholds; with the val split's maps, the threshold
of val's best MaxBoxAcc (V1) and the split's box accuracy there. Masks (OpenImages): PxAP.
The counting is ``camjax.evaluation``'s accumulators; the readers ``camjax.data``'s.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from camjax.boxes import wsol_boxes
from camjax.data.annotations import read_wsol_metadata
from camjax.data.wsol import boxes_in_frame, mask_in_frame
from camjax.errors import UserError
from camjax.evaluation.wsol import BoxAccumulator, MaskAccumulator


class SavedMaps:
    """The score maps of a folder of ``.npy`` files or of one ``.npz``, by image id."""

    def __init__(self, path, what: str = "--scoremaps"):
        self.path, self.what = Path(path).expanduser(), what
        self._npz = None
        if self.path.is_file():
            try:
                self._npz = np.load(self.path, allow_pickle=False)
            except (OSError, ValueError, zipfile.BadZipFile) as err:
                raise UserError(f"{what} {self.path}: not a .npz of score maps ({err})") from None
        elif not self.path.is_dir():
            raise UserError(f"{what} {self.path}: no such folder or .npz file")

    def _raw(self, image_id: str):
        if self._npz is not None:
            if image_id not in self._npz.files:
                raise UserError(f"{self.what} {self.path}: no score map for image {image_id!r} "
                                "(the .npz is keyed by image id, as image_ids.txt lists them)")
            return self._npz[image_id], f"{self.path}[{image_id!r}]"
        for name in (image_id + ".npy", str(Path(image_id).with_suffix(".npy"))):
            file = self.path / name
            if file.is_file():
                try:
                    return np.load(file, allow_pickle=False), str(file)
                except (OSError, ValueError) as err:
                    raise UserError(f"{file}: the score map of image {image_id!r} does not "
                                    f"read ({err})") from None
        raise UserError(f"{self.what} {self.path}: no score map for image {image_id!r} "
                        f"(expected {self.path / (image_id + '.npy')})")

    def __getitem__(self, image_id: str) -> np.ndarray:
        raw, where = self._raw(image_id)
        if raw.ndim != 2 or min(raw.shape) < 1 or not np.issubdtype(raw.dtype, np.number):
            raise UserError(f"{where}: the score map of image {image_id!r} has shape "
                            f"{raw.shape} and dtype {raw.dtype}: expected a 2-D (H, W) array "
                            "of numbers")
        scores = raw.astype(np.float64)
        if not np.isfinite(scores).all() or scores.min() < 0 or scores.max() > 1:
            raise UserError(f"{where}: the score map of image {image_id!r} must lie in [0, 1] "
                            f"without NaN (min {np.nanmin(scores):.4g}, max "
                            f"{np.nanmax(scores):.4g}): min-max normalise each map")
        return scores


def _batches(ids, maps, frame_of, size: int = 64):
    """(maps, ground truth) in batches of one map size."""
    groups: dict = {}
    for image_id in ids:
        m = maps[image_id]
        group = groups.setdefault(m.shape, ([], []))
        group[0].append(m)
        group[1].append(frame_of(image_id, m.shape))
        if len(group[0]) == size:
            yield np.stack(group[0]), group[1]
            groups.pop(m.shape)
    for stack, truth in groups.values():
        yield np.stack(stack), truth


def score_split(metadata_dir, split: str, maps: SavedMaps, *, mask_root=None,
                cam_curve_interval: float = 0.001, iou_thresholds=(30, 50, 70)) -> dict:
    """The WSOL metrics of one split's saved maps (see the module docstring)."""
    folder = Path(metadata_dir).expanduser() / split
    ann = read_wsol_metadata(folder)
    thresholds = np.arange(0, 1, cam_curve_interval)
    out = {"split": split, "num_images": len(ann.image_ids), "localization": ann.localization}
    if ann.localization == "boxes":
        v2 = BoxAccumulator(thresholds, [t / 100 for t in iou_thresholds], multi_contour=True)
        v1 = BoxAccumulator(thresholds, (0.5,), multi_contour=False)
        for stack, gt in _batches(ann.image_ids, maps,
                                  lambda i, hw: boxes_in_frame(ann, i, hw)):
            # boxes counted as computed: CUB's ground truth reaches x1 = W (x + w, one past
            # the last pixel), which BoxAccumulator.update refuses as outside the map and
            # wsolevaluation scores as it is
            v2.update_boxes(wsol_boxes(stack, thresholds, True), gt)
            v1.update_boxes(wsol_boxes(stack, thresholds, False), gt)
        out["wsol_v1"], out["wsol_v2"] = v1.result(), v2.result()
        out["cam_thresholds"] = thresholds
    elif ann.localization == "masks":
        if mask_root is None:
            raise UserError(f"{folder} has masks: give --mask_root, the folder its mask paths "
                            "(localization.txt) are relative to")
        root = Path(mask_root).expanduser()
        acc = MaskAccumulator(cam_curve_interval)
        for stack, masks in _batches(ann.image_ids, maps,
                                     lambda i, hw: mask_in_frame(ann, i, root, hw)):
            acc.update(stack, np.stack(masks))
        out["pxap"] = float(acc.result()["pxap"])
    else:
        raise UserError(f"{folder / 'localization.txt'}: no boxes or masks (a labels-only "
                        "split): nothing to score the maps against")
    return out


def score(metadata_dir, split: str, maps, *, val_maps=None, val_split: str = "val",
          mask_root=None, cam_curve_interval: float = 0.001,
          iou_thresholds=(30, 50, 70)) -> dict:
    """``camjax score``: the metrics of ``split``'s maps; with ``val_maps`` also val's, and
    the split's box accuracy at the threshold of val's best MaxBoxAcc (V1, IoU 0.5)."""
    options = dict(mask_root=mask_root, cam_curve_interval=cam_curve_interval,
                   iou_thresholds=tuple(iou_thresholds))
    result = score_split(metadata_dir, split, SavedMaps(maps), **options)
    if val_maps is not None:
        val = score_split(metadata_dir, val_split, SavedMaps(val_maps, "--val_scoremaps"),
                          **options)
        result["val"] = _summary(val)
        if "wsol_v1" in val and "wsol_v1" in result:
            curve = val["wsol_v1"]["curves"][50]
            index = int(np.argmax(curve))               # the first threshold of the maximum
            result["val_threshold"] = {
                "threshold": float(val["cam_thresholds"][index]),
                "box_acc_v1": float(result["wsol_v1"]["curves"][50][index]),
                "box_acc_v2": {k: float(c[index]) for k, c in result["wsol_v2"]["curves"].items()},
            }
            v2 = result["val_threshold"]["box_acc_v2"]
            result["val_threshold"]["box_acc_v2_mean"] = float(np.mean(list(v2.values())))
    return _plain(result)


def _summary(r: dict) -> dict:
    out = {"split": r["split"], "num_images": r["num_images"]}
    if "wsol_v1" in r:
        out.update(max_box_acc=float(r["wsol_v1"]["max_box_acc"][50]),
                   best_threshold=float(r["wsol_v1"]["best_threshold"][50]),
                   max_box_acc_v2=float(r["wsol_v2"]["max_box_acc_v2"]))
    if "pxap" in r:
        out["pxap"] = r["pxap"]
    return out


def _plain(tree):
    """numpy values and int keys -> JSON-ready Python values."""
    if isinstance(tree, dict):
        return {(str(k) if not isinstance(k, str) else k): _plain(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_plain(v) for v in tree]
    if isinstance(tree, np.ndarray):
        return tree.tolist()
    if isinstance(tree, np.generic):
        return tree.item()
    return tree


def table(result: dict) -> str:
    """The result as a markdown table (what ``camjax score`` prints)."""
    lines = ["| metric (%) | value | best threshold |", "|---|---:|---:|"]
    if "wsol_v1" in result:
        v1, v2 = result["wsol_v1"], result["wsol_v2"]
        lines.append(f"| MaxBoxAcc (V1: largest contour, IoU 0.5) | "
                     f"{v1['max_box_acc']['50']:.2f} | {v1['best_threshold']['50']:.3f} |")
        for key in sorted(v2["max_box_acc"], key=int):
            lines.append(f"| MaxBoxAcc IoU {int(key) / 100:.1f} (all contours) | "
                         f"{v2['max_box_acc'][key]:.2f} | {v2['best_threshold'][key]:.3f} |")
        lines.append(f"| **MaxBoxAccV2** | {v2['max_box_acc_v2']:.2f} | |")
    if "pxap" in result:
        lines.append(f"| PxAP | {result['pxap']:.2f} | |")
    if "val_threshold" in result:
        point = result["val_threshold"]
        lines.append(f"| box accuracy at the threshold chosen on {result['val']['split']} "
                     f"(V1 / V2) | {point['box_acc_v1']:.2f} / {point['box_acc_v2_mean']:.2f} | "
                     f"{point['threshold']:.3f} |")
    lines.append(f"| images | {result['num_images']} | |")
    return "\n".join(lines)
