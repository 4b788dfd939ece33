"""Experiment 3: localization vs the box threshold, and the official box generators.

Reuses the GAP model of gap_vs_gmp.py (seed 0; trained here if missing). The paper rule
(largest connected component above t x max of the CAM) for t = 0.05 .. 0.95, GT-known
accuracy and top-1 localization accuracy, the paper's t = 0.2 marked; then the official
``dt_box`` generator (uint8 heatmap, thresholds 20/100/110, loose and tight box) and the
Table 3 heuristic (``heuristic_boxes``: 5 boxes from the top-3 classes) at their fixed
settings. Next to the paper's 0.2: the threshold the WSOL protocol chooses on val
(``protocol``; the model's final evaluation holds it) and the test optimum of the
0.01 grid (optimistic: chosen on test). Also the paper's Figure 4: the top-5 classes'
CAMs of one image.

    .venv/bin/python experiments/threshold.py [--config experiments/configs/ablation_shapes.py]
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import common
import protocol
from camjax import viz
from camjax.boxes import dt_box, heuristic_boxes, largest_component_boxes
from camjax.boxes.official import OFFICIAL_THRESHOLDS, xywh_to_xyxy
from camjax.engine import explain
from camjax.evaluation.metrics import box_hits, localization_error

THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.05), 2)


def official_boxes(maps_u8) -> np.ndarray:
    """(N, 2, 4): the loose and tight dt_box rectangles of each uint8 map, as xyxy."""
    out = []
    for m in maps_u8:
        rects = dt_box(m, OFFICIAL_THRESHOLDS) or [(0, 0, m.shape[1] - 5, m.shape[0] - 5)]
        rects = (rects + rects[:1])[:2]
        out.append([xywh_to_xyxy(r) for r in rects])
    return np.array(out)


def main():
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    common.require_val_split(common.load_config(args.config))   # before any training
    t0 = time.perf_counter()
    out = common.results_dir(args, "threshold")
    config, metrics, workdir, src, names, model = common.seed_gap_model(args)
    d = common.collect(model, config, src, limit=args.eval_images)
    labels, top, gt = d["label"], d["top"], d["gt"]
    right1 = top[:, 0] == labels

    # paper rule, every threshold in one pass: (N, 2, T, 4) for [label, top-1]
    boxes = largest_component_boxes(d["maps"][:, :2], threshold=THRESHOLDS)
    gt_known, loc1, area = [], [], []
    for t in range(len(THRESHOLDS)):
        hits = box_hits(boxes[:, :, t], gt)                        # (N, 2)
        gt_known.append(100 * hits[:, 0].mean())
        loc1.append(100 * (hits[:, 1] & right1).mean())
        area.append(common.area_ratio(boxes[:, 0, t], gt).mean())
    i20 = int(np.argmin(np.abs(THRESHOLDS - 0.2)))
    # the two choices of t at the protocol's resolution: on val (honest), on test (optimistic)
    fine = np.arange(0, 1, config.cam_curve_interval)
    fine_boxes = largest_component_boxes(d["maps"][:, :2], threshold=fine)
    fine_hits = np.stack([box_hits(fine_boxes[:, :, t], gt) for t in range(len(fine))], 1)
    fine_known = 100 * fine_hits[:, :, 0].mean(0)
    fine_loc1 = 100 * (fine_hits[:, :, 1] & right1[:, None]).mean(0)
    t_best = float(fine[int(np.argmax(fine_known))])
    t_val = protocol.operating_points(metrics)["val_threshold"]["threshold"]
    at = {t: protocol.rule_scores(d["maps"], gt, right1, t) for t in (t_val, t_best)}

    # the official generator on uint8 heatmaps (label map -> GT-known, top-1 map -> loc)
    u8 = np.uint8(np.clip(d["maps"], 0, 1) * 255)
    off_label, off_top1 = official_boxes(u8[:, 0]), official_boxes(u8[:, 1])
    rows_official = []
    for j, kind in enumerate(("loose", "tight")):
        hk = box_hits(off_label[:, j:j + 1], gt)[:, 0]
        h1 = box_hits(off_top1[:, j:j + 1], gt)[:, 0]
        rows_official.append((f"dt_box {kind} (thresholds {OFFICIAL_THRESHOLDS})",
                              100 * hk.mean(), 100 * (h1 & right1).mean(),
                              common.area_ratio(off_label[:, j], gt).mean()))
    # the heuristic: top-1 loose+tight, top-2 loose+tight, top-3 loose
    heur_cls, heur_box = [], []
    for m in u8[:, 1:4]:
        ranks, rects = heuristic_boxes(m, OFFICIAL_THRESHOLDS)
        heur_cls.append(ranks)
        heur_box.append([xywh_to_xyxy(r) for r in rects])
    heur_cls, heur_box = np.array(heur_cls), np.array(heur_box)       # (N, 5), (N, 5, 4)
    pred_cls = np.take_along_axis(top[:, :3], heur_cls, axis=1)
    heur_top5 = 100 - localization_error(pred_cls, heur_box, labels, gt, k=5)
    heur_top1 = 100 * (box_hits(heur_box[:, :2][:, None], gt)[:, 0] & right1).mean()
    # paper rule top-3 (one box per class) for the comparison, at each choice of t
    paper5 = {}
    for t in (0.2, t_val, t_best):
        b3 = largest_component_boxes(d["maps"][:, 1:4], threshold=t)
        paper5[t] = 100 - localization_error(top[:, :3], b3, labels, gt, k=3)

    viz.line_plot(out / "accuracy_vs_threshold.png", fine,
                  {"GT-known accuracy (paper rule)": fine_known,
                   "top-1 localization accuracy (paper rule)": fine_loc1},
                  xlabel="box threshold (fraction of the CAM max)", ylabel="accuracy (%)",
                  title="tiny_gap GAP on camjax_shapes test",
                  marks={"paper: 0.2": 0.2, f"val: {t_val:.2f}": t_val},
                  points={f"best t on test, {t_best:.2f} (optimistic)":
                          (t_best, at[t_best]["gt_known"]),
                          "dt_box loose, GT-known (at 20/255)": (20 / 255, rows_official[0][1]),
                          "dt_box tight, GT-known (at 110/255)": (110 / 255,
                                                                   rows_official[1][1])})

    # paper Figure 4: the top-5 classes' CAMs of one image
    i = int(np.flatnonzero(right1)[0]) if right1.any() else 0
    image = (d["image"][i].astype(np.float32) / 255 - np.array([0.485, 0.456, 0.406])) \
        / np.array([0.229, 0.224, 0.225])
    result = explain(model, jnp.asarray(image[None], jnp.float32), top_k=5)
    logits, classes, maps = result.logits, result.classes, result.maps
    probs = np.asarray(jax.nn.softmax(logits[0]))
    b5 = largest_component_boxes(np.asarray(maps), threshold=0.2)[0]
    panels = [viz.upscale(d["image"][i], 2)] + [
        viz.upscale(viz.draw_box(viz.overlay(d["image"][i], np.asarray(maps[0, j])), b5[j]), 2)
        for j in range(5)]
    titles = [f"input ({names[labels[i]]})"] + [
        f"{names[int(c)]} p={probs[int(c)]:.2f}" for c in np.asarray(classes[0])]
    viz.titled_grid(out / "top5_cams.png", panels, titles, ncols=6,
                    suptitle="Top-5 class CAMs of one test image (paper Fig. 4)")

    table = common.markdown_table(
        ["threshold", "GT-known acc", "top-1 loc acc", "box area / GT area"],
        [[f"**{t:.2f}**" if k == i20 else f"{t:.2f}", f"{a:.1f}", f"{b:.1f}", f"{c:.2f}"]
         for k, (t, a, b, c) in enumerate(zip(THRESHOLDS, gt_known, loc1, area))])
    v, b, base = at[t_val], at[t_best], metrics["baseline"]
    n_val, n_test = metrics["val"]["num_images"], metrics["cam"]["num_images"]
    rules = common.markdown_table(
        ["box rule", "GT-known acc", "top-1 loc acc", "box area / GT area"],
        [["paper rule, t = 0.20 (the paper)", f"{gt_known[i20]:.1f}", f"{loc1[i20]:.1f}",
          f"{area[i20]:.2f}"],
         [f"paper rule, t chosen on val = {t_val:.2f} (the WSOL protocol)",
          f"{v['gt_known']:.1f}", f"{v['loc1']:.1f}", f"{v['area']:.2f}"],
         [f"paper rule, best t on test = {t_best:.2f} (chosen on test: optimistic)",
          f"{b['gt_known']:.1f}", f"{b['loc1']:.1f}", f"{b['area']:.2f}"]]
        + [[r[0], f"{r[1]:.1f}", f"{r[2]:.1f}", f"{r[3]:.2f}"] for r in rows_official]
        + [["heuristic (5 boxes, top-3 classes)", "—",
            f"{heur_top1:.1f} (top-1 loose+tight)", "—"],
           [f"centred box of mean GT size, no map (all {n_test} test images)",
            f"{base['gt_known_acc']:.1f}", f"{100 - base['loc_top1_err']:.1f}", "—"]])
    top3 = common.markdown_table(
        ["box rule", "top-3 localization accuracy"],
        [["paper rule t = 0.20, 1 box per class", f"{paper5[0.2]:.1f}"],
         [f"paper rule t = {t_val:.2f} (val), 1 box per class", f"{paper5[t_val]:.1f}"],
         [f"paper rule t = {t_best:.2f} (test optimum), 1 box per class",
          f"{paper5[t_best]:.1f}"],
         ["heuristic, 2+2+1 boxes", f"{heur_top5:.1f}"]])
    body = f"""Model: tiny_gap GAP, seed {args.seed} (the gap_vs_gmp model, reused:
{common.train_seconds(workdir) / 60:.1f} min of training), classification top-1 error
{metrics['cam']['cls_top1_err']:.1f}%. {len(labels)} test images. GT-known: the true class's
box has IoU >= 0.5 with the ground truth; top-1 localization: also the top-1 class is right.
The curve is the paper rule on the threshold grid of the WSOL protocol (steps of
{config.cam_curve_interval}); the table below it every 0.05.

