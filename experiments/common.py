"""Shared helpers of the ablation scripts: configs, cached training, batched inference,
metrics from collected maps, and writing results (markdown + the command line).

Workdirs (checkpoints, metrics) live in ``$CAMJAX_EXPERIMENTS_CACHE`` (default
``.cache/experiments``, outside git); a model whose workdir already holds a finished
run of the same config is not retrained. Only tables, plots and commands go under
``experiments/results/<name>/``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import sys
import time
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("CAMJAX_DATA_DIR", str(REPO / ".cache" / "tfds"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

from camjax import config as config_lib, engine  # noqa: E402
from camjax.data import pipeline  # noqa: E402
from camjax.data.transforms import denormalize_image  # noqa: E402
from camjax.geometry import iou  # noqa: E402
from camjax.models import class_weights  # noqa: E402
from camjax.models.heads import global_pool  # noqa: E402

CACHE = Path(os.environ.get("CAMJAX_EXPERIMENTS_CACHE", REPO / ".cache" / "experiments"))
RESULTS = REPO / "experiments" / "results"
DEFAULT_CONFIG = REPO / "experiments" / "configs" / "ablation_shapes.py"


# ----------------------------------------------------------------------------- CLI, config
def parser(description: str, config=DEFAULT_CONFIG) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--config", default=str(Path(config).relative_to(REPO)),
                   help="ml_collections config the runs start from (default: %(default)s)")
    p.add_argument("--out", default=None, help="results folder (default experiments/results/NAME)")
    p.add_argument("--eval-images", type=int, default=1000,
                   help="evaluate on the first N images of config.eval_split")
    p.add_argument("--steps", type=int, default=None, help="override config.num_train_steps")
    return p


def load_config(path, **overrides):
    """The config file with ``overrides`` (``model_kwargs`` a dict) applied, unlocked."""
    path = Path(path)
    config = config_lib.load(path if path.is_absolute() else REPO / path)
    config.unlock()
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "model_kwargs":
            for k, v in dict(value).items():
                config.model_kwargs[k] = v
        else:
            config[key] = value
    if overrides.get("num_train_steps") and config.warmup_steps >= config.num_train_steps:
        # a shortened run (--steps) keeps the warm-up's share of the recipe, as the
        # configs' own warm-up is a share of their steps; a warm-up >= the steps is refused
        config.warmup_steps = config.num_train_steps // 10
    return config


def config_key(config) -> str:
    return hashlib.sha1(config.to_json_best_effort(sort_keys=True).encode()).hexdigest()[:12]


def results_dir(args, name: str) -> Path:
    out = Path(args.out) if args.out else RESULTS / name
    out.mkdir(parents=True, exist_ok=True)
    return out


def command_line() -> str:
    rel = os.path.relpath(sys.argv[0], REPO)
    return " ".join([".venv/bin/python", rel, *map(shlex.quote, sys.argv[1:])])


# ----------------------------------------------------------------------------- data
class Subset:
    """A random-access view of the records of ``src`` at ``indices`` (grain accepts it)."""

    def __init__(self, src, indices):
        self.src, self.indices = src, np.asarray(indices, np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.src[int(self.indices[i])]

    def __getattr__(self, name):       # class_names, has_boxes and friends
        return getattr(self.src, name)


def class_subset(src, classes, tag: str) -> Subset:
    """The records of ``src`` whose label is in ``classes`` (label scan cached on disk)."""
    cache = CACHE / "labels" / f"{tag}.json"
    if cache.is_file():
        labels = np.array(json.loads(cache.read_text()))
    else:
        labels = np.array([int(src[i]["label"]) for i in range(len(src))])
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(labels.tolist()))
    return Subset(src, np.flatnonzero(np.isin(labels, list(classes))))


def sources(config, workdir=None, *, with_val: bool = False):
    """(train, eval) sources of ``config``; ``with_val``: (train, eval, val), the last
    ``config.val_split`` (train-fullsup, with boxes) as the evaluation job opens it."""
    split = partial(pipeline.open_source, config, workdir=workdir or CACHE)
    out = (split(config.train_split, join_annotations=False), split(config.eval_split))
    if with_val:
        require_val_split(config)
        out += (split(config.val_split),)
    return out


def require_val_split(config) -> None:
    """The val-chosen operating point needs ``config.val_split`` (checked before training)."""
    if not config.val_split:
        raise SystemExit(f"config.val_split is empty ({config.dataset}): the val-chosen "
                         "operating point needs a train-fullsup split with boxes (the ablation "
                         "and wsol_* configs have one, the paper's ilsvrc_* / cub_* do not)")


# ----------------------------------------------------------------------------- training
def train(config, name: str, *, data=None) -> tuple[dict, Path]:
    """Train (or reuse) ``config`` in CACHE/name; returns (final metrics, workdir).

    ``data`` optionally replaces the (train, eval) or (train, eval, val) sources, e.g.
    class subsets.
    """
    from camjax.training import train_and_evaluate
    workdir = CACHE / name
    done = workdir / "experiment_done.json"
    key = config_key(config)
    if done.is_file():
        record = json.loads(done.read_text())
        if record["config_key"] == key:
            print(f"[cache] {name}: reusing {workdir} "
                  f"({record['train_seconds']:.0f} s of training)")
            return record["metrics"], workdir
    # A run stopped by a signal resumes from its checkpoint when the config is the same.
    started = workdir / "experiment_key"
    if workdir.exists() and not (started.is_file() and started.read_text() == key):
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    started.write_text(key)
    t0 = time.perf_counter()
    metrics = train_and_evaluate(config, workdir, data=data)
    seconds = time.perf_counter() - t0
    if "stopped_at" in metrics:   # preempted: not a finished model, nothing to cache
        raise SystemExit(f"{name}: {metrics['signal']} at step {metrics['stopped_at']}; "
                         "run the same command again to resume")
    metrics = json.loads(json.dumps(metrics, default=float))
    done.write_text(json.dumps({"config_key": key, "train_seconds": seconds,
                                "metrics": metrics}, indent=1))
    return metrics, workdir


def train_seconds(workdir) -> float:
    return json.loads((Path(workdir) / "experiment_done.json").read_text())["train_seconds"]


def load_model(config, workdir, num_classes: int) -> nnx.Module:
    from camjax.training import restore_for_inference
    graphdef, state, _ = restore_for_inference(config, workdir, num_classes)
    model = nnx.merge(graphdef, jax.device_get(state.params), jax.device_get(state.rest))
    model.eval()
    return model


# ----------------------------------------------------------------------------- inference
@partial(jax.jit, static_argnames=("graphdef",))
def _features(graphdef, state, images):
    """(pooled (B, K), features (B, h, w, K)) of the model's final conv maps."""
    model = nnx.merge(graphdef, state)
    _, features = model(images)
    return global_pool(features, model.head.pooling), features


