"""Choe et al. (CVPR 2020) on the built-in dataset: CAM, HaS, ACoL, SPG, ADL, CutMix and
the few-shot baseline under the WSOL protocol.

Each method's main hyperparameter is chosen on ``val`` (train-fullsup) from a grid of at
most three values (two here: the default and a neighbour), by MaxBoxAccV2 there (as Choe
et al. choose theirs), on the first seed; the other seeds train the chosen value only (27
trainings instead of 39: about 110 minutes of training on 2 cores). The CAM
threshold is chosen on ``val`` too; every seed's model is scored once on test. Table:
classification error, GT-known accuracy and top-1 localization error at the val-chosen
threshold, MaxBoxAccV2 and PxAP, mean ± half-range over seeds;
figure: the ground-truth class's map of each method's seed-0 model on the same images.

    .venv/bin/python experiments/wsol_methods.py [--config experiments/configs/ablation_shapes.py]
        [--seeds 0 1 2] [--methods cam has ...] [--steps N]

Default config: experiments/configs/wsol_methods_shapes.py (the GAP-vs-GMP recipe at
500 steps: centred classifier input, 10x new-layer rate). A training whose loss turns NaN
is reported as diverged (its value is not chosen; a seed where every value diverged has no
row) instead of stopping the comparison.
"""
from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import common
import protocol
from camjax import engine, viz
from camjax.data import pipeline
from camjax.data.transforms import denormalize_image
from camjax.training import NonFiniteLossError, restore_for_inference

# method: (option, grid): configs/default.py's value (wsolevaluation's default) and one
# neighbour; two values, not three: the 27 trainings already take ~110 minutes on 2 cores.
# HaS hides 16 px patches at 112 px (wsolevaluation's sheet: about a third to two thirds
# of that share of a 224 px image).
GRIDS = {
    "cam": (None, (None,)),
    "has": ("has_drop_rate", (0.25, 0.5)),
    "acol": ("acol_threshold", (0.5, 0.7)),
    "spg": ("spg_thresholds", (((0.5, 0.05), (0.3, 0.1), (0.5, 0.15)),
                               ((0.7, 0.01), (0.5, 0.05), (0.7, 0.1)))),
    "adl": ("adl_drop_rate", (0.5, 0.75)),
    "cutmix": ("cutmix_prob", (0.5, 1.0)),
    "fewshot": ("fewshot_cls_weight", (0.0, 1.0)),
}
# ACoL's branches at the backbone's rate: at 10x both stayed at chance for 450 steps
# (configs/wsol_methods_shapes.py has the pilot numbers)
FIXED = {"has": {"has_grid_size": 16}, "acol": {"new_layer_lr_mult": 1.0}}
NAMES = {"cam": "CAM", "has": "HaS", "acol": "ACoL", "spg": "SPG", "adl": "ADL",
         "cutmix": "CutMix", "fewshot": "few-shot baseline"}
COLUMNS = ("cls top-1 err", "GT-known, val t", "loc top-1 err, val t", "MaxBoxAccV2", "PxAP")


def scores(metrics) -> dict:
    val = protocol.operating_points(metrics)["val_threshold"]["cam"]
    return {"cls top-1 err": metrics["cam"]["cls_top1_err"],
            "GT-known, val t": val["gt_known_acc"], "loc top-1 err, val t": val["loc_top1_err"],
            "MaxBoxAccV2": metrics["wsol_v2"]["max_box_acc_v2"],
            "PxAP": metrics.get("pxap", float("nan"))}


