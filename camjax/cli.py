"""The ``camjax`` command: parse, then call library functions. Errors a user can
fix print one line and exit 2; a run that fails on the way (a non-finite loss, a
checkpoint that cannot be written) prints one line and exits 1 (docs/errors.md)."""
from __future__ import annotations

import argparse
import sys
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
    lo.add_argument("--no_progress", action="store_true", help="no progress bar")
    lo.add_argument("images", nargs="+", help="image files and folders")
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
        from camjax.training import validate   # named at once, before the heavy imports
        validate.early(cfg, args.command, args.workdir, out)
        from camjax import training
        if args.command == "evaluate":
            metrics = training.evaluate_workdir(cfg, args.workdir, out=out)
        else:
            metrics = training.train_and_evaluate(cfg, args.workdir)
        import jax
        if "cam" in metrics and jax.process_index() == 0:
            from camjax.evaluator import metrics_table
            print(metrics_table(metrics))
            print(f"report: {Path(out or Path(args.workdir) / 'eval') / 'report.md'}")
        return 0
    if extra:
        raise UsageError(f"unrecognised arguments {' '.join(extra)}")
    if args.command == "prepare":
        from camjax.data import pipeline
        from camjax.training import probe, validate
        directory = str(Path(args.data_dir).expanduser().absolute())
        probe.dataset_builder(args.dataset, directory, "--dataset")   # a name TFDS knows
        validate.writable_folder(directory, "--data_dir")
        pipeline.prepare(args.dataset, directory)
        return 0
    if args.command == "localize":
        from camjax.localize import localize
        result = localize(args.images, args.out, model=args.model, weights=args.weights,
                          workdir=args.workdir, top_k=args.top_k, method=args.method,
                          layer=args.layer, aug_smooth=args.aug_smooth,
                          eigen_smooth=args.eigen_smooth, threshold=args.threshold,
                          batch_size=args.batch_size, progress=not args.no_progress)
        print(f"wrote {len(result.images)} overlays to {result.out_dir / 'overlays'}, "
              f"{result.predictions_json} and {result.predictions_csv}")
        if result.failed:
            print(f"camjax: {len(result.failed)} of {len(result.images) + len(result.failed)} "
                  "images failed (listed in predictions.json)", file=sys.stderr)
        return 0 if result.ok else 1
    raise UsageError(f"unknown command {args.command}")


def main(argv: list[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except (UserError, FileNotFoundError) as err:
        print(f"camjax: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except RunError as err:
        print(f"camjax: error: {_one_line(err)}", file=sys.stderr)
        return 1


def _one_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return " ".join(lines) or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
