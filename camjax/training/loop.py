"""train_and_evaluate(config, workdir): the whole job as one testable function."""
from __future__ import annotations

import functools
import json
import signal
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from camjax import models
from camjax.data import pipeline
from camjax.evaluation import runner
from camjax.training import checkpoint, mesh as mesh_lib, optim, step as step_lib


class NonFiniteLossError(RuntimeError):
    pass


class MetricsWriter:
    """metrics.jsonl (one object per logged step) and TensorBoard events, process 0 only.

    On resume, lines past the restored step are dropped: they came from work the
    checkpoint does not hold and will be logged again, identically.
    """

    def __init__(self, workdir: Path, start_step: int, enabled: bool):
        self.enabled = enabled
        if not enabled:
            return
        self.path = workdir / "metrics.jsonl"
        if self.path.exists():
            keep = [ln for ln in self.path.read_text().splitlines()
                    if ln.strip() and json.loads(ln)["step"] <= start_step]
            self.path.write_text("".join(ln + "\n" for ln in keep))
        from tensorboardX import SummaryWriter
        self.tb = SummaryWriter(str(workdir / "tensorboard"))

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        for key, value in record.items():
            if key != "step":
                self.tb.add_scalar(f"train/{key}", value, record["step"])
        self.tb.flush()


class StopRequest:
    """SIGTERM / SIGINT (preemption) set a flag; the loop saves and exits cleanly."""

    def __init__(self):
        self.requested = False
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:   # not the main thread: no signal handling
                pass
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def build_model(config, num_classes: int) -> nnx.Module:
    model = models.create(config.model, num_classes=num_classes, pooling=config.pooling,
                          rngs=nnx.Rngs(config.seed), **config.get("model_kwargs", {}))
    if config.get("pretrained"):
        report = models.load_pretrained(model, config.pretrained)
        print(f"pretrained: {report}")
    return model


def initial_state(model, config, mesh):
    """(train graphdef, eval graphdef, replicated TrainState, optimiser, lr schedule)."""
    model.train()
    train_graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    model.eval()
    eval_graphdef = nnx.graphdef(model)
    tx, schedule = optim.make_optimizer(config, params)
    state = step_lib.TrainState(step=jnp.zeros((), jnp.int32), params=params, rest=rest,
                                opt_state=tx.init(params))
    state = jax.device_put(state, mesh_lib.replicated(mesh))
    return train_graphdef, eval_graphdef, state, tx, schedule


def compile_train_step(train_graphdef, tx, mesh, config):
    repl, data = mesh_lib.replicated(mesh), mesh_lib.batch_sharded(mesh)
    dtype = jnp.bfloat16 if config.get("compute_dtype", "float32") == "bfloat16" else jnp.float32
    fn = functools.partial(step_lib.train_step, graphdef=train_graphdef, tx=tx,
                           compute_dtype=dtype)
    return jax.jit(fn, in_shardings=(repl, data), out_shardings=(repl, repl), donate_argnums=0)


def _check_finite(losses: list, first_step: int) -> None:
    values = np.asarray(jax.device_get(losses))
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise NonFiniteLossError(
            f"loss became {values[bad[0]]} at step {first_step + int(bad[0])}; training stopped, "
            "the last good checkpoint is kept (lower the learning rate or check the data)")


