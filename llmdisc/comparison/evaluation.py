"""Evaluate a trained classifier: metrics, reliability bins, and robustness to missing words.

The evaluation knows only the :class:`~llmdisc.classifiers.TextClassifier` interface: it calls
``predict_proba`` and nothing else, so any registered approach can be evaluated.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from llmdisc.api.records import Evaluation
from llmdisc.classifiers import TextClassifier
from llmdisc.classifiers.base import check_dataset
from llmdisc.errors import LlmdiscError
from llmdisc.metrics.classification import ECE, LOG_LOSS, classification_metrics, confusion_matrix, reliability_bins
from llmdisc.plumbing.config import DEFAULT_SEED

if TYPE_CHECKING:
    import datasets

__all__ = ["evaluate_classifier", "drop_words", "robustness_curve", "robustness_probabilities"]


def evaluate_classifier(clf: TextClassifier, data: datasets.Dataset) -> Evaluation:
    """Score a trained classifier on a labelled data set.

    Args:
        clf: a trained classifier.
        data: a data set with ``text`` and ``ClassLabel`` ``label`` columns, with the same label
            names as ``clf.labels``.

    Returns:
        An :class:`~llmdisc.api.records.Evaluation`: every metric of
        :data:`~llmdisc.metrics.classification.METRICS`, the reliability bins (15 equal-width confidence bins),
        the confusion matrix, the probabilities themselves, the example count and the speed of
        ``predict_proba``; for a calibrated classifier, also ECE and log loss without its
        temperature (``uncalibrated``).
    """
    names = check_dataset(data, "evaluation")
    if names != clf.labels:
        raise LlmdiscError(f"data labels {names} differ from the classifier's {clf.labels}")
    labels = np.asarray(data["label"])
    start = time.perf_counter()
    raw = clf.predict_proba(list(data["text"]), calibrated=False)
    probs = clf.calibrator.apply(raw) if clf.calibrator is not None else raw
    seconds = time.perf_counter() - start
    uncalibrated = None
    if clf.calibrator is not None:
        uncalibrated = {m.name: m.function(raw, labels) for m in (ECE, LOG_LOSS)}
    return Evaluation(
        metrics=classification_metrics(probs, labels),
        examples=len(data),
        predict_seconds=round(seconds, 4),
        examples_per_second=round(len(data) / seconds, 2) if seconds > 0 else float("inf"),
        reliability=reliability_bins(probs, labels),
        confusion=confusion_matrix(probs, labels),
        probabilities=probs,
        uncalibrated=uncalibrated,
    )


def drop_words(texts: Sequence[str], rate: float, seed: int = DEFAULT_SEED) -> list[str]:
    """Delete each whitespace-separated word with probability ``rate`` (missing data).

    A text always keeps at least one word (a random survivor when all were drawn), so no
    classifier is handed an empty string.

    Args:
        texts: the texts.
        rate: the probability of dropping each word, in [0, 1).
        seed: the random seed (the same seed drops the same words).

    Returns:
        The damaged texts, in order.
    """
    if rate == 0:
        return list(texts)  # untouched, whitespace included
    rng = np.random.default_rng(seed)
    out = []
    for text in texts:
        words = text.split()
        keep = rng.random(len(words)) >= rate
        if words and not keep.any():
            keep[rng.integers(len(words))] = True
        out.append(" ".join(w for w, k in zip(words, keep) if k))
    return out


def robustness_curve(
    clf: TextClassifier, data: datasets.Dataset, rates: Sequence[float], seed: int = DEFAULT_SEED
) -> dict[str, float]:
    """Accuracy of ``clf`` as words are dropped from the texts of ``data`` at each rate.

    Args:
        clf: a trained classifier.
        data: a labelled data set.
        rates: word-drop rates in [0, 1); 0 is the undamaged data.
        seed: the seed of the dropped words (the same for every classifier).

    Returns:
        Drop rate (as a string key, for JSON) -> accuracy.
    """
    labels = np.asarray(data["label"])
    return {
        rate: float((probs.argmax(axis=1) == labels).mean())
        for rate, probs in robustness_probabilities(clf, data, rates, seed).items()
    }


def robustness_probabilities(
    clf: TextClassifier,
    data: datasets.Dataset,
    rates: Sequence[float],
    seed: int = DEFAULT_SEED,
    undamaged: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The probabilities :func:`robustness_curve` measures its accuracies on (kept per example).

    The damaged texts of every rate go to ``predict_proba`` in one call, so that a classifier
    that batches (the LMs, the encoder) fills its batches across rates rather than running a
    part-filled last batch per rate.

    Args:
        clf: a trained classifier.
        data: a labelled data set.
        rates: word-drop rates in [0, 1).
        seed: the seed of the dropped words.
        undamaged: ``clf.predict_proba`` of ``data``'s texts as they are, when the caller has
            them already (an evaluation of the same texts): rate 0 takes them instead of
            predicting the same texts again.

    Returns:
        Drop rate (as a string key, as in :func:`robustness_curve`) -> ``(examples, labels)`` array.
    """
    texts = list(data["text"])
    if undamaged is not None and len(undamaged) != len(texts):
        raise ValueError(f"undamaged holds {len(undamaged)} rows for {len(texts)} texts")
    reuse, n = undamaged is not None, len(texts)
    predicted = [rate for rate in rates if not (reuse and rate == 0)]
    probs = clf.predict_proba([t for rate in predicted for t in drop_words(texts, rate, seed)]) if predicted else None
    rows = {f"{rate:g}": probs[i * n : (i + 1) * n] for i, rate in enumerate(predicted)}
    return {f"{rate:g}": undamaged if reuse and rate == 0 else rows[f"{rate:g}"] for rate in rates}
