"""Classification metrics from predicted probabilities, and the one table that defines them.

:data:`METRICS` is the only place a metric is defined: its name (the key in every record, JSON
file and Trainer log), the function, whether higher is better, how it is displayed and what it
means. Trainer's ``compute_metrics`` and checkpoint choice, the summary, the report, the plots
and the model card's ``model-index`` all read it; code elsewhere names a metric through its
constant (``ACCURACY.name``), never a string of its own.

Macro-F1 comes from scikit-learn. Log loss, Brier score and expected calibration
error are written out here, short enough to check by hand (see ``tests/test_metrics.py``); they
are also packaged as ``evaluate`` modules (:func:`load_evaluate_module`), so any Trainer user
can load them offline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llmdisc.errors import LlmdiscError

__all__ = [
    "Metric",
    "METRICS",
    "ACCURACY",
    "MACRO_F1",
    "LOG_LOSS",
    "BRIER",
    "ECE",
    "TRAINER_LOSS",
    "metric",
    "softmax",
    "classification_metrics",
    "log_loss",
    "brier_score",
    "expected_calibration_error",
    "reliability_bins",
    "confusion_matrix",
    "load_evaluate_module",
    "EVALUATE_MODULES",
]

EPS = 1e-15


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (logits or log-likelihoods to probabilities)."""
    z = np.asarray(scores, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def log_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-probability of the true label (natural log, probabilities clipped at 1e-15)."""
    p = probs[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(p, EPS, 1.0))))


def brier_score(probs: np.ndarray, labels: np.ndarray) -> float:
    """Brier's multi-class score: mean over examples of sum_k (p_k - [y = k])^2.

    It lies in [0, 2]. For two classes it is twice scikit-learn's ``brier_score_loss`` of the
    positive class.
    """
    onehot = np.eye(probs.shape[1])[labels]
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


def reliability_bins(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> list[dict]:
    """Confidence (top probability) binned into ``n_bins`` equal-width bins over [0, 1].

    Bin b covers (b/n_bins, (b+1)/n_bins]; a confidence of exactly 0 goes into the first bin.

    Returns:
        One dict per non-empty bin: ``lower``, ``upper``, ``count``, ``confidence`` (mean top
        probability) and ``accuracy`` (fraction whose top label is right).
    """
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    index = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        mask = index == b
        if mask.any():
            out.append(
                {
                    "lower": b / n_bins,
                    "upper": (b + 1) / n_bins,
                    "count": int(mask.sum()),
                    "confidence": float(conf[mask].mean()),
                    "accuracy": float(correct[mask].mean()),
                }
            )
    return out


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE with ``n_bins`` (default 15) equal-width confidence bins (Guo et al., 2017).

    ECE = sum over bins of (bin count / n) * |bin accuracy - bin mean confidence|, where
    confidence is the top probability and a prediction is its argmax.
    """
    n = len(labels)
    return float(
        sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in reliability_bins(probs, labels, n_bins))
    )


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of examples whose most probable label is the true one."""
    return float(np.mean(probs.argmax(axis=1) == labels))


def macro_f1(probs: np.ndarray, labels: np.ndarray) -> float:
    """Unweighted mean of the per-class F1 of the most probable label.

    Macro over the classes that occur (true or predicted): a class absent from a small
    evaluation split should not count as a zero.
    """
    from sklearn.metrics import f1_score  # slow to import: not at module level (see cli.py)

    return float(f1_score(labels, probs.argmax(axis=1), average="macro", zero_division=0))


@dataclass(frozen=True)
class Metric:
    """One metric: what it is called, how it is computed, which way is better, how it is shown.

    Attributes:
        name: the key in records, JSON files and Trainer logs (``eval_`` + name).
        function: ``(probs (n, k), labels (n,)) -> float``.
        higher_is_better: the direction for checkpoint choice, rankings and verdicts.
        fmt: a ``str.format`` spec for tables (``"{:.4f}"``).
        label: the column header.
        meaning: one line for report footnotes and model cards.
        hub_type: the Hub's metric type in a model card's ``model-index`` (None: not listed there).
    """

    name: str
    function: Callable[[np.ndarray, np.ndarray], float]
    higher_is_better: bool
    fmt: str
    label: str
    meaning: str
    hub_type: str | None = None

    def format(self, value: float | None) -> str:
        """``value`` as the tables show it (``-`` for a missing value)."""
        return "-" if value is None else self.fmt.format(value)

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return a > b if self.higher_is_better else a < b


ACCURACY = Metric(
    "accuracy",
    accuracy,
    True,
    "{:.4f}",
    "accuracy",
    "fraction of texts whose most probable label is right",
    hub_type="accuracy",
)
MACRO_F1 = Metric(
    "macro_f1",
    macro_f1,
    True,
    "{:.4f}",
    "macro-F1",
    "mean F1 over the classes, each class counted equally (matters when classes are imbalanced)",
    hub_type="f1",
)
LOG_LOSS = Metric(
    "log_loss",
    log_loss,
    False,
    "{:.4f}",
    "log loss",
    "mean negative natural log-probability of the true label (probabilities clipped at 1e-15)",
)
BRIER = Metric(
    "brier",
    brier_score,
    False,
    "{:.4f}",
    "Brier",
    "mean squared distance between the probabilities and the one-hot label, summed over classes (0 to 2)",
)
ECE = Metric(
    "ece",
    expected_calibration_error,
    False,
    "{:.4f}",
    "ECE",
    "expected calibration error: weighted gap between confidence and accuracy in 15 equal-width bins",
)

#: Every metric, in display order. Adding one here adds it to records, reports and cards.
METRICS: dict[str, Metric] = {m.name: m for m in (ACCURACY, MACRO_F1, LOG_LOSS, BRIER, ECE)}

#: Trainer's own validation loss (the model's loss function, not computed from probabilities): a
#: valid ``metric_for_best_model`` besides :data:`METRICS`, lower is better.
TRAINER_LOSS = "loss"


def metric(name: str) -> Metric:
    """The metric called ``name``; a one-line error listing the known ones otherwise."""
    if name not in METRICS:
        raise LlmdiscError(f"unknown metric '{name}'; use one of {', '.join(METRICS)}")
    return METRICS[name]


def classification_metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Every metric of :data:`METRICS` of ``probs`` against ``labels``.

    Args:
        probs: ``(n, k)`` probabilities, rows summing to 1.
        labels: ``(n,)`` integer labels in ``[0, k)``.

    Returns:
        Metric name -> value, in the order of :data:`METRICS`.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    return {m.name: m.function(probs, labels) for m in METRICS.values()}


def confusion_matrix(probs: np.ndarray, labels: np.ndarray) -> list[list[int]]:
    """The confusion matrix of the most probable labels, as a list of rows.

    Row ``i`` counts the examples whose gold label is ``i``; column ``j`` those predicted ``j``.
    Every one of the ``probs.shape[1]`` classes has a row and a column, even when absent.
    """
    from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix  # slow to import

    k = probs.shape[1]
    return sklearn_confusion_matrix(labels, probs.argmax(axis=1), labels=list(range(k))).tolist()


#: The metrics packaged as ``evaluate`` modules (folders under ``llmdisc/evaluate_modules``).
EVALUATE_MODULES = (LOG_LOSS.name, BRIER.name, ECE.name)


def load_evaluate_module(name: str):
    """One of llmdisc's calibration metrics as an ``evaluate`` module, loaded offline.

    ``evaluate.load("ece")`` would fetch a module from the Hub; these load from the installed
    package. Their ``compute(predictions=probs, references=labels)`` takes probabilities (one
    row per example) and gives the same number as this module's function.

    Args:
        name: one of :data:`EVALUATE_MODULES`.

    Returns:
        An ``evaluate.EvaluationModule``.
    """
    import evaluate  # slow to import, and only needed here

    if name not in EVALUATE_MODULES:
        raise LlmdiscError(f"no evaluate module '{name}' in llmdisc; available: {', '.join(EVALUATE_MODULES)}")
    return evaluate.load(str(Path(__file__).parent / "evaluate_modules" / name))