def train_and_evaluate(config, workdir) -> dict:
    """Train ``config`` in ``workdir`` (resuming from its latest checkpoint), then evaluate.

    Returns the final evaluation metrics (see ``camjax.evaluation.runner.evaluate``).
    """
    mesh_lib.maybe_initialize_distributed(config)
    workdir = Path(workdir).absolute()
    main = mesh_lib.is_main_process()
    workdir.mkdir(parents=True, exist_ok=True)
    mesh = mesh_lib.data_mesh()
    mesh_lib.check_batch_size(config.batch_size)
    mesh_lib.check_batch_size(config.eval_batch_size, "eval_batch_size")

    ddir = pipeline.data_dir(config, workdir)
    if main:
        pipeline.prepare(config.dataset, ddir)
    _barrier("prepare")
    train_src = pipeline.source(config.dataset, config.train_split, ddir)
    eval_src = pipeline.source(config.dataset, config.eval_split, ddir)
    model = build_model(config, pipeline.num_classes(train_src))
    train_graphdef, eval_graphdef, state, tx, schedule = initial_state(model, config, mesh)
    train_step = compile_train_step(train_graphdef, tx, mesh, config)
    data_iter = pipeline.train_iterator(train_src, config, seed=config.seed)

    mngr = checkpoint.manager(workdir, max_to_keep=config.get("keep_checkpoints", 3))
    if mngr.latest_step() is not None:
        target = checkpoint.abstract(state, mesh_lib.replicated(mesh))
        state, data_state, _ = checkpoint.restore(mngr, target)
        data_iter.set_state(data_state)
        if main:
            print(f"resumed from {mngr.directory}/{int(state.step)}")
    start = int(state.step)
    if main:
        save_run_info(workdir, config, eval_src)
    writer = MetricsWriter(workdir, start, main)
    meta = {"model": config.model, "dataset": config.dataset, "pooling": config.pooling}

    total = config.num_train_steps
    bar = tqdm(total=(total - start) * config.batch_size, unit="img", unit_scale=True,
               desc="train", disable=not main, smoothing=0.1)
    pending, pending_from = [], start + 1
    t_log, seen = time.perf_counter(), 0
    with StopRequest() as stop:
        for step in range(start + 1, total + 1):
            batch = mesh_lib.global_batch(mesh, next(data_iter))
            state, metrics = train_step(state, batch)
            pending.append(metrics["loss"])
            bar.update(config.batch_size)
            seen += config.batch_size
            last = step == total
            log_now = step % config.log_every_steps == 0 or last
            save_now = step % config.checkpoint_every_steps == 0 or last or stop.requested
            if log_now or save_now:
                _check_finite(pending, pending_from)
                pending, pending_from = [], step + 1
            if log_now:
                now = time.perf_counter()
                record = {"step": step, "loss": float(metrics["loss"]),
                          "accuracy": float(metrics["accuracy"]),
                          "learning_rate": float(schedule(step - 1)),
                          "images_per_s": seen / (now - t_log)}
                t_log, seen = now, 0
                writer.write(record)
                bar.set_postfix(step=step, loss=f"{record['loss']:.3f}",
                                lr=f"{record['learning_rate']:.2g}")
            if save_now:
                checkpoint.save(mngr, step, state, data_iter.get_state(), meta, force=True)
            if stop.requested:
                mngr.wait_until_finished()
                bar.close()
                if main:
                    print(f"stop requested: checkpoint saved at step {step}; rerun to resume")
                return {"stopped_at": step}
            if config.eval_every_steps and step % config.eval_every_steps == 0 and not last:
                _evaluate_and_log(state, eval_src, eval_graphdef, mesh, config, workdir, step,
                                  limit=config.get("eval_during_training_images", 1000))
    bar.close()
    mngr.wait_until_finished()
    return final_evaluation(state, eval_src, eval_graphdef, mesh, config, workdir)


def _barrier(name: str) -> None:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices(name)


def _evaluate_and_log(state, src, graphdef, mesh, config, workdir, step, limit=None):
    batches = pipeline.eval_batches(src, config, limit=limit)
    metrics, _ = runner.evaluate(state.params, state.rest, batches, graphdef=graphdef,
                                 mesh=mesh, config=config, gallery_size=0)
    if mesh_lib.is_main_process():
        with (workdir / "eval_history.jsonl").open("a") as f:
            f.write(json.dumps({"step": step, **metrics["cam"]}) + "\n")
    return metrics


def final_evaluation(state, src, graphdef, mesh, config, workdir) -> dict:
    """Evaluate the split, write workdir/eval/metrics.json and the report (process 0)."""
    n = len(src)
    steps = -(-(-(-n // jax.process_count())) // (config.eval_batch_size // jax.process_count()))
    metrics, gallery = runner.evaluate(state.params, state.rest, pipeline.eval_batches(src, config),
                                       graphdef=graphdef, mesh=mesh, config=config,
                                       num_batches=steps)
    metrics["step"] = int(state.step)
    if mesh_lib.is_main_process():
        from camjax import report
        report.write(workdir / "eval", metrics, gallery, config,
                     class_names=src.dataset_info.features["label"].names)
    return metrics


def save_run_info(workdir: Path, config, src) -> None:
    """config.json and class_names.json: what ``camjax localize`` needs to rebuild the model."""
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))
    names = src.dataset_info.features["label"].names
    (workdir / "class_names.json").write_text(json.dumps(names))


def restore_for_inference(config, workdir, num_classes: int):
    """(eval graphdef, state, mesh) of a workdir's latest checkpoint."""
    mesh = mesh_lib.data_mesh()
    model = models.create(config.model, num_classes=num_classes, pooling=config.pooling,
                          rngs=nnx.Rngs(config.seed), **config.get("model_kwargs", {}))
    _, eval_graphdef, state, _, _ = initial_state(model, config, mesh)
    mngr = checkpoint.manager(workdir)
    if mngr.latest_step() is None:
        raise checkpoint.CheckpointError(f"no checkpoint in {mngr.directory}: train first "
                                         f"(camjax train --workdir {workdir})")
    state, _, _ = checkpoint.restore(mngr, checkpoint.abstract(state, mesh_lib.replicated(mesh)))
    return eval_graphdef, state, mesh


def evaluate_workdir(config, workdir) -> dict:
    """``camjax evaluate``: restore the latest checkpoint and evaluate config.eval_split."""
    mesh_lib.maybe_initialize_distributed(config)
    workdir = Path(workdir).absolute()
    mesh_lib.check_batch_size(config.eval_batch_size, "eval_batch_size")
    src = pipeline.source(config.dataset, config.eval_split, pipeline.data_dir(config, workdir))
    graphdef, state, mesh = restore_for_inference(config, workdir, pipeline.num_classes(src))
    return final_evaluation(state, src, graphdef, mesh, config, workdir)
