"""The evaluation job: a predict function run over a split, the tally, the report and
its pictures, the per-image table. It takes a predict function and batches, never
params, configs or meshes."""
from camjax.evaluator.faithful import Faithfulness
from camjax.evaluator.job import classification, gallery, localization
from camjax.evaluator.per_image import PerImage
from camjax.evaluator.report import (metrics_table, write, write_classification,
                                     write_metrics)
from camjax.evaluator.tally import Tally

__all__ = ["Faithfulness", "PerImage", "Tally", "classification", "gallery", "localization",
           "metrics_table", "write", "write_classification", "write_metrics"]
