"""Evaluation from the training loop and of a finished workdir.

A split with boxes goes through the localization evaluator
(``camjax.evaluation.runner``); a split without (imagenet2012 in TFDS has none) is
evaluated for classification only, and the report says localization was skipped.
"""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import jax
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from camjax.data import pipeline
from camjax.training import checkpoint, mesh as mesh_lib, state as state_lib

INFERENCE_META = ("model", "pooling", "num_classes", "model_kwargs")


def num_eval_batches(n: int, config) -> int:
    per_process = -(-n // jax.process_count())
    return -(-per_process // (config.eval_batch_size // jax.process_count()))


@partial(jax.jit, static_argnames=("graphdef", "k"))
def _top_k(params, rest, images, *, graphdef, k):
    logits, _ = nnx.merge(graphdef, params, rest)(images)
    return jax.lax.top_k(logits, k)[1]


def classification(params, rest, batches, *, graphdef, mesh, config, num_classes: int,
                   num_batches=None) -> dict:
    """Top-1 / top-5 classification errors (percent) over the valid rows of ``batches``."""
    k = min(config.get("top_k", 5), num_classes)
    counts = np.zeros(3, np.int64)     # top-1 wrong, top-k wrong, images
    bar = tqdm(batches, total=num_batches, desc="evaluate", unit="batch",
               disable=not mesh_lib.is_main_process())
    for _, local in bar:
        images = mesh_lib.global_batch(mesh, {"image": local["image"]})["image"]
        top = mesh_lib.local_numpy(_top_k(params, rest, images, graphdef=graphdef, k=k))
        valid = local["valid"]
        right = top[valid] == local["label"][valid, None]
        counts += [np.sum(~right[:, 0]), np.sum(~right.any(1)), int(valid.sum())]
    top1, top5, n = mesh_lib.sum_over_processes(counts)
    return {"cls_top1_err": 100.0 * top1 / max(n, 1), "cls_top5_err": 100.0 * top5 / max(n, 1),
            "num_images": int(n)}


def evaluate_split(state, src, graphdef, mesh, config, *, limit=None,
                   gallery_size: int = 16) -> tuple[dict, list]:
    """(metrics, gallery) of ``src``: localization + classification when it has boxes."""
    n = len(src) if limit is None else min(limit, len(src))
    steps = num_eval_batches(n, config)
    boxes = pipeline.has_boxes(src) or bool(config.get("eval_annotations", ""))
    batches = pipeline.eval_batches(src, config, with_boxes=boxes, limit=limit)
    if boxes:
        from camjax.evaluation import runner
        return runner.evaluate(state.params, state.rest, batches, graphdef=graphdef,
                               mesh=mesh, config=config, num_batches=steps,
                               gallery_size=gallery_size)
    metrics = {"classification": classification(
        state.params, state.rest, batches, graphdef=graphdef, mesh=mesh, config=config,
        num_classes=pipeline.num_classes(src), num_batches=steps),
        "localization": f"skipped: {config.dataset} split {config.eval_split!r} has no boxes"}
    return metrics, []


def history_record(step: int, metrics: dict) -> dict:
    return {"step": step, **(metrics["cam"] if "cam" in metrics else metrics["classification"])}


def final_evaluation(state, src, graphdef, mesh, config, workdir) -> dict:
    """Evaluate the split, write workdir/eval/metrics.json and report.md (process 0)."""
    metrics, gallery = evaluate_split(state, src, graphdef, mesh, config)
    metrics["step"] = int(state.step)
    if mesh_lib.is_main_process():
        names = src.dataset_info.features["label"].names
        if "cam" in metrics:
            from camjax import report
            report.write(Path(workdir) / "eval", metrics, gallery, config, class_names=names)
        else:
            _classification_report(Path(workdir) / "eval", metrics, config)
    return metrics


def _classification_report(out: Path, metrics: dict, config) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    c = metrics["classification"]
    table = "\n".join([
        "| metric (%) | value |", "|---|---:|",
        f"| classification top-1 error | {c['cls_top1_err']:.2f} |",
        f"| classification top-5 error | {c['cls_top5_err']:.2f} |",
        f"| images | {c['num_images']} |"])
    (out / "report.md").write_text(
        f"# camjax evaluation: {config.model} ({config.pooling.upper()}) on {config.dataset} / "
        f"{config.eval_split}\n\nStep {metrics['step']}. Localization {metrics['localization']} "
        "(imagenet2012 in TFDS carries no boxes; evaluate localization with the ILSVRC "
        f"validation XML, see docs/evaluation.md).\n\n{table}\n")
    print(table)


def restore_for_inference(config, workdir, num_classes: int):
    """(eval graphdef, state, mesh) of a workdir's latest checkpoint."""
    mesh = mesh_lib.data_mesh()
    model = state_lib.build_model(config, num_classes, load_weights=False)
    setup = state_lib.initial_state(model, config, mesh)
    if not (Path(workdir) / "checkpoints").is_dir():
        raise checkpoint.CheckpointError(f"no checkpoint in {Path(workdir) / 'checkpoints'}: "
                                         f"train first (camjax train --workdir {workdir})")
    mngr = checkpoint.manager(workdir, read_only=True)
    if mngr.latest_step() is None:
        raise checkpoint.CheckpointError(f"no checkpoint in {mngr.directory}: train first "
                                         f"(camjax train --workdir {workdir})")
    meta = state_lib.run_meta(config, num_classes)
    state, _, _ = checkpoint.restore(
        mngr, checkpoint.abstract(setup.state, mesh_lib.replicated(mesh)),
        expect={k: meta[k] for k in INFERENCE_META}, with_data=False)
    mngr.close()
    return setup.eval_graphdef, state, mesh


def evaluate_workdir(config, workdir) -> dict:
    """``camjax evaluate``: restore the latest checkpoint and evaluate config.eval_split."""
    mesh_lib.maybe_initialize_distributed(config)
    workdir = Path(workdir).absolute()
    mesh_lib.check_batch_size(config.eval_batch_size, "eval_batch_size")
    src = pipeline.source(config.dataset, config.eval_split, pipeline.data_dir(config, workdir))
    graphdef, state, mesh = restore_for_inference(config, workdir, pipeline.num_classes(src))
    return final_evaluation(state, src, graphdef, mesh, config, workdir)
