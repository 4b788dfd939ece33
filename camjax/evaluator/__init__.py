"""The evaluation job: predict functions run over a split, the tally and the scorers, the
report and its pictures. It takes predict functions and batches, never params, configs or
meshes."""
from camjax.evaluator.faithful import Faithfulness
from camjax.evaluator.job import Lane, classification, compare, localization
from camjax.evaluator.report import metrics_table, write, write_classification
from camjax.evaluator.tally import Tally

__all__ = ["Faithfulness", "Lane", "Tally", "classification", "compare", "localization",
           "metrics_table", "write", "write_classification"]