def verdict(per_seed: dict, num_classes: int) -> str:
    """Whether Choe et al.'s finding holds in these numbers, in words: on MaxBoxAccV2 and
    PxAP, which methods are above (below) CAM by more than the larger of the two rows'
    half-ranges over seeds, and whether the few-shot baseline is above every one; first,
    the methods whose classifier stayed at chance on every seed (their maps say nothing
    about the method, only that it did not train in this budget)."""
    if "cam" not in per_seed:
        return "CAM was not run, so there is nothing to compare with."
    chance = 100.0 * (1 - 1 / num_classes)
    at_chance = {m: sum(s["cls top-1 err"] >= chance - 5 for s in per_seed[m])
                 for m in per_seed if m != "fewshot"}
    untrained = [NAMES[m] for m, n in at_chance.items() if n == len(per_seed[m])]
    some = [f"{NAMES[m]} ({n} of {len(per_seed[m])})" for m, n in at_chance.items()
            if 0 < n < len(per_seed[m])]
    caveat = "" if not untrained else (
        f"**Did not train:** {', '.join(untrained)}: classification top-1 error within 5 "
        f"points of chance ({chance:.1f}%) on every seed, so their rows measure an untrained "
        "network, not the method, and the verdict below is void for them.\n\n")
    if some:    # their spread holds an untrained model: wide, and the mean pulled down
        caveat += (f"**Seeds that did not train:** {', '.join(some)}: classification error "
                   "within 5 points of chance there; those seeds are in the mean and the "
                   "spread.\n\n")

    def stats(method, column):
        v = np.asarray([s[column] for s in per_seed[method]], np.float64)
        return v.mean(), (v.max() - v.min()) / 2

    wsol = [m for m in per_seed if m not in ("cam", "fewshot")]
    lines, holds = [], True
    for column in ("MaxBoxAccV2", "PxAP"):
        cam, cam_spread = stats("cam", column)
        def apart(m, sign):
            mean, spread = stats(m, column)
            return sign * (mean - cam) > max(spread, cam_spread)
        def named(ms):   # with the difference from CAM in points, so its size shows
            return [f"{NAMES[m]} ({stats(m, column)[0] - cam:+.1f})" for m in ms]
        above = named(m for m in wsol if apart(m, 1))
        below = named(m for m in wsol if apart(m, -1))
        line = (f"- {column}: CAM {cam:.1f}; above CAM by more than the seeds' spread: "
                f"{', '.join(above) or 'none'}; below it: {', '.join(below) or 'none'}")
        if "fewshot" in per_seed:
            few, few_spread = stats("fewshot", column)
            beaten = [NAMES[m] for m in ["cam", *wsol]
                      if few - stats(m, column)[0] <= max(few_spread, stats(m, column)[1])]
            line += (f"; the few-shot baseline {few:.1f}, above every method"
                     + (" by more than the spread" if not beaten else
                        f" except (within the spread or above it) {', '.join(beaten)}"))
            holds &= not beaten
        holds &= not above
        lines.append(line + ".")
    if untrained:
        holds = False
    head = caveat + (
        "Choe et al.'s finding **holds here**: no method is above CAM by more than the "
        "seeds' spread, and the few-shot baseline is above them all." if holds else
        "Choe et al.'s finding **is not shown here in full**; per metric:")
    return head + "\n\n" + "\n".join(lines)


SETTING = """What differs from Choe et al.'s setting: a 9-layer tiny_gap trained from scratch on
the built-in camjax_shapes (12 synthetic shape classes at 112 px, {steps} steps of 64
images, the classifier's input centred over the batch so that GAP trains from scratch in
that budget) instead of ImageNet-pretrained VGG16 / InceptionV3 / ResNet50
fine-tuned on CUB, ILSVRC and OpenImages; two values per method's main hyperparameter,
chosen on the first seed, instead of their 30-trial random search over several
hyperparameters; val (train-fullsup) has 500 images here, about 42 a class, against their
5 (CUB), 10 (ILSVRC) or 25 (OpenImages) a class, which favours the few-shot baseline."""


def choose(args, method: str, seed: int, grid=None):
    """Train the method's ``grid`` (its whole grid by default) for one seed; (value chosen
    on val, its test metrics, its config and workdir, the minutes the grid's models trained,
    the val MaxBoxAccV2 of each value)."""
    option, full_grid = GRIDS[method]
    grid = full_grid if grid is None else grid
    tried, diverged = [], []
    for value in grid:
        overrides = {"wsol_method": method, "seed": seed, **FIXED.get(method, {})}
        if option:
            overrides[option] = value
        tag = "" if option is None else f"{option}={value}".replace(" ", "")
        try:
            config, metrics, workdir = common.trained(args, ("wsol", method, tag, f"s{seed}"),
                                                      **overrides)
        except NonFiniteLossError as e:      # a result of the method, not a crash
            print(f"{NAMES[method]}, seed {seed}, {tag or 'default'}: diverged: {e}")
            diverged.append((value, "diverged"))
            continue
        tried.append((metrics["val"]["max_box_acc_v2"], value, metrics, config, workdir))
    scored = [(v, round(s, 2)) for s, v, *_ in tried] + diverged
    # the models' own training time, recorded in the cache (a rerun from it reports it too)
    minutes = sum(common.train_seconds(w) for *_, w in tried) / 60
    if not tried:
        return None, None, None, None, minutes, scored
    best = max(tried, key=lambda t: t[0])
    return best[1], best[2], best[3], best[4], minutes, scored


