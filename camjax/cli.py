"""The ``camjax`` command: parse, then call library functions. Errors a user can
fix print one line and exit 2; a run that fails on the way (a non-finite loss, a
checkpoint that cannot be written) prints one line and exits 1 (docs/errors.md)."""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from camjax.errors import RunError, UserError


class UsageError(UserError):
    """A command line that does not parse."""


def _overrides(extra: list[str]) -> dict:
    """``--config.a.b=1`` or ``--config.a.b 1`` pairs from the unparsed arguments."""
    out, i = {}, 0
    while i < len(extra):
        arg = extra[i]
        if not arg.startswith("--config."):
            raise UsageError(f"unrecognised argument {arg!r}")
        key, eq, value = arg[len("--config."):].partition("=")
        if not eq:
            if i + 1 >= len(extra):
                raise UsageError(f"{arg} needs a value")
            value, i = extra[i + 1], i + 1
        out[key] = value
        i += 1
    return out


def _registered(kind: str, full: bool) -> str:
    """The map methods or the ``--model`` classifiers, from their registries; only when
    help is printed (``full``), so that parsing a command imports no JAX."""
    if not full:
        return "see camjax localize --help"
    if kind == "methods":
        from camjax import methods
        return ", ".join(f"{n} (layer=)" if methods.takes_layer(n) else n
                         for n in methods.METHODS)
    from camjax import models
    return ", ".join(models.classifiers())


def _parser(full_help: bool = False) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="camjax", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="train and evaluate tiny_gap on the built-in dataset")
    d.add_argument("--workdir", default="demo_out")
    for name, text in (("train", "train (resuming), then evaluate"),
                       ("evaluate", "evaluate the latest checkpoint of a workdir")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--config", required=name == "train",
                       help="a config file (experiments/configs/*.py) or a packaged name "
                            "(demo); evaluate: default the run's saved WORKDIR/config.json")
        s.add_argument("--workdir", required=True)
        if name == "evaluate":
            s.add_argument("--out", help="write metrics.json and report.md to this folder "
                                         "instead of WORKDIR/eval")
    pr = sub.add_parser("prepare", help="prepare a TFDS dataset as array_record")
    pr.add_argument("--dataset", default="camjax_shapes")
    pr.add_argument("--data_dir", required=True)
    lo = sub.add_parser("localize", help="CAM overlays and boxes for your own images",
                        description="Overlays, boxes and predictions.json/.csv for image "
                                    "files and folders (walked recursively). Exit status: "
                                    "0, 1 when an image failed to decode (the others are "
                                    "written), 2 for a user error.")
    which = lo.add_mutually_exclusive_group(required=True)
    which.add_argument("--workdir", help="a camjax train workdir (its latest checkpoint)")
    which.add_argument("--model", help="a torchvision (or timm) ImageNet classifier, needs "
                                       f"--weights: {_registered('models', full_help)}")
    lo.add_argument("--weights", help="the classifier's ImageNet state dict (.safetensors, "
                                      "or .pth with torch installed)")
    lo.add_argument("--out", required=True, help="output folder")
    lo.add_argument("--top_k", type=int, default=None,
                    help="classes per image (default: the config's top_k, 5)")
    lo.add_argument("--class", dest="classes", action="append", default=None,
                    metavar="N|NAME",
                    help="map this class in every image instead of the top-k (--class "
                         "replaces --top_k): an index or a class name as the model's class "
                         "list spells it (ImageNet's for --model, the run's class_names.json "
                         "for --workdir); comma-separated or repeated for several")
    lo.add_argument("--save_maps", action="store_true",
                    help="also save each image's maps at its own size: OUT/maps/<name>.npy "
                         "(float32 (H, W) for one class, (k, H, W) for several) and all of "
                         "them in OUT/maps.npz keyed by <name>")
    lo.add_argument("--method", default="cam",
                    help=f"map method (default cam): {_registered('methods', full_help)}")
    lo.add_argument("--layer", default=None,
                    help="the layer a feature method looks at, a module path as torchvision "
                         "names it (layer3, layer4.1.conv2, features.6; default the "
                         "network's features, or the run's config.cam_layer)")
    lo.add_argument("--aug_smooth", action="store_true", default=None,
                    help="average the maps of the flipped and intensity-scaled images "
                         "(pytorch-grad-cam's aug_smooth; default the run's config)")
    lo.add_argument("--eigen_smooth", action="store_true", default=None,
                    help="the first principal component of the weighted channels instead "
                         "of their sum (the weighted-channel methods; default the run's "
                         "config)")
    lo.add_argument("--threshold", type=float, default=None,
                    help="box threshold, a fraction of each map's max (default: the "
                         "config's cam_threshold, 0.2)")
    lo.add_argument("--batch_size", type=int, default=16)
    lo.add_argument("--max_image_pixels", type=int, default=None,
                    help="refuse larger image files before decoding them (default: the "
                         "config's max_image_pixels, 89,478,485, Pillow's limit)")
    lo.add_argument("--no_progress", action="store_true", help="no progress bar")
    lo.add_argument("--distributed", action="store_true",
                    help="start jax.distributed with JAX's auto-detection (SLURM, TPU pods): "
                         "each process localizes a share of the files, process 0 writes the "
                         "tables; by hand: CAMJAX_COORDINATOR, CAMJAX_NUM_PROCESSES, "
                         "CAMJAX_PROCESS_ID (docs/localization.md)")
    lo.add_argument("images", nargs="+", help="image files and folders")
    sc = sub.add_parser("score", help="score saved maps against wsolevaluation metadata",
                        description="MaxBoxAcc (V1, V2) or PxAP of score maps saved by any "
                                    "tool, as wsolevaluation's evaluation.py --scoremap_root "
                                    "computes them (docs/evaluation.md, \"camjax score\").")
    sc.add_argument("--metadata", required=True,
                    help="a wsolevaluation metadata folder (metadata/CUB: train/, val/, test/)")
    sc.add_argument("--split", default="test", help="the split the maps are of (test)")
    sc.add_argument("--scoremaps", required=True,
                    help="a folder of <image_id>.npy files, or one .npz keyed by image id")
    sc.add_argument("--val_scoremaps", default=None,
                    help="the val split's maps: its best threshold is applied to --split")
    sc.add_argument("--val_split", default="val")
    sc.add_argument("--mask_root", default=None,
                    help="the folder mask paths are relative to (OpenImages)")
    sc.add_argument("--cam_curve_interval", type=float, default=0.001,
                    help="threshold step (wsolevaluation's protocol: 0.001)")
    sc.add_argument("--iou_thresholds", type=int, nargs="+", default=[30, 50, 70],
                    help="MaxBoxAccV2's IoU thresholds in percent")
    sc.add_argument("--out", default=None, help="also write the numbers to this JSON file")
    return p


