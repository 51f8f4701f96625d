"""llmdisc: discriminative and generative text classifiers, side by side.

The public API, for notebooks and scripts::

    import llmdisc
    data = llmdisc.load_text_dataset("demo")
    clf = llmdisc.get_classifier("naive_bayes").fit(data["train"])
    llmdisc.evaluate_classifier(clf, data["test"])
    records = llmdisc.compare(["naive_bayes", "logistic_regression"], data, sizes=[32, 128, "all"], seeds=3)
    llmdisc.write_report(records, "outputs/my-comparison", title="NB vs LR", settings={})
"""

__version__ = "0.1.0"

from .classifiers import (  # noqa: E402  (the version is read by classifiers.base)
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
from .data import label_names, load_text_dataset, stratified_subset  # noqa: E402
from .errors import LlmdiscError  # noqa: E402
from .comparison import compare  # noqa: E402
from .evaluation import drop_words, evaluate_classifier, robustness_curve  # noqa: E402
from .metrics import classification_metrics, expected_calibration_error  # noqa: E402
from .generation import SamplingConfig, generate, synthesize  # noqa: E402
from .models import load_model, resolve_model  # noqa: E402
from .report import write_report  # noqa: E402
from .scoring import loglikelihood, perplexity, sequence_loglikelihood, token_logprobs  # noqa: E402

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
]
