"""llmdisc's calibration metrics as ``evaluate`` modules, loadable offline.

``evaluate.load(path)`` wants one folder per metric holding a script named after it; each
script (``ece/ece.py``, ...) is two lines that call :func:`metric_module` with its own name, so
the metric itself is defined once, in :data:`llmdisc.metrics.classification.METRICS`. Load them with
:func:`llmdisc.metrics.classification.load_evaluate_module`.
"""

from __future__ import annotations

__all__ = ["metric_module"]


def metric_module(name: str) -> type:
    """An ``evaluate.Metric`` subclass computing ``METRICS[name]`` from class probabilities.

    Its ``compute(predictions=probs, references=labels)`` takes one row of probabilities per
    example and integer labels, and returns ``{name: value}``.
    """
    import datasets
    import evaluate
    import numpy as np

    from llmdisc.metrics.classification import METRICS

    metric = METRICS[name]

    class Module(evaluate.Metric):
        def _info(self):
            return evaluate.MetricInfo(
                description=metric.meaning,
                citation="",
                inputs_description=(
                    "predictions: (n, k) class probabilities, rows summing to 1; references: (n,) integer labels"
                ),
                features=datasets.Features(
                    {
                        "predictions": datasets.Sequence(datasets.Value("float64")),
                        "references": datasets.Value("int64"),
                    }
                ),
            )

        def _compute(self, predictions, references):
            probs = np.asarray(predictions, dtype=np.float64)
            return {metric.name: metric.function(probs, np.asarray(references, dtype=np.int64))}

    Module.__name__ = Module.__qualname__ = "".join(part.title() for part in name.split("_"))
    return Module
