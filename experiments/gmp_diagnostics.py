"""Why does a GMP head train slower than a GAP head? Short runs with probes.

Trains ``config`` (default: the ablation base) with camjax's own model, optimiser and
jitted train step for ``--steps`` steps, and every ``--probe-every`` steps measures, on
the batch just trained on (train mode, nothing updated):

* gradient and parameter norms per layer group (backbone layers, CAM conv, classifier)
  and the norm of the gradient reaching the CAM feature map (how many positions get one);
* the pooled features: mean, std over the batch, the ratio of between-class to
  within-class variance (do they carry the label?), dead channels, how many distinct
  spatial positions win the max of an image's channels and how many of them lie on the
  map's border, max / mean of each map (how peaked);
* the logits' scale, the loss and the batch accuracy.

Then the top-1 error on the first ``--eval-images`` test images. Each run is one
``--run NAME:key=value,...`` (config keys; ``kw.K=V`` sets model_kwargs[K]; ``diag.K=V``
the probes of :func:`gmp_probes.apply_probes`: ``head`` 'lse' (with ``r``) or
'pooled_bn', ``init_scale``); results go to ``--out`` as JSON and a figure comparing the
runs (``--replot`` adds saved runs to it). The probes are in gmp_probes.py.

    nice -n 10 python experiments/gmp_diagnostics.py --steps 300 \\
        --run "gmp_before:pooling='gmp',kw.center_pooled=False,new_layer_lr_mult=1.0" \\
        --run "gmp_after:pooling='gmp'" --out /tmp/gmp_runs/diag

(the ablation config holds the recipe that trains GMP; FINDINGS.md lists the runs made).
"""
from __future__ import annotations

import argparse
import ast
import json
import time
from pathlib import Path

import common  # noqa: F401  (sys.path, CAMJAX_DATA_DIR)
import jax
import numpy as np

from camjax.data import pipeline, train_stream
from camjax.training import evaluate, mesh as mesh_lib, state as state_lib
from gmp_probes import apply_probes, probe


def parse_run(text: str) -> tuple[str, dict, dict]:
    """'NAME:key=value,kw.k=value,diag.k=value' -> (NAME, config overrides, head probes);
    values are Python literals."""
    name, _, body = text.partition(":")
    overrides, kwargs, diag = {}, {}, {}
    for item in filter(None, body.split(",")):
        key, _, value = item.partition("=")
        value = ast.literal_eval(value)
        if key.startswith("kw."):
            kwargs[key[3:]] = value
        elif key.startswith("diag."):
            diag[key[5:]] = value
        else:
            overrides[key] = value
    if kwargs:
        overrides["model_kwargs"] = kwargs
    return name, overrides, diag


def to_float(tree):
    return jax.tree.map(lambda v: float(v), jax.device_get(tree))