def maps_of(config, workdir, images, labels, num_classes):
    """The ground-truth class's normalised maps at image size (the evaluation's)."""
    graphdef, state, _ = restore_for_inference(config, workdir, num_classes)
    _, _, maps = engine.predict(graphdef, (state.params, state.rest), jnp.asarray(images),
                                jnp.asarray(labels), k=0, upsample=config.upsample,
                                normalize=config.normalize)
    return np.asarray(jax.device_get(maps))[:, 0]


def main():
    p = common.parser(__doc__.splitlines()[0],
                      config=common.REPO / "experiments" / "configs" / "wsol_methods_shapes.py")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", choices=list(GRIDS), default=list(GRIDS))
    p.add_argument("--figure-images", type=int, default=6)
    args = p.parse_args()
    base = common.load_config(args.config)
    common.require_val_split(base)                       # before any training
    t0 = time.perf_counter()
    out = common.results_dir(args, "wsol_methods")
    _, test_src = common.sources(base)
    num_classes = pipeline.num_classes(test_src)
    batch = next(pipeline.eval_batches(test_src, base, limit=args.figure_images))[1]
    images, labels = batch["image"][:args.figure_images], batch["label"][:args.figure_images]
    # seed-major: a run stopped early still has every method on its first seeds
    per_seed, figure, chosen, chosen_lines = {m: [] for m in args.methods}, {}, {}, []
    trainings, training = 0, 0.0
    for seed in args.seeds:
        for method in args.methods:
            # the grid on the first seed; the value it chose on the others
            value, metrics, config, workdir, minutes, tried = choose(
                args, method, seed, (chosen[method],) if method in chosen else None)
            chosen_lines.append(f"- {NAMES[method]}, seed {seed}: val MaxBoxAccV2 {tried}"
                                f" -> {value if metrics else 'no model (every value diverged)'}"
                                f" ({minutes:.1f} min of training)")
            trainings += len(tried)
            training += minutes
            if metrics is None:
                continue
            chosen.setdefault(method, value)
            per_seed[method].append(scores(metrics))
            figure.setdefault(method, (config, workdir))
    per_seed = {m: v for m, v in per_seed.items() if v}
    rows, panels, titles = [], [], []
    for method in per_seed:
        rows.append([NAMES[method]] + [common.mean_spread([s[c] for s in per_seed[method]])
                                       for c in COLUMNS])
        maps = maps_of(*figure[method], images, labels, num_classes)
        for image, m in zip(images, maps):
            panels.append(viz.overlay(denormalize_image(image), m))
            titles.append("")
    table = common.markdown_table(["method", *COLUMNS], rows)
    viz.titled_grid(out / "maps.png", panels, titles, ncols=len(images),
                    row_labels=[NAMES[m] for m in per_seed])
    body = f"""Seeds {args.seeds}; {base.num_train_steps if not args.steps else args.steps} steps
of {base.batch_size} images each ({base.model}, {base.dataset}). Each method's hyperparameter
chosen on val by MaxBoxAccV2 on seed {args.seeds[0]} (the other seeds train that value), then
one test evaluation per seed; errors and accuracies in %, mean ±
half-range over seeds. The few-shot baseline trains on val's boxes only.

{table}

Hyperparameter choices ({trainings} trainings, {training:.0f} min of training in all on
{os.cpu_count()} CPU cores):

{chr(10).join(chosen_lines)}

![maps](maps.png)

## Reading

{verdict(per_seed, num_classes)}

{SETTING.format(steps=args.steps or base.num_train_steps)}
"""
    common.write_results(out, "WSOL methods under the protocol (Choe et al., CVPR 2020)",
                         body, seconds=time.perf_counter() - t0, config=base)


if __name__ == "__main__":
    main()
