"""The evaluation job: a predict function run over a split, the tally, the report and
its pictures. It takes a predict function and batches, never params, configs or meshes."""
from camjax.evaluator.faithful import Faithfulness
from camjax.evaluator.job import classification, localization
from camjax.evaluator.report import metrics_table, write, write_classification
from camjax.evaluator.tally import Tally

__all__ = ["Faithfulness", "Tally", "classification", "localization", "metrics_table", "write",
           "write_classification"]
