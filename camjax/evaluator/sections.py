"""The report's sections on the scorers of ``config.metrics``: one table of map methods
against metrics (one column per method, computed on the same images), and the sanity
checks' verdicts and figure."""
from __future__ import annotations

from pathlib import Path

from camjax.evaluator.figures import sanity_png


def _get(metrics: dict, *keys):
    for k in keys:
        if not isinstance(metrics, dict) or k not in metrics:
            return None
        metrics = metrics[k]
    return metrics


# (label, direction, keys into a method's metrics, format)
ROWS = (
    ("MaxBoxAccV2 (%)", "higher", ("wsol_v2", "max_box_acc_v2"), ".1f"),
    ("PxAP (%)", "higher", ("pxap",), ".1f"),
    ("GT-known accuracy, paper rule (%)", "higher", ("cam", "gt_known_acc"), ".1f"),
    ("GT-known accuracy, threshold chosen on val (%)", "higher",
     ("operating_points", "val_threshold", "cam", "gt_known_acc"), ".1f"),
    ("average drop in confidence (%)", "lower", ("faithfulness", "average_drop"), ".2f"),
    ("increase in confidence (%)", "higher", ("faithfulness", "increase_in_confidence"),
     ".2f"),
    ("deletion AUC", "lower", ("faithfulness", "deletion_auc"), ".4f"),
    ("insertion AUC", "higher", ("faithfulness", "insertion_auc"), ".4f"),
    ("ROAD MoRF (probability change)", "lower", ("road", "road_morf"), ".4f"),
    ("ROAD LeRF (probability change)", "higher", ("road", "road_lerf"), ".4f"),
    ("ROAD combined", "higher", ("road", "road_combined"), ".4f"),
    ("pointing game (%)", "higher", ("pointing", "pointing_game"), ".1f"),
    ("energy pointing game (%)", "higher", ("pointing", "energy_pointing_game"), ".1f"),
    ("complexity (entropy of the map)", "lower", ("complexity", "complexity"), ".3f"),
    ("sparseness (Gini index)", "higher", ("complexity", "sparseness"), ".3f"),
    ("sanity: rank correlation once all layers are randomised", "lower",
     ("sanity", "fully_randomised_spearman"), ".2f"),
    ("sanity: SSIM once all layers are randomised", "lower",
     ("sanity", "fully_randomised_ssim"), ".2f"),
)
EXTRA = ("faithfulness", "road", "pointing", "complexity", "sanity")


def by_method(metrics: dict) -> dict:
    """{method: metrics}: ``metrics["methods"]`` of a several-method run, else the one."""
    return metrics.get("methods") or {metrics.get("cam_method", "cam"): metrics}


def has_scorers(metrics: dict) -> bool:
    return any(k in m for m in by_method(metrics).values() for k in EXTRA)


def comparison_table(methods: dict) -> str:
    """Rows: the metrics some method has; columns: the methods."""
    names = list(methods)
    lines = ["| metric (better) | " + " | ".join(names) + " |",
             "|---|" + "---:|" * len(names)]
    for label, better, keys, fmt in ROWS:
        values = [_get(methods[n], *keys) for n in names]
        if all(v is None for v in values):
            continue
        cells = []
        for n, v in zip(names, values):
            cell = "" if v is None else format(v, fmt)
            if keys[0] == "sanity" and keys[1].endswith("spearman") and v is not None:
                cell += " pass" if methods[n]["sanity"]["passed"] else " **FAIL**"
            cells.append(cell)
        lines.append(f"| {label} ({better}) | " + " | ".join(cells) + " |")
    lines.append("| images | " + " | ".join(str(_get(methods[n], "cam", "num_images") or "")
                                           for n in names) + " |")
    return "\n".join(lines)


def sanity_text(methods: dict) -> list[str]:
    """The verdict of every method the sanity checks ran on, failures first."""
    ran = {n: m["sanity"] for n, m in methods.items() if "sanity" in m}
    lines = []
    for n, s in sorted(ran.items(), key=lambda kv: kv[1]["passed"]):
        if s["passed"]:
            lines.append(f"- {n}: passes (rank correlation {s['fully_randomised_spearman']:.2f}"
                         f" < {s['threshold']:.2f} once every layer is randomised).")
        else:
            lines.append(f"- **{n}: FAILS the sanity check**: its maps keep a rank correlation "
                         f"of {s['fully_randomised_spearman']:.2f} (>= {s['threshold']:.2f}) "
                         "with the trained network's once every layer is randomised, so "
                         "they do not show what the network learned.")
    return lines


def write_sections(out_dir: Path, metrics: dict) -> list[str]:
    """The markdown lines of the scorers' sections (and their PNGs in ``out_dir``)."""
    if not has_scorers(metrics) and "methods" not in metrics:
        return []
    methods = by_method(metrics)
    parts = ["## Map methods against metrics", "",
             "Every method's maps of the same images, normalised to [0, 1]: the ground-truth "
             "class's for MaxBoxAcc, PxAP, GT-known and the pointing games; the top-1 "
             "class's for faithfulness, ROAD and complexity (docs/evaluation.md).", "",
             comparison_table(methods), ""]
    ran = {n: m["sanity"] for n, m in methods.items() if "sanity" in m}
    if ran:
        sanity_png(out_dir / "sanity.png", ran)
        first = next(iter(ran.values()))
        parts += ["## Sanity checks: model-parameter randomisation", "",
                  f"Adebayo et al. (NeurIPS 2018) on the first {first['num_images']} images: "
                  "the maps of the trained network against those of the network with its "
                  "layers re-initialised, cascading from the logits down (left) and one "
                  "layer at a time (right). A method that explains the network must change "
                  "as its parameters do.", "", *sanity_text(methods), "",
                  "![sanity checks](sanity.png)", ""]
    return parts