def run(argv: list[str]) -> int:
    args, extra = _parser(any(a in ("-h", "--help") for a in argv)).parse_known_args(argv)
    if args.command in ("train", "evaluate", "demo"):
        from camjax import config as config_lib
        overrides = _overrides(extra)
        if args.command == "evaluate" and args.config is None:   # the run's own config
            cfg = config_lib.from_json(Path(args.workdir) / "config.json", overrides)
        else:
            path = config_lib.packaged("demo") if args.command == "demo" else args.config
            cfg = config_lib.load(path, overrides)
        out = getattr(args, "out", None)
        from camjax import checks   # named at once, before the heavy imports
        checks.early(cfg, args.command, args.workdir, out)
        from camjax import training
        if args.command == "evaluate":
            metrics = training.evaluate_workdir(cfg, args.workdir, out=out)
        else:
            metrics = training.train_and_evaluate(cfg, args.workdir)
        import jax
        if metrics.get("interrupted"):
            return _interrupted(metrics, Path(out or Path(args.workdir) / "eval"))
        if "cam" in metrics and jax.process_index() == 0:
            from camjax.evaluator import metrics_table
            print(metrics_table(metrics))
            print(f"report: {Path(out or Path(args.workdir) / 'eval') / 'report.md'}")
        return 0
    if extra:
        raise UsageError(f"unrecognised arguments {' '.join(extra)}")
    if args.command == "prepare":
        from camjax.data import pipeline
        from camjax.checks import dataset, folders
        directory = str(Path(args.data_dir).expanduser().absolute())
        dataset.dataset_builder(args.dataset, directory, "--dataset")   # a name TFDS knows
        folders.writable_folder(directory, "--data_dir")
        pipeline.prepare(args.dataset, directory)
        return 0
    if args.command == "score":
        return _score(args)
    if args.command == "localize":
        from camjax.localize import localize
        result = localize(args.images, args.out, model=args.model, weights=args.weights,
                          workdir=args.workdir, top_k=args.top_k, method=args.method,
                          layer=args.layer, aug_smooth=args.aug_smooth,
                          eigen_smooth=args.eigen_smooth,
                          threshold=args.threshold, batch_size=args.batch_size,
                          progress=not args.no_progress, max_image_pixels=args.max_image_pixels,
                          classes=args.classes, save_maps=args.save_maps,
                          distributed=args.distributed)
        maps = f", {result.maps_npz}" if result.maps_npz else ""
        if result.process:          # several processes: process 0 writes the tables
            print(f"process {result.process}: wrote {len(result.images)} overlays to "
                  f"{result.out_dir / 'overlays'}; process 0 writes the tables",
                  file=sys.stderr)
            return result.exit_status or (0 if result.ok else 1)
        if result.interrupted:
            done = len(result.images) + len(result.failed)
            print(f"camjax: {result.interrupted} received: stopped after {done} of "
                  f"{result.num_inputs} images; wrote them to {result.predictions_json}"
                  f"{maps} and {result.predictions_csv} (\"interrupted\": true)",
                  file=sys.stderr)
            return result.exit_status
        maps = f", {len(result.images)} maps to {result.out_dir / 'maps'} and " \
               f"{result.maps_npz}" if result.maps_npz else ""
        print(f"wrote {len(result.images)} overlays to {result.out_dir / 'overlays'}{maps}, "
              f"{result.predictions_json} and {result.predictions_csv}")
        if result.failed:
            print(f"camjax: {len(result.failed)} of {len(result.images) + len(result.failed)} "
                  "images failed (listed in predictions.json)", file=sys.stderr)
        return 0 if result.ok else 1
    raise UsageError(f"unknown command {args.command}")