def collect(model, config, src, *, limit=None, keep_features: bool = False, k: int = 5) -> dict:
    """Run ``model`` over ``src`` (eval transforms) and keep what the ablations need.

    Returns numpy arrays: ``image`` uint8, ``label``, ``gt`` (list of (n, 4)), ``mask``,
    ``logits``, ``top`` (N, k), ``pooled`` (N, K), ``maps`` (N, 4, H, W) normalised CAMs of
    [label, top-1, top-2, top-3] at image size, ``features`` (N, h, w, K) if asked.
    """
    from tqdm.auto import tqdm
    model.eval()
    graphdef, state = nnx.split(model)
    n = len(src) if limit is None else min(limit, len(src))
    out = {key: [] for key in ("image", "label", "gt", "mask", "logits", "top", "pooled",
                               "maps", "features")}
    steps = -(-n // config.eval_batch_size)
    for _, b in tqdm(pipeline.eval_batches(src, config, limit=limit), total=steps,
                     desc="collect", unit="batch"):
        v = b["valid"]
        images = jnp.asarray(b["image"])
        logits, top, maps = jax.device_get(engine.predict(
            graphdef, state, images, jnp.asarray(b["label"]),
            k=min(k, class_weights(model).shape[1]), upsample=config.upsample))
        maps = maps[:, :4]                              # label, top-1..3
        pooled, feats = jax.device_get(_features(graphdef, state, images))
        out["image"].append(denormalize_image(b["image"][v]))
        out["label"].append(b["label"][v])
        out["gt"].extend(g[g[:, 0] >= 0] for g in b["boxes"][v])
        if "mask" in b:
            out["mask"].append(b["mask"][v])
        out["logits"].append(logits[v])
        out["top"].append(top[v])
        out["pooled"].append(pooled[v])
        out["maps"].append(maps[v])
        if keep_features:
            out["features"].append(feats[v])
    return {key: (val if key == "gt" else np.concatenate(val) if val else None)
            for key, val in out.items()}


# ----------------------------------------------------------------------------- metrics
def box_iou(boxes, gt) -> np.ndarray:
    """(N, 4) boxes x list of (n_i, 4) -> (N,) max IoU with the image's GT boxes."""
    return np.array([iou(np.asarray(b)[None], g).max() for b, g in zip(boxes, gt)])


def area_ratio(boxes, gt) -> np.ndarray:
    """Predicted box area / area of the image's (largest) ground-truth box."""
    def area(b):
        b = np.asarray(b).reshape(-1, 4)
        return ((b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)).astype(np.float64)
    return np.array([area(b)[0] / area(g).max() for b, g in zip(boxes, gt)])


def mean_spread(values) -> str:
    """'mean ± half-range' of a list over seeds (one value: just the value)."""
    v = np.asarray(values, np.float64)
    if len(v) == 1:
        return f"{v[0]:.2f}"
    return f"{v.mean():.2f} ± {(v.max() - v.min()) / 2:.2f}"


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def write_results(out: Path, title: str, body: str, *, seconds: float, config) -> Path:
    """README.md of a result folder, ending with the command and the config that made it."""
    text = (f"# {title}\n\n{body.rstrip()}\n\n## How this was produced\n\n"
            f"```\n{command_line()}\n```\n\n"
            f"Base config: `{config.model}` / `{config.dataset}`, {config.num_train_steps} steps x "
            f"{config.batch_size} images, seed(s) as listed; data dir `$CAMJAX_DATA_DIR`; "
            f"workdirs under `.cache/experiments/`. Wall time of this script: "
            f"{seconds / 60:.1f} min on {os.cpu_count()} CPU core(s) "
            f"({jax.devices()[0].platform}), training included unless a cached model was "
            "reused (the training time of each model is listed above).\n")
    path = out / "README.md"
    path.write_text(text)
    (out / "command.txt").write_text(command_line() + "\n")
    print(f"wrote {path}")
    return path


def run_name(args, *parts) -> str:
    """Workdir name: the config file's stem, the step count, then ``parts``."""
    steps = args.steps if args.steps else "cfg"
    return "_".join([Path(args.config).stem, f"st{steps}", *map(str, parts)])


def trained(args, name_parts, **overrides):
    """(config, metrics, workdir) of a model of ``args.config`` + overrides (cached)."""
    config = load_config(args.config, num_train_steps=args.steps, **overrides)
    metrics, workdir = train(config, run_name(args, *name_parts))
    return config, metrics, workdir


def seed_gap_model(args):
    """The GAP model of ``args.config`` and ``args.seed`` (trained if not cached; threshold,
    saliency, class_units and mapping_resolution's 14x14 row share it) and the eval split:
    (config, metrics, workdir, eval source, class names, model)."""
    config, metrics, workdir = trained(args, ("gap", f"s{args.seed}"), pooling="gap",
                                       seed=args.seed)
    _, src = sources(config)
    names = pipeline.class_names(src)
    return config, metrics, workdir, src, names, load_model(config, workdir, len(names))


def num_classes_of(config) -> int:
    return pipeline.num_classes(sources(config)[0])