![accuracy vs threshold](accuracy_vs_threshold.png)

{table}

## Operating points and fixed-setting rules compared

{rules}

The heuristic needs classes (its boxes belong to the top-3 classes), so it has no
GT-known number. With 12 classes, top-3 is the meaningful "top-k" here:

{top3}

![top-5 CAMs](top5_cams.png)

## Reading

The paper picks 20% of the max without a sweep. Here GT-known accuracy at 0.20 is
{gt_known[i20]:.1f}% (the box {area[i20]:.2f}x the ground-truth area on average) and peaks
at {b['gt_known']:.1f}% at t = {t_best:.2f} on test. The threshold that suits a network
depends on how peaked its CAMs are (Choe et al. 2020, the reason MaxBoxAcc sweeps it); a
tiny network trained for minutes has flat, diffuse maps.

The WSOL protocol chooses the threshold on the {n_val} val images (train-fullsup: boxes,
disjoint from test), never on test: the best MaxBoxAcc (largest box, IoU 0.5) there is at
t = {t_val:.2f}, and the paper rule at that t reaches {v['gt_known']:.1f}% GT-known on test,
{b['gt_known'] - v['gt_known']:.1f} points below the test optimum (an upper bound: chosen on
the test images themselves), {v['gt_known'] - gt_known[i20]:+.1f} points from the 20% rule
and {v['gt_known'] - base['gt_known_acc']:+.1f} points from the centred box
({base['gt_known_acc']:.1f}%). The official dt_box generator (uint8 thresholds 20/100/110,
i.e. 0.08-0.43 of 255 on a min-max map, then a distance-transform erosion) is plotted as
stars at its lowest (loose) and highest (tight) threshold.
"""
    common.write_results(out, "Box threshold and box rules", body,
                         seconds=time.perf_counter() - t0, config=config)


if __name__ == "__main__":
    main()
