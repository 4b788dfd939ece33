"""Evaluation of a run: predict functions from (graphdef, state, mesh), the split's
batches, the evaluation job (``camjax.evaluator``) and the report; restoring a workdir.

A split with boxes goes through the localization job; a split without (imagenet2012 in
TFDS has none, nor have class folders) is evaluated for classification, with a gallery of
maps, and the report says localization was skipped. ``evaluate_workdir`` catches SIGINT /
SIGTERM (one process): the images done are written, ``"interrupted"`` in metrics.json.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import jax

from camjax import checks, distributed, evaluator, models
from camjax.checks.resume import run_meta
from camjax.data import pipeline
from camjax.errors import UserError
from camjax.evaluator.job import Lane
from camjax.signals import StopSignals
from camjax.training import checkpoint, mesh as mesh_lib, scoring, state as state_lib
from camjax.training.inference import map_size, predict_function, top_k_function

# how report titles name the WSOL methods (camjax.training.wsol)
WSOL_NAMES = {"cam": "CAM", "has": "HaS", "acol": "ACoL", "spg": "SPG", "adl": "ADL",
              "cutmix": "CutMix", "fewshot": "the few-shot baseline (val boxes/masks)",
              "tscam": "TS-CAM"}
INFERENCE_META = ("model", "pooling", "num_classes", "model_kwargs", "wsol_method")


def num_eval_batches(n: int, config) -> int:
    per_process = -(-n // jax.process_count())
    return -(-per_process // (config.eval_batch_size // jax.process_count()))


def _has_boxes(src, config) -> bool:
    return pipeline.has_boxes(src) or bool(config.eval_annotations)


def _compare(lanes: dict, src, config, *, limit=None, gallery_size=0) -> dict:
    n = len(src) if limit is None else min(limit, len(src))
    batches = pipeline.eval_batches(src, config, with_boxes=_has_boxes(src, config), limit=limit)
    return evaluator.compare(lanes, batches, num_classes=pipeline.num_classes(src),
                             map_size=map_size(config),
                             cam_curve_interval=config.cam_curve_interval,
                             num_batches=num_eval_batches(n, config), gallery_size=gallery_size)


def val_thresholds(predicts: dict, val_src, config) -> dict:
    """The WSOL protocol's operating point of each map method (name -> predict function),
    in one pass over the train-fullsup split: ``{name: (threshold, summary)}``, the CAM
    threshold of the best MaxBoxAcc (V1: largest contour, IoU 0.5, wsolevaluation's
    original metric) there; threshold None and summary ``{"interrupted": ...}`` when a
    signal stopped the pass."""
    lanes = {name: Lane(p, {"paper_rule": config.cam_threshold}) for name, p in predicts.items()}
    out = {}
    for name, (metrics, _) in _compare(lanes, val_src, config).items():
        if "interrupted" in metrics:
            out[name] = None, {"split": config.val_split, "interrupted": metrics["interrupted"]}
            continue
        v1 = metrics["wsol_v1"]
        threshold = float(v1["best_threshold"][50])
        out[name] = threshold, {"split": config.val_split,
                                "num_images": metrics["cam"]["num_images"],
                                "max_box_acc": v1["max_box_acc"][50],
                                "best_threshold": threshold,
                                "max_box_acc_v2": metrics["wsol_v2"]["max_box_acc_v2"]}
    return out


def val_threshold(predict, val_src, config) -> tuple[float | None, dict]:
    """:func:`val_thresholds` of one predict function."""
    return val_thresholds({"": predict}, val_src, config)[""]


def evaluate_split(state, src, graphdef, mesh, config, *, limit=None, gallery_size: int = 16,
                   val_src=None, per_image: evaluator.PerImage | None = None
                   ) -> tuple[dict, dict]:
    """(metrics, pictures) of ``src``: localization + classification when it has boxes.

    With ``val_src`` (the train-fullsup split, with boxes) the CAM threshold is chosen
    there first and the thresholded metrics are reported at both operating points. A
    split with masks and no boxes (OpenImages) gets classification and PxAP; a split
    with neither, classification and a gallery of maps. Several map methods
    (``config.cam_method`` "a,b") are evaluated on the same batches: the first method's
    metrics at the top level, every method's under ``methods``. The scorers of
    ``config.metrics`` and the methods after the first run at the final evaluation
    (``gallery_size`` > 0) only. ``per_image`` (a ``evaluator.PerImage`` without
    points): filled with each image's row (the first method's).
    """
    states = (state.params, state.rest)
    config = checks.with_classes(config, pipeline.num_classes(src))   # top_k resolved
    names = scoring.method_names(config)        # "a,b": the first method's maps by default
    predict = predict_function(graphdef, states, mesh, config, names[0])
    if _has_boxes(src, config) or pipeline.has_masks(src):   # masks only: PxAP, no boxes
        names = names if gallery_size else names[:1]    # periodic evaluations: the first
        lanes = {m: Lane(predict if m == names[0] else
                         predict_function(graphdef, states, mesh, config, m),
                         {"paper_rule": config.cam_threshold}) for m in names}
        vals = {}
        if val_src is not None and _has_boxes(src, config) and pipeline.has_boxes(val_src):
            vals = val_thresholds({m: lane.predict for m, lane in lanes.items()}, val_src,
                                  config)
            threshold, summary = vals[names[0]]
            if threshold is None:
                return {"interrupted": summary["interrupted"], "val": summary}, {}
            for m, (threshold, _) in vals.items():
                lanes[m].points["val_threshold"] = threshold
        if gallery_size:                              # the final evaluation, not the periodic
            for lane in lanes.values():
                lane.scorers = scoring.scorers(config, lane.predict, graphdef, states,
                                               num_classes=pipeline.num_classes(src))
        if per_image is not None:
            if _has_boxes(src, config):
                per_image.points = list(lanes[names[0]].points)
            lanes[names[0]].per_image = per_image
        results = _compare(lanes, src, config, limit=limit, gallery_size=gallery_size)
        for m, (threshold, summary) in vals.items():
            results[m][0]["val"] = summary
        metrics, pictures = results[names[0]]
        if len(names) > 1:
            metrics = {**metrics, "methods": {m: results[m][0] for m in names}}
        return metrics, pictures
    n = len(src) if limit is None else min(limit, len(src))
    batches = pipeline.eval_batches(src, config, with_boxes=False, limit=limit)
    top_k = top_k_function(graphdef, states, mesh, config.top_k)
    metrics = {"classification": evaluator.classification(
        top_k, batches, num_batches=num_eval_batches(n, config), per_image=per_image),
        "localization": f"skipped: {config.dataset} split {config.eval_split!r} has no boxes",
        "num_classes": pipeline.num_classes(src)}
    if "interrupted" in metrics["classification"]:
        metrics["interrupted"] = metrics["classification"]["interrupted"]
    pictures = {}
    if gallery_size and "interrupted" not in metrics:
        first = pipeline.eval_batches(src, config, with_boxes=False, limit=gallery_size)
        pictures["gallery"] = evaluator.gallery(predict, first, size=gallery_size,
                                                threshold=config.cam_threshold)
    return metrics, pictures


def history_record(step: int, metrics: dict) -> dict:
    return {"step": step, **(metrics["cam"] if "cam" in metrics else metrics["classification"])}


def final_evaluation(state, src, graphdef, mesh, config, workdir, *, val_src=None,
                     out=None, note: str = "", skipped_images: int = 0) -> dict:
    """Evaluate the split (choosing the threshold on ``val_src`` when given), write
    metrics.json, per_image.csv and report.md in ``out`` (default workdir/eval; process
    0). ``note``: a line for the report (how the split was chosen); ``skipped_images``:
    training images skipped as unreadable (``config.skip_bad_images``). A signal during
    the evaluation: metrics.json (``"interrupted"``) and per_image.csv of the images done,
    no report."""
    per_image = evaluator.PerImage(class_names=pipeline.class_names(src))
    metrics, pictures = evaluate_split(state, src, graphdef, mesh, config, val_src=val_src,
                                       per_image=per_image)
    metrics["step"] = int(state.step)
    metrics["dataset"], metrics["split"] = config.dataset, config.eval_split
    metrics["cam_method"] = config.cam_method
    metrics["wsol_method"] = config.wsol_method
    if note:
        metrics["note"] = note
    if skipped_images:
        metrics["skipped_train_images"] = int(skipped_images)
    table = per_image.csv_text()          # a collective: every process takes part
    if distributed.is_main_process():
        out = Path(out) if out is not None else Path(workdir) / "eval"
        out.mkdir(parents=True, exist_ok=True)
        (out / "per_image.csv").write_text(table, encoding="utf-8")
        title = (f"{config.model} ({config.pooling.upper()}) on {config.dataset} / "
                 f"{config.eval_split}")
        title += f", trained with {WSOL_NAMES.get(config.wsol_method, config.wsol_method)}"
        if config.cam_method != "cam":
            title += f", maps by {', '.join(scoring.method_names(config))}"
        if "interrupted" in metrics:
            evaluator.write_metrics(out, metrics)
        elif "cam" in metrics:
            evaluator.write(out, metrics, pictures, title=title,
                            class_names=pipeline.class_names(src))
        else:
            evaluator.write_classification(out, metrics, pictures, title=title,
                                           class_names=pipeline.class_names(src))
    return metrics


def restore_for_inference(config, workdir, num_classes: int):
    """(eval graphdef, state, mesh) of a workdir's latest checkpoint."""
    mesh = mesh_lib.data_mesh()
    model = state_lib.build_model(config, num_classes, load_weights=False)
    setup = state_lib.initial_state(model, config, mesh)
    if not (Path(workdir) / "checkpoints").is_dir():
        raise checkpoint.CheckpointError(f"no checkpoint in {Path(workdir) / 'checkpoints'}: "
                                         f"train first (camjax train --config CONFIG "
                                         f"--workdir {workdir})")
    mngr = checkpoint.manager(workdir, read_only=True)
    if mngr.latest_step() is None:
        raise checkpoint.CheckpointError(f"no checkpoint in {mngr.directory}: train first "
                                         f"(camjax train --config CONFIG --workdir {workdir})")
    meta = run_meta(config, num_classes)
    state, _, _ = checkpoint.restore(
        mngr, checkpoint.abstract(setup.state, mesh_lib.replicated(mesh)),
        expect={k: meta[k] for k in INFERENCE_META}, with_data=False)
    mngr.close()
    return setup.eval_graphdef, state, mesh