def _score(args) -> int:
    import json

    from camjax.evaluator import saved_maps
    if not 0 < args.cam_curve_interval <= 1:
        raise UsageError(f"--cam_curve_interval must lie in (0, 1], got {args.cam_curve_interval}")
    if any(not 0 < t <= 100 for t in args.iou_thresholds):
        raise UsageError(f"--iou_thresholds are percentages in (0, 100], got "
                         f"{args.iou_thresholds}")
    out = None
    if args.out is not None:
        from camjax.checks import writable_folder
        out = Path(args.out)
        writable_folder(out.parent, "--out's folder", create=False)
    result = saved_maps.score(args.metadata, args.split, args.scoremaps,
                              val_maps=args.val_scoremaps, val_split=args.val_split,
                              mask_root=args.mask_root,
                              cam_curve_interval=args.cam_curve_interval,
                              iou_thresholds=args.iou_thresholds)
    print(saved_maps.table(result))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        print(f"wrote {out}")
    return 0


def _interrupted(metrics: dict, out: Path) -> int:
    """The one line of an evaluation stopped by a signal; its shell status."""
    import signal
    name = metrics["interrupted"]
    done = metrics.get("cam", metrics.get("classification", {})).get("num_images")
    what = f"after {done} images" if done is not None else "while choosing the threshold on val"
    print(f"camjax: {name} received: evaluation stopped {what}; wrote {out / 'metrics.json'} "
          f"and {out / 'per_image.csv'} (\"interrupted\")", file=sys.stderr)
    return 128 + int(signal.Signals[name])


def main(argv: list[str] | None = None) -> int:
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return run(sys.argv[1:] if argv is None else argv)
        except (UserError, FileNotFoundError) as err:
            print(f"camjax: error: {_one_line(err)}", file=sys.stderr)
            return 2
        except RunError as err:
            print(f"camjax: error: {_one_line(err)}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:   # before a loop took over SIGINT (imports, compiling)
            print("camjax: interrupted (SIGINT) before any result was written",
                  file=sys.stderr)
            return 130


_PACKAGE = str(Path(__file__).resolve().parent)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """camjax's own warnings as one line; the libraries' (deprecations, Pillow's bomb
    warning next to camjax's own error, ...) are not the user's business."""
    if str(Path(filename).resolve()).startswith(_PACKAGE):
        print(f"camjax: warning: {_one_line(message)}", file=sys.stderr)


def _one_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return " ".join(lines) or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
