"""Experiment 1 (paper section 3.2, Table 1/2 discussion): global average vs global max pooling.

The same network trained with GAP and with GMP, several seeds each; classification
error, localization (top-1 / top-5 error, GT-known), MaxBoxAccV2, PxAP and the area of
the paper-rule box relative to the ground-truth box; a figure of CAMs side by side.

    .venv/bin/python experiments/gap_vs_gmp.py [--config experiments/configs/ablation_shapes.py]
        [--seeds 0 1 2] [--steps N]
"""
from __future__ import annotations

import time

import numpy as np

import common
from camjax import viz
from camjax.boxes import largest_component_boxes

COLUMNS = [("cls top-1 err", ("cam", "cls_top1_err")), ("cls top-5 err", ("cam", "cls_top5_err")),
           ("loc top-1 err", ("cam", "loc_top1_err")), ("loc top-5 err", ("cam", "loc_top5_err")),
           ("GT-known acc", ("cam", "gt_known_acc")),
           ("MaxBoxAccV2", ("wsol_v2", "max_box_acc_v2")), ("PxAP", ("pxap",))]


def pick(metrics, path):
    for key in path:
        metrics = metrics[key]
    return float(metrics)


def caveat(rows, chance: float) -> str:
    """A sentence when a pooling's classifier did not get clear of chance: then the table
    compares how fast each pooling trains, not localization at equal accuracy."""
    stuck = [pl.upper() for pl, v in rows.items() if np.mean(v["cls top-1 err"]) > chance - 10]
    if not stuck:
        return ""
    return (f"\n{' and '.join(stuck)} stayed within 10 points of chance (top-1 error "
            f"{chance:.1f}% for this many classes) in this training budget, so its maps "
            "carry little class evidence: at this budget the table measures how fast each "
            "pooling trains, not localization at equal accuracy. Pass `--steps` for longer "
            "runs.")


def main():
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args()
    t0 = time.perf_counter()
    out = common.results_dir(args, "gap_vs_gmp")
    rows, per_seed, shown, train_s = {}, [], {}, {}
    for pooling in ("gap", "gmp"):
        values = {name: [] for name, _ in COLUMNS}
        values["box area / GT area"] = []
        for seed in args.seeds:
            config, metrics, workdir = common.trained(args, (pooling, f"s{seed}"),
                                                      pooling=pooling, seed=seed)
            train_s[(pooling, seed)] = common.train_seconds(workdir)
            for name, path in COLUMNS:
                values[name].append(pick(metrics, path))
            _, eval_src = common.sources(config)
            model = common.load_model(config, workdir, common.num_classes_of(config))
            data = common.collect(model, config, eval_src, limit=args.eval_images)
            boxes = largest_component_boxes(data["maps"][:, 0], threshold=config.cam_threshold)
            ratio = common.area_ratio(boxes, data["gt"])
            values["box area / GT area"].append(float(ratio.mean()))
            per_seed.append([pooling.upper(), seed] + [f"{values[n][-1]:.2f}" for n in values]
                            + [f"{train_s[(pooling, seed)] / 60:.1f}"])
            if seed == args.seeds[0]:
                shown[pooling] = (data, boxes)
        rows[pooling] = values
    names = list(rows["gap"])
    table = common.markdown_table(
        ["pooling"] + names,
        [[pl.upper()] + [common.mean_spread(rows[pl][n]) for n in names] for pl in rows])
    seeds_table = common.markdown_table(["pooling", "seed"] + names + ["train min"], per_seed)

    # figure: the same test images, GAP vs GMP, label-class CAM + paper box (red), GT (green)
    idx = np.arange(8)
    panels, titles = [], []
    for pooling in ("gap", "gmp"):
        data, boxes = shown[pooling]
        for i in idx:
            panel = viz.localization_panel(data["image"][i], data["maps"][i, 0], boxes[i],
                                           data["gt"][i])
            panels.append(viz.upscale(panel, 2))
            ok = common.box_iou(boxes[i][None], [data["gt"][i]])[0]
            titles.append(f"{pooling.upper()} IoU {ok:.2f}")
    viz.titled_grid(out / "cams_gap_vs_gmp.png", panels, titles, ncols=len(idx),
                    row_labels=["GAP", "GMP"],
                    suptitle="CAM of the true class, box at 20% of max (red), ground truth (green)")

    g, m = rows["gap"], rows["gmp"]
    chance = 100 * (1 - 1 / common.num_classes_of(config))
    d = {n: np.mean(g[n]) - np.mean(m[n]) for n in names}
    body = f"""Seeds: {', '.join(map(str, args.seeds))} per pooling. Test split, {int(rows and
len(shown['gap'][0]['label']))} images. Errors and accuracies in %; mean ± half the range over
seeds. "box area / GT area": mean over images of the area of the paper-rule box (largest
component above 20% of the true class's CAM max) divided by the ground-truth box area.

{table}

Per seed:

{seeds_table}

![GAP vs GMP CAMs](cams_gap_vs_gmp.png)

## Reading

Paper (section 3.2 / Table 2): GAP and GMP give similar classification, GAP localizes
better because the average rewards every discriminative part while the max rewards one
point (GMP maps cover a smaller part of the object).

Here (GAP minus GMP, means over seeds): classification top-1 error {d['cls top-1 err']:+.2f},
localization top-1 error {d['loc top-1 err']:+.2f}, GT-known accuracy {d['GT-known acc']:+.2f},
MaxBoxAccV2 {d['MaxBoxAccV2']:+.2f}, PxAP {d['PxAP']:+.2f} points; box area ratio GAP
{np.mean(g['box area / GT area']):.2f} vs GMP {np.mean(m['box area / GT area']):.2f}.
{caveat(rows, chance)}
"""
    common.write_results(out, "GAP vs GMP", body, seconds=time.perf_counter() - t0,
                         config=config)


if __name__ == "__main__":
    main()
