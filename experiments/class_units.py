"""Experiment 6 (paper section 5 / Figure 13): the units a class relies on.

For chosen classes, rank the final conv layer's units by their weight W[k, c] in the
class's dense column, and for each top unit show the test images where it fires most,
each as a receptive-field segmentation: the unit's activation map upsampled to the
image, thresholded at ``--unit-threshold`` x its max over the dataset, the image kept
only inside (Bau et al.'s network-dissection style, as the paper's Figure 13).

    .venv/bin/python experiments/class_units.py [--config ...] [--classes 0 5 9]
"""
from __future__ import annotations

import time

import numpy as np

import common
from camjax import viz
from camjax.cam import upsample
from camjax.models import class_weights


def main():
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--classes", type=int, nargs="+", default=[0, 4, 8])
    p.add_argument("--units", type=int, default=3, help="top units per class")
    p.add_argument("--images", type=int, default=4, help="images per unit")
    p.add_argument("--unit-threshold", type=float, default=0.5)
    args = p.parse_args()
    t0 = time.perf_counter()
    out = common.results_dir(args, "class_units")
    config, _, _, src, names, model = common.seed_gap_model(args)
    d = common.collect(model, config, src, limit=args.eval_images, keep_features=True)
    W = np.asarray(class_weights(model))                 # (K, C)
    feats = d["features"]                                             # (N, h, w, K)
    peak = feats.max(axis=(1, 2))                                     # (N, K)
    panels, titles, rows, labels = [], [], [], []
    for c in args.classes:
        units = np.argsort(-W[:, c])[:args.units]
        for u in units:
            best = np.argsort(-peak[:, u])[:args.images]
            maps = np.asarray(upsample(feats[best][..., u], d["image"].shape[1:3]))
            thr = args.unit_threshold * feats[..., u].max()
            share = [float((d["label"][best] == c).mean())]
            for i, m in zip(best, maps):
                panels.append(viz.upscale(viz.mask_region(d["image"][i], m > thr), 2))
                titles.append(f"unit {u}: {names[d['label'][i]]}")
            labels.append(f"{names[c]} #{list(units).index(u) + 1}")
            rows.append([names[c], int(u), f"{W[u, c]:.3f}",
                         f"{int(np.sum(W[u] > W[u, c]))}",
                         f"{100 * share[0]:.0f}%",
                         ", ".join(names[x] for x in d["label"][np.argsort(-peak[:, u])[:8]])])
    viz.titled_grid(out / "class_units.png", panels, titles, ncols=args.images,
                    row_labels=labels, panel_inches=1.6,
                    suptitle="Top units of each class (by W[k, c]) and their top test images")
    table = common.markdown_table(
        ["class", "unit", "W[unit, class]", "classes weighting it more", "top images of the class",
         "classes of its 8 strongest images"], rows)
    body = f"""Model: tiny_gap GAP seed {args.seed} (from gap_vs_gmp.py), {W.shape[0]} final
units, {len(d['label'])} test images. A unit's region: its activation upsampled
(bilinear) to 112 px and kept above {args.unit_threshold} x the unit's max over these images.

{table}

![class units](class_units.png)

## Reading

Paper (Figure 13): the units with the largest weights for a class are detectors of its
parts, so a class is a weighted combination of part detectors, and the CAM is that
combination in space. On a 12-shape dataset a unit's strongest images tell whether it
is specific to the class (the "top images of the class" column) or shared between
shapes with common parts (edges, corners, curvature).
"""
    common.write_results(out, "Class-specific units", body, seconds=time.perf_counter() - t0,
                         config=config)


if __name__ == "__main__":
    main()
