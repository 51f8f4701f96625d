"""llmdisc: discriminative and generative text classifiers, side by side.

The public API, for notebooks and scripts::

    import llmdisc
    data = llmdisc.load_text_dataset("demo")
    clf = llmdisc.get_classifier("naive_bayes").fit(data["train"])
    llmdisc.evaluate_classifier(clf, data["test"])
    records = llmdisc.compare(["naive_bayes", "logistic_regression"], data, sizes=[32, 128, "all"], seeds=3)
    llmdisc.write_report(records, "outputs/my-comparison", title="NB vs LR", settings={})
"""

from llmdisc.analysis.analyse import analyse
from llmdisc.classifiers import (
    EncoderClassifier,
    LogisticRegressionClassifier,
    LoraClassifier,
    NaiveBayesClassifier,
    TextClassifier,
    ZeroShotClassifier,
    available_classifiers,
    get_classifier,
    register,
)
from llmdisc.comparison.anomaly import detect_anomalies
from llmdisc.comparison.evaluation import drop_words, evaluate_classifier, robustness_curve
from llmdisc.comparison.grid import compare
from llmdisc.data.loading import label_names, load_text_dataset
from llmdisc.data.subsets import stratified_subset
from llmdisc.errors import LlmdiscError
from llmdisc.lm.generation import SamplingConfig, generate, synthesize
from llmdisc.lm.loading import load_model, resolve_model
from llmdisc.lm.loglikelihood import loglikelihood, perplexity, sequence_loglikelihood, surprisal, token_logprobs
from llmdisc.metrics.classification import classification_metrics, expected_calibration_error
from llmdisc.reporting.report import write_report
from llmdisc.version import __version__

__all__ = [
    "__version__",
    "LlmdiscError",
    "TextClassifier",
    "NaiveBayesClassifier",
    "LogisticRegressionClassifier",
    "EncoderClassifier",
    "ZeroShotClassifier",
    "LoraClassifier",
    "available_classifiers",
    "get_classifier",
    "register",
    "load_text_dataset",
    "label_names",
    "stratified_subset",
    "evaluate_classifier",
    "compare",
    "write_report",
    "analyse",
    "detect_anomalies",
    "drop_words",
    "robustness_curve",
    "classification_metrics",
    "expected_calibration_error",
    "load_model",
    "resolve_model",
    "SamplingConfig",
    "generate",
    "synthesize",
    "loglikelihood",
    "perplexity",
    "sequence_loglikelihood",
    "token_logprobs",
    "surprisal",
]
