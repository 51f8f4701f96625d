"""Classification metrics from predicted probabilities.

Accuracy and macro-F1 come from scikit-learn, which is what the ``evaluate`` library's
``accuracy`` and ``f1`` modules call; ``evaluate.load`` fetches those modules from the Hub at run
time, so it cannot be used offline. Log loss, Brier score and expected calibration error are
written out here, short enough to check by hand (see ``tests/test_metrics.py``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["softmax", "classification_metrics", "log_loss", "brier_score", "expected_calibration_error", "reliability_bins",
           "confusion_matrix"]

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
            out.append({
                "lower": b / n_bins, "upper": (b + 1) / n_bins, "count": int(mask.sum()),
                "confidence": float(conf[mask].mean()), "accuracy": float(correct[mask].mean()),
            })
    return out


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE with ``n_bins`` (default 15) equal-width confidence bins (Guo et al., 2017).

    ECE = sum over bins of (bin count / n) * |bin accuracy - bin mean confidence|, where
    confidence is the top probability and a prediction is its argmax.
    """
    n = len(labels)
    return float(sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in reliability_bins(probs, labels, n_bins)))


def classification_metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1, log loss, Brier score and ECE (15 bins) of ``probs`` against ``labels``.

    Args:
        probs: ``(n, k)`` probabilities, rows summing to 1.
        labels: ``(n,)`` integer labels in ``[0, k)``.

    Returns:
        A dict with ``accuracy``, ``macro_f1``, ``log_loss``, ``brier`` and ``ece``.
    """
    from sklearn.metrics import accuracy_score, f1_score
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    preds = probs.argmax(axis=1)
    return {
        "accuracy": float(accuracy_score(labels, preds)),
        # Macro over the classes that occur (true or predicted): a class absent from a small
        # evaluation split should not count as a zero.
        "macro_f1": float(f1_score(labels, preds, average="macro", zero_division=0)),
        "log_loss": log_loss(probs, labels),
        "brier": brier_score(probs, labels),
        "ece": expected_calibration_error(probs, labels),
    }


def confusion_matrix(probs: np.ndarray, labels: np.ndarray) -> list[list[int]]:
    """The confusion matrix of the most probable labels, as a list of rows.

    Row ``i`` counts the examples whose gold label is ``i``; column ``j`` those predicted ``j``.
    Every one of the ``probs.shape[1]`` classes has a row and a column, even when absent.
    """
    from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix
    k = probs.shape[1]
    return sklearn_confusion_matrix(labels, probs.argmax(axis=1), labels=list(range(k))).tolist()
