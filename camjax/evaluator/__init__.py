"""The evaluation job: predict functions run over a split, the tally and the scorers, the
report and its pictures, the per-image table. It takes predict functions and batches,
never params, configs or meshes."""
from camjax.evaluator.faithful import Faithfulness
from camjax.evaluator.job import Lane, classification, compare, gallery, localization
from camjax.evaluator.per_image import PerImage
from camjax.evaluator.report import (metrics_table, write, write_classification,
                                     write_metrics)
from camjax.evaluator.tally import Tally

__all__ = ["Faithfulness", "Lane", "PerImage", "Tally", "classification", "compare", "gallery",
           "localization", "metrics_table", "write", "write_classification", "write_metrics"]
