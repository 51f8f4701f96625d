"""Brier score, as an ``evaluate`` module: llmdisc.metrics.brier_score, loadable offline.

    import llmdisc.metrics
    module = llmdisc.metrics.load_evaluate_module("brier")
    module.compute(predictions=probs, references=labels)  # probs: one row of class probabilities per example
"""

from pathlib import Path

import datasets
import evaluate
import numpy as np

from llmdisc.metrics import METRICS

# The folder is named after the metric (evaluate copies the script under the same name).
_METRIC = METRICS[Path(__file__).stem]


class Brier(evaluate.Metric):
    """Brier score: see llmdisc.metrics.METRICS."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_METRIC.meaning,
            citation="",
            inputs_description="predictions: (n, k) class probabilities, rows summing to 1; references: (n,) integer labels",
            features=datasets.Features({"predictions": datasets.Sequence(datasets.Value("float64")),
                                        "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        probs = np.asarray(predictions, dtype=np.float64)
        return {_METRIC.name: _METRIC.function(probs, np.asarray(references, dtype=np.int64))}