def pretrained_for_inference(config, num_classes: int):
    """(eval graphdef, state, mesh) of ``config.model`` with ``config.pretrained`` loaded
    whole, classifier included: a pretrained classifier evaluated as it is."""
    mesh = mesh_lib.data_mesh()
    model = state_lib.build_model(config, num_classes, load_weights=False)
    report = models.load_pretrained(model, config.pretrained)
    if not report.classifier_loaded:
        raise UserError(f"config.pretrained={config.pretrained} did not fill the classifier of "
                        f"{config.model} with {num_classes} classes ({config.dataset}): a "
                        "pretrained classifier is evaluated on its own classes; fine-tune it on "
                        "this dataset first (camjax train --config CONFIG --workdir W "
                        "--config.pretrained=...)")
    setup = state_lib.initial_state(model, config, mesh)
    return setup.eval_graphdef, setup.state, mesh


def has_checkpoint(workdir) -> bool:
    ckpts = Path(workdir) / "checkpoints"
    return ckpts.is_dir() and any(p.name.isdigit() for p in ckpts.iterdir())


def evaluate_workdir(config, workdir, out=None) -> dict:
    """``camjax evaluate``: restore the latest checkpoint and evaluate config.eval_split;
    a workdir without a checkpoint evaluates ``config.pretrained`` as it is. The report
    goes to ``out`` (default WORKDIR/eval), checked writable first."""
    distributed.maybe_initialize(config.distributed)
    workdir = Path(workdir).absolute()
    out = checks.before_evaluation(config, workdir, out)
    config, note = pipeline.with_splits(config)
    src = pipeline.open_source(config, config.eval_split, workdir)
    val = pipeline.open_source(config, config.val_split, workdir) if config.val_split else None
    config = checks.with_classes(config, pipeline.num_classes(src))
    if not has_checkpoint(workdir) and config.pretrained:
        graphdef, state, mesh = pretrained_for_inference(config, pipeline.num_classes(src))
    else:
        graphdef, state, mesh = restore_for_inference(config, workdir, pipeline.num_classes(src))
    # one process alone cannot stop a collective evaluation: signals are caught with one
    with StopSignals() if jax.process_count() == 1 else contextlib.nullcontext():
        return final_evaluation(state, src, graphdef, mesh, config, workdir, val_src=val,
                                out=out, note=note)
