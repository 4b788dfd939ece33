"""Evaluation of a run: predict functions from (graphdef, state, mesh), the split's
batches, the evaluation job (``camjax.evaluator``) and the report; restoring a workdir.

A split with boxes goes through the localization job; a split without (imagenet2012 in
TFDS has none) is evaluated for classification only, and the report says localization
was skipped.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

import jax
from flax import nnx

from camjax import cam, distributed, evaluator
from camjax.data import pipeline
from camjax.training import checkpoint, mesh as mesh_lib, state as state_lib

INFERENCE_META = ("model", "pooling", "num_classes", "model_kwargs")


def num_eval_batches(n: int, config) -> int:
    per_process = -(-n // jax.process_count())
    return -(-per_process // (config.eval_batch_size // jax.process_count()))


def predict_function(graphdef, states, mesh, *, k: int, method: str, mode: str):
    """``(images, labels)`` (this process's numpy rows) -> ``cam.predict`` outputs, the
    batch sharded along ``data``: the predict function of ``evaluator.localization``."""
    def predict(images, labels):
        batch = mesh_lib.global_batch(mesh, {"image": images, "label": labels})
        return cam.predict(graphdef, states, batch["image"], batch["label"], k=k,
                           method=method, mode=mode)
    return predict


@partial(jax.jit, static_argnames=("graphdef", "k"))
def _top_k(graphdef, states, images, k):
    logits, _ = nnx.merge(graphdef, *states)(images)
    return jax.lax.top_k(logits, k)[1]


def top_k_function(graphdef, states, mesh, k: int):
    """``images`` (this process's rows) -> top-k classes: ``evaluator.classification``'s."""
    def top_k(images):
        images = mesh_lib.global_batch(mesh, {"image": images})["image"]
        return _top_k(graphdef, states, images, k)
    return top_k


def evaluate_split(state, src, graphdef, mesh, config, *, limit=None,
                   gallery_size: int = 16) -> tuple[dict, dict]:
    """(metrics, pictures) of ``src``: localization + classification when it has boxes."""
    n = len(src) if limit is None else min(limit, len(src))
    steps = num_eval_batches(n, config)
    boxes = pipeline.has_boxes(src) or bool(config.eval_annotations)
    batches = pipeline.eval_batches(src, config, with_boxes=boxes, limit=limit)
    states, num_classes = (state.params, state.rest), pipeline.num_classes(src)
    if boxes:
        predict = predict_function(graphdef, states, mesh, k=config.top_k,
                                   method=config.upsample, mode=config.normalize)
        return evaluator.localization(predict, batches, num_classes=num_classes,
                                      image_size=config.image_size,
                                      cam_threshold=config.cam_threshold, num_batches=steps,
                                      gallery_size=gallery_size)
    top_k = top_k_function(graphdef, states, mesh, min(config.top_k, num_classes))
    metrics = {"classification": evaluator.classification(top_k, batches, num_batches=steps),
               "localization": f"skipped: {config.dataset} split {config.eval_split!r} "
                               "has no boxes"}
    return metrics, {}


def history_record(step: int, metrics: dict) -> dict:
    return {"step": step, **(metrics["cam"] if "cam" in metrics else metrics["classification"])}


def final_evaluation(state, src, graphdef, mesh, config, workdir) -> dict:
    """Evaluate the split, write workdir/eval/metrics.json and report.md (process 0)."""
    metrics, pictures = evaluate_split(state, src, graphdef, mesh, config)
    metrics["step"] = int(state.step)
    if distributed.is_main_process():
        title = (f"{config.model} ({config.pooling.upper()}) on {config.dataset} / "
                 f"{config.eval_split}")
        out = Path(workdir) / "eval"
        if "cam" in metrics:
            evaluator.write(out, metrics, pictures, title=title, cam_threshold=config.cam_threshold,
                            class_names=pipeline.class_names(src))
        else:
            evaluator.write_classification(out, metrics, title=title)
    return metrics


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
    distributed.maybe_initialize(config.distributed)
    workdir = Path(workdir).absolute()
    mesh_lib.check_batch_size(config.eval_batch_size, "eval_batch_size")
    src = pipeline.open_source(config, config.eval_split, workdir)
    graphdef, state, mesh = restore_for_inference(config, workdir, pipeline.num_classes(src))
    return final_evaluation(state, src, graphdef, mesh, config, workdir)
