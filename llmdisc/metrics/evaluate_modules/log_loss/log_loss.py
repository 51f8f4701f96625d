"""llmdisc's `log_loss` (see llmdisc.metrics.classification.METRICS) as an `evaluate` module:

llmdisc.metrics.classification.load_evaluate_module("log_loss").
"""

from pathlib import Path

from llmdisc.metrics.evaluate_modules import metric_module

# The folder and the script are named after the metric.
Metric = metric_module(Path(__file__).stem)
