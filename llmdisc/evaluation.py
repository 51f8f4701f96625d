"""Evaluate classifiers, and compare several on the same splits.

The evaluation knows only the :class:`~llmdisc.classifiers.TextClassifier` interface: it calls
``fit`` and ``predict_proba`` and nothing else, so any registered approach can be compared.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any, Mapping, Sequence

import datasets
import numpy as np

from .classifiers import TextClassifier, get_classifier
from .classifiers.base import check_dataset
from .data import stratified_subset
from .errors import LlmdiscError
from .metrics import classification_metrics

__all__ = ["evaluate_classifier", "compare", "normalise_approaches"]

logger = logging.getLogger(__name__)


def evaluate_classifier(clf: TextClassifier, data: datasets.Dataset) -> dict[str, Any]:
    """Score a trained classifier on a labelled data set.

    Args:
        clf: a trained classifier.
        data: a data set with ``text`` and ``ClassLabel`` ``label`` columns, with the same label
            names as ``clf.labels``.

    Returns:
        ``accuracy``, ``macro_f1``, ``log_loss``, ``brier``, ``ece`` (15 equal-width bins),
        ``examples``, ``predict_seconds`` and ``examples_per_second`` (of ``predict_proba``).
    """
    names = check_dataset(data, "evaluation")
    if names != clf.labels:
        raise LlmdiscError(f"data labels {names} differ from the classifier's {clf.labels}")
    start = time.perf_counter()
    probs = clf.predict_proba(list(data["text"]))
    seconds = time.perf_counter() - start
    out: dict[str, Any] = classification_metrics(probs, np.asarray(data["label"]))
    out.update(examples=len(data), predict_seconds=round(seconds, 4),
               examples_per_second=round(len(data) / seconds, 2) if seconds > 0 else float("inf"))
    return out


def normalise_approaches(approaches: Mapping[str, Mapping[str, Any] | None] | Sequence[str] | str) -> dict[str, dict]:
    """Accept ``"a,b"``, ``["a", "b"]`` or ``{"a": {...config...}, "b": None}``; return name -> config."""
    if isinstance(approaches, str):
        approaches = [a.strip() for a in approaches.split(",") if a.strip()]
    if isinstance(approaches, Mapping):
        return {name: dict(cfg or {}) for name, cfg in approaches.items()}
    return {name: {} for name in approaches}


def compare(
    approaches: Mapping[str, Mapping[str, Any] | None] | Sequence[str] | str,
    data: datasets.DatasetDict,
    splits: Sequence[str] = ("validation", "test"),
    max_train_samples: int | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Train each approach on the same training data and evaluate it on the same splits.

    An approach that fails (a missing model, a bad setting) is recorded with ``status:
    "failed"`` and its error, and the others still run.

    Args:
        approaches: names, or a mapping of name to that approach's config (which may hold
            ``approach``: the registered approach, when the name is a variant's).
        data: a ``DatasetDict`` from :func:`~llmdisc.load_text_dataset`.
        splits: the splits to evaluate on (missing ones are skipped).
        max_train_samples: train on a stratified subset of this size (``None``: all).
        seed: seed of that subset.

    Returns:
        One record per (approach, split): ``approach``, ``paradigm``, ``split``, ``status`` and
        the metrics of :func:`evaluate_classifier`, plus ``train_seconds`` and ``train_examples``.
    """
    train = stratified_subset(data["train"], max_train_samples, seed)
    eval_split = data["validation"] if "validation" in data else None
    splits = [s for s in splits if s in data]
    records: list[dict[str, Any]] = []
    for name, config in normalise_approaches(approaches).items():
        # A config may name its registered approach, so one approach can run in several
        # variants: {"zeroshot_channel": {"approach": "zeroshot", "mode": "channel"}}.
        config = dict(config)
        registered = config.pop("approach", name)
        base = {"approach": name, "train_examples": len(train), "seed": seed}
        try:
            clf = get_classifier(registered, **config)
            base["paradigm"] = clf.paradigm
            logger.info("training %s on %d examples", name, len(train))
            clf.fit(train, eval=eval_split)
            base["train_seconds"] = clf.info.get("train_seconds")
            done = [{**base, "split": s, "status": "ok", **evaluate_classifier(clf, data[s])} for s in splits]
            records.extend(done)
        except Exception as e:  # one approach failing must not sink the comparison
            message = str(e).splitlines()[0] if str(e) else type(e).__name__
            logger.error("%s failed: %s", name, message)
            if not isinstance(e, LlmdiscError):
                logger.debug("".join(traceback.format_exception(e)))
            records.extend({**base, "split": split, "status": "failed", "error": message} for split in splits)
    return records