def run_one(args, name: str, overrides: dict, diag: dict) -> dict:
    config = common.load_config(args.config, num_train_steps=args.steps, **overrides)
    train_src, eval_src = common.sources(config)
    num_classes = pipeline.num_classes(train_src)
    mesh = mesh_lib.data_mesh()
    model = apply_probes(state_lib.build_model(config, num_classes), diag, num_classes)
    setup = state_lib.initial_state(model, config, mesh)
    train_step = state_lib.compile_train_step(setup.train_graphdef, setup.tx, mesh, config)
    data_iter = train_stream.train_iterator(train_src, config, seed=config.seed)
    state, losses, probes = setup.state, [], []
    t0 = time.perf_counter()
    for step in range(1, config.num_train_steps + 1):
        batch = mesh_lib.global_batch(mesh, next(data_iter))
        if step == 1 or step % args.probe_every == 0:
            # before the update: the statistics of the model that this batch trains
            p = to_float(probe(state.params, state.rest, batch["image"], batch["label"],
                               graphdef=setup.train_graphdef, num_classes=num_classes))
            p["step"] = step - 1
            p["lr"] = float(setup.schedule(step - 1)) * config.get("new_layer_lr_mult", 1.0)
            p["lr_sharpness"] = p["lr"] * p["head_sharpness"]
            probes.append(p)
            print(f"[{name}] step {step - 1:4d} loss {p['loss']:.3f} acc {p['accuracy']:.2f} "
                  f"grad cam {p['grad']['cam_conv']:.3g} head {p['grad']['head']:.3g} "
                  f"bb0 {p['grad']['backbone.0']:.3g} fisher {p['fisher']:.3f} "
                  f"mode {p['pred_mode_frac']:.2f} lr*sharp {p['lr'] * p['head_sharpness']:.2f} "
                  f"logit_std {p['logit_std']:.3f}",
                  flush=True)
        state, metrics = train_step(state, batch)
        losses.append(float(metrics["loss"]))
    seconds = time.perf_counter() - t0
    batches = pipeline.eval_batches(eval_src, config, with_boxes=False, limit=args.eval_images)
    cls = evaluate.classification(state.params, state.rest, batches,
                                  graphdef=setup.eval_graphdef, mesh=mesh, config=config,
                                  num_classes=num_classes)
    record = {"name": name, "overrides": overrides, "diag": diag, "steps": config.num_train_steps,
              "train_seconds": seconds, "losses": losses, "probes": probes,
              "final_loss": float(np.mean(losses[-20:])), **cls}
    print(f"[{name}] {config.num_train_steps} steps in {seconds / 60:.1f} min: top-1 err "
          f"{cls['cls_top1_err']:.1f}% on {cls['num_images']} images, "
          f"loss (last 20) {record['final_loss']:.3f}", flush=True)
    return record


PANELS = [("train loss (10-step mean)", None), ("grad norm: CAM conv", ("grad", "cam_conv")),
          ("grad norm: first conv", ("grad", "backbone.0")),
          ("classifier input: mean", ("pooled_mean",)),
          ("classifier input: std over images", ("pooled_std_batch",)),
          ("classifier input: between/within-class var", ("fisher",)),
          ("CAM features: fraction of positions > 0", ("active_positions",)),
          ("share of the batch given the top class", ("pred_mode_frac",)),
          ("classifier lr x sharpness (unstable > 3.8)", ("lr_sharpness",))]


def plot(records: list, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(3, 3, figsize=(13, 10))
    for ax, (title, key) in zip(axes.flat, PANELS):
        for i, r in enumerate(records):
            if key is None:
                loss = np.convolve(r["losses"], np.ones(10) / 10, mode="valid")
                ax.plot(np.arange(len(loss)) + 10, loss, label=r["name"], color=f"C{i}")
                continue
            points = []
            for p in r["probes"]:
                v = p
                for k in key:
                    v = v.get(k) if isinstance(v, dict) else None
                if v is not None:
                    points.append((p["step"], v))
            if points:
                ax.plot(*zip(*points), label=r["name"], color=f"C{i}")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        if key is None:
            ax.set_ylim(0, 4)     # a diverging run would hide the others
        if key and key[0] in ("grad", "lr_sharpness"):
            ax.set_yscale("log")
        if key == ("lr_sharpness",):   # SGD momentum 0.9: stable while lr * lambda < 2 (1 + 0.9)
            ax.axhline(3.8, color="k", lw=0.8, ls="--")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(common.DEFAULT_CONFIG))
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--probe-every", type=int, default=10)
    p.add_argument("--eval-images", type=int, default=500)
    p.add_argument("--run", action="append", default=[], help="NAME:key=value,...")
    p.add_argument("--replot", nargs="+", default=[], metavar="JSON",
                   help="also plot these saved runs (no training)")
    p.add_argument("--out", default="/tmp/gmp_runs/diagnostics")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = [json.loads(Path(f).read_text()) for f in args.replot]
    for text in args.run:
        name, overrides, diag = parse_run(text)
        record = run_one(args, name, overrides, diag)
        (out / f"{name}.json").write_text(json.dumps(record, indent=1))
        records.append(record)
    plot(records, out / "diagnostics.png")
    for r in records:
        print(f"| {r['name']} | {r['overrides']} {r.get('diag', {})} | {r['steps']} | "
              f"{r['cls_top1_err']:.1f} | {r['final_loss']:.3f} | "
              f"{r['train_seconds'] / 60:.1f} |")


if __name__ == "__main__":
    main()
