"""train_and_evaluate(config, workdir): the whole job as one testable function.

1. ``jax.distributed`` when asked (config.distributed or CAMJAX_COORDINATOR), then one
   ``data`` mesh over every device of every process.
2. Process 0 prepares the dataset; every process opens it and reads its own share.
3. An existing WORKDIR/checkpoints resumes the run: parameters, BatchNorm statistics,
   nnx RNG state, optimiser state, step and each process's data position.
4. The jitted, sharded train step; every ``log_every_steps`` a line in metrics.jsonl and
   TensorBoard; every ``checkpoint_every_steps`` an asynchronous, atomic checkpoint.
   SIGTERM / SIGINT: checkpoint and return. A non-finite loss or gradient: raise
   NonFiniteLossError naming the step; a training image that does not decode:
   BadImageError naming the file and the step (``config.skip_bad_images``: the next image
   is taken instead, counted in metrics.jsonl); the checkpoints before it stay.
5. The final evaluation (localization when the split has boxes).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from camjax import checks, distributed
from camjax.checks.resume import config_changes, run_meta
from camjax.data import pipeline, train_stream
from camjax.training import checkpoint, mesh as mesh_lib
from camjax.training.evaluate import evaluate_split, final_evaluation, history_record
from camjax.errors import ImageError
from camjax.training.hooks import BadImageError, MetricsWriter, StopRequest, check_finite
from camjax.training.state import build_model, compile_train_step, initial_state


def open_data(config, workdir: Path):
    """(train, eval, val) sources, checked before training; val is None without
    ``config.val_split``; train is val for the few-shot baseline. Process 0 prepares
    TFDS datasets first. ``config`` has its splits resolved (``pipeline.with_splits``)."""
    val = pipeline.open_source(config, config.val_split, workdir) if config.val_split else None
    # the few-shot baseline trains on val's boxes or masks (train_stream.trains_on_val)
    train = val if train_stream.trains_on_val(config) else pipeline.open_source(
        config, config.train_split, workdir, join_annotations=False,
        draft_size=train_stream.train_draft_size(config))
    return train, pipeline.open_source(config, config.eval_split, workdir), val


def train_and_evaluate(config, workdir, data=None) -> dict:
    """Train ``config`` in ``workdir`` (resuming from its latest checkpoint), then evaluate.

    ``data``: optional (train, eval) or (train, eval, val) random-access sources (e.g.
    class subsets of a dataset) instead of ``config.dataset``'s splits. Returns the final evaluation
    metrics, or ``{"stopped_at": step, ...}`` when a SIGTERM / SIGINT ended the run early
    (a checkpoint of that step is on disk).
    """
    distributed.maybe_initialize(config.distributed)
    workdir = Path(workdir).absolute()
    main = distributed.is_main_process()
    log = print if main else (lambda *args, **kwargs: None)
    checks.before_training(config, workdir, data_given=data is not None)
    mesh = mesh_lib.data_mesh()
    config, note = pipeline.with_splits(config) if data is None else (config, "")
    train_src, eval_src, val_src = open_data(config, workdir) if data is None \
        else (*data, None)[:3]
    num_classes = pipeline.num_classes(train_src)
    config = checks.with_classes(config, num_classes)
    checks.writable_folder(workdir)   # created once everything above is right

    mngr = checkpoint.manager(workdir, max_to_keep=config.keep_checkpoints)
    data_iter = None
    try:
        resume = mngr.latest_step() is not None
        model = build_model(config, num_classes, load_weights=not resume, log=log)
        setup = initial_state(model, config, mesh)
        del model
        train_step = compile_train_step(setup.train_graphdef, setup.tx, mesh, config)
        data_iter = train_stream.train_iterator(train_src, config, seed=config.seed)
        meta = run_meta(config, num_classes)
        state = setup.state
        if resume:
            target = checkpoint.abstract(state, mesh_lib.replicated(mesh))
            state, data_state, _ = checkpoint.restore(mngr, target, expect=meta)
            try:
                how = train_stream.restore_iterator(data_iter, data_state, int(state.step))
            except ValueError as err:
                raise checkpoint.CheckpointError(str(err)) from err
            log(f"resumed from {mngr.directory}/{int(state.step)} (data position: {how})")
        if main:
            save_run_info(workdir, config, eval_src, log)
        state, stopped, skipped = _train(state, train_step, data_iter, mngr, setup, mesh,
                                         config, workdir, meta, eval_src, log)
    finally:
        try:   # a save in flight completes, even on an error; one that failed is named
            checkpoint.close(mngr, raise_errors=sys.exc_info()[0] is None)
        finally:
            if hasattr(data_iter, "close"):   # grain worker processes, prefetch threads
                data_iter.close()
    if stopped:
        return stopped
    if not config.eval_at_end:
        return {"step": int(state.step)}
    skipped = int(distributed.sum_over_processes(np.array([skipped]))[0])
    return final_evaluation(state, eval_src, setup.eval_graphdef, mesh, config, workdir,
                            val_src=val_src, note=note, skipped_images=skipped)


def _train(state, train_step, data_iter, mngr, setup, mesh, config, workdir, meta,
           eval_src, log):
    """The step loop; returns (state, None or the stop record, training images skipped as
    unreadable)."""
    main = distributed.is_main_process()
    start, total, batch = int(state.step), config.num_train_steps, config.batch_size
    writer = MetricsWriter(workdir, start, main)
    bar = tqdm(total=max(0, total - start) * batch, unit="img", unit_scale=True,
               desc="train", disable=not main, smoothing=0.1)
    pending, t_log, seen, skipped, skipped_since_log = [], time.perf_counter(), 0, 0, 0
    try:
        with StopRequest(config.stop_check_every_steps) as stop:
            for step in range(start + 1, total + 1):
                local = _next_batch(data_iter, step, mngr, log)
                n = _skipped(local, step, log)
                skipped, skipped_since_log = skipped + n, skipped_since_log + n
                state, metrics = train_step(state, mesh_lib.global_batch(mesh, local))
                pending.append((step, metrics))
                bar.update(batch)
                seen += batch
                last = step == total
                stopping = stop.should_stop(step, last)
                log_now = step % config.log_every_steps == 0 or last
                save_now = step % config.checkpoint_every_steps == 0 or last or stopping
                if log_now or save_now:
                    check_finite(pending)
                    checkpoint.check_saves(mngr)   # a failed background save stops here
                    pending = []
                if log_now:
                    now = time.perf_counter()
                    record = {"step": step, "loss": float(metrics["loss"]),
                              "accuracy": float(metrics["accuracy"]),
                              "grad_norm": float(metrics["grad_norm"]),
                              "learning_rate": float(setup.schedule(step - 1)),
                              "images_per_s": seen / max(now - t_log, 1e-9)}
                    if config.skip_bad_images:   # every process's reads (a collective)
                        record["skipped_images"] = int(distributed.sum_over_processes(
                            np.array([skipped_since_log]))[0])
                        skipped_since_log = 0
                    t_log, seen = now, 0
                    writer.write(record)
                    bar.set_postfix(step=step, loss=f"{record['loss']:.3f}",
                                    lr=f"{record['learning_rate']:.2g}")
                if save_now:
                    checkpoint.save(mngr, step, state, data_iter.get_state(), meta)
                if stopping:
                    checkpoint.wait(mngr)
                    log(f"\n{stop.signal_name or 'stop'} received: checkpoint saved at step "
                        f"{step} in {mngr.directory}; run the same command to resume")
                    return state, {"stopped_at": step, "signal": stop.signal_name}, skipped
                if config.eval_every_steps and step % config.eval_every_steps == 0 and not last:
                    metrics_eval, _ = evaluate_split(
                        state, eval_src, setup.eval_graphdef, mesh, config, gallery_size=0,
                        limit=config.eval_during_training_images)
                    if main:
                        with (workdir / "eval_history.jsonl").open("a") as f:
                            f.write(json.dumps(history_record(step, metrics_eval)) + "\n")
    finally:
        bar.close()
        writer.close()
    return state, None, skipped


def _skipped(local: dict, step: int, log) -> int:
    """Pops the ``skipped`` fields of a batch (``config.skip_bad_images``) and names the
    files; returns how many reads were skipped."""
    if "skipped" not in local:
        return 0
    n = int(local.pop("skipped").sum())
    names = sorted({str(f) for f in local.pop("skipped_file") if f})
    if n:
        log(f"\nskipped {n} unreadable image(s) at step {step}: {', '.join(names)} "
            "(config.skip_bad_images)")
    return n


def _next_batch(data_iter, step: int, mngr, log) -> dict:
    """The next local batch; an image that does not decode stops training naming the
    file, the step and the checkpoint to resume from."""
    try:
        return next(data_iter)
    except ImageError as err:
        last = mngr.latest_step()
        kept = (f"the checkpoint of step {last} is kept" if last is not None
                else "no checkpoint was written yet")
        raise BadImageError(f"{err} (read for step {step}): training stopped, {kept}; "
                            "replace or remove the file and run the same command to resume, "
                            "or skip such files with --config.skip_bad_images=True") from None


def save_run_info(workdir: Path, config, src, log=print) -> None:
    """config.json and class_names.json: what ``camjax localize`` needs to rebuild the
    model. A resumed run whose config differs (in keys that do not change what the
    checkpoint means: checks.resume refuses the others) says what it rewrites."""
    path = workdir / "config.json"
    if path.exists():
        changes = config_changes(path.read_text(encoding="utf-8"), config)
        if changes:
            log(f"{path}: updated ({'; '.join(changes)})")
    path.write_text(config.to_json_best_effort(indent=2))
    (workdir / "class_names.json").write_text(json.dumps(pipeline.class_names(src)))
