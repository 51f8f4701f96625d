"""Anomaly detection with a generative model: the LM's surprisal tells unusual texts apart.

A generative model assigns every text a probability, so it can flag the texts it finds unlikely
without any training on the anomalies. :func:`detect_anomalies` scores each evaluated text by its
mean per-token surprisal under a causal LM (:func:`llmdisc.lm.loglikelihood.surprisal`); the anomalies are
either the texts of one class the user names (that class against the rest) or, when none is
named, copies of the texts with their words shuffled (in-domain against word salad).
:func:`anomaly_auroc` is the statistic the analysis reports: the AUROC of surprisal as an anomaly
score, with a stratified percentile bootstrap interval.

The scores are cached in the comparison's output folder (``anomaly.json``) with what they were
computed from, so ``--resume`` reuses them; the per-token log-probs go through the comparison's
likelihood cache as well (:mod:`llmdisc.lm.likelihood_cache`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from llmdisc.api.findings import AnomalyResult, Estimate
from llmdisc.errors import LlmdiscError
from llmdisc.plumbing.atomic_files import read_cached_json, write_json
from llmdisc.plumbing.config import SeedSettings, arg, replace_config

if TYPE_CHECKING:
    import datasets

__all__ = [
    "AnomalySettings",
    "AnomalyScores",
    "anomaly_result",
    "rank_auroc",
    "AUTO",
    "ANOMALY_FILE",
    "SHUFFLED",
    "anomaly_model",
    "check_anomaly_class",
    "shuffle_words",
    "detect_anomalies",
    "anomaly_auroc",
]

logger = logging.getLogger(__name__)

#: ``anomaly_model: auto``: the LM of the comparison's first approach that scores with one.
AUTO = "auto"
#: The cache file in a comparison's output folder.
ANOMALY_FILE = "anomaly.json"
#: What the anomalies are when no class is named.
SHUFFLED = "shuffled words"


@dataclass
class AnomalyScores:
    """Each scored text's surprisal and whether it is an anomaly.

    Attributes:
        model: the LM that scored the texts.
        split: the split the texts come from.
        anomaly: the anomaly class's name, or :data:`SHUFFLED` (shuffled-word copies of the texts).
        surprisal: ``(n,)`` mean per-token surprisal in nats (higher: more unexpected).
        is_anomaly: ``(n,)`` booleans.
    """

    model: str
    split: str
    anomaly: str
    surprisal: np.ndarray = field(repr=False)
    is_anomaly: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "surprisal": [float(x) for x in self.surprisal],
            "is_anomaly": [bool(x) for x in self.is_anomaly],
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> AnomalyScores:
        return cls(
            values["model"],
            values["split"],
            values["anomaly"],
            np.asarray(values["surprisal"], dtype=np.float64),
            np.asarray(values["is_anomaly"], dtype=bool),
        )


def anomaly_result(scores: AnomalyScores, n_resamples: int = 1000, seed: int = 0) -> AnomalyResult:
    """The :class:`AnomalyResult` of the scores (see :func:`anomaly_auroc`)."""
    y, s = np.asarray(scores.is_anomaly, dtype=bool), np.asarray(scores.surprisal, dtype=np.float64)
    auroc = anomaly_auroc(scores, n_resamples, seed)
    return AnomalyResult(
        scores.model,
        scores.split,
        scores.anomaly,
        int((~y).sum()),
        int(y.sum()),
        float(s[~y].mean()),
        float(s[y].mean()),
        auroc,
    )


def anomaly_model(setting: str | None, approaches: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The LM to score surprisal with: ``setting`` itself, or for ``auto`` the causal LM of the first
    approach that scores with one (:meth:`~llmdisc.classifiers.TextClassifier.causal_lm`; None when
    there is none, or ``setting`` is None)."""
    if setting != AUTO:
        return setting
    from llmdisc.classifiers import get_classifier_class

    for name, config in approaches.items():
        try:
            cls = get_classifier_class((config or {}).get("approach", name))
        except LlmdiscError:  # the comparison's own check names the approach
            continue
        model = cls.causal_lm(config or {})
        if model is not None:
            return model
    return None


def check_anomaly_class(anomaly_class: str | None, labels: Sequence[str]) -> None:
    """A one-line error, before any model loads, when the anomaly class is not one of the labels."""
    if anomaly_class is not None and anomaly_class not in labels:
        raise LlmdiscError(
            f"anomaly_class {anomaly_class!r} is not a label of the data ({', '.join(labels)}); name one "
            "of them, or leave it unset to tell the texts from shuffled-word copies"
        )
    if anomaly_class is not None and len(labels) < 2:
        raise LlmdiscError("anomaly_class needs at least two labels: the anomaly class and the rest")


def shuffle_words(texts: Sequence[str], seed: int) -> list[str]:
    """Each text with its whitespace-separated words in a random order (the same for one seed)."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.permutation(t.split())) for t in texts]


@dataclass
class AnomalySettings(SeedSettings):
    """What the anomaly-detection claim scores: the LM, the anomalies, how many texts (and the seed
    of their subset and of the word shuffle, inherited)."""

    anomaly_model: str | None = arg(
        AUTO,
        "the causal LM whose per-token surprisal is tested as an anomaly detector on the reported split "
        "(auto: the LM of the first zero-shot or LoRA approach; none: not tested)",
    )
    anomaly_class: str | None = arg(
        None, "the label whose texts are the anomalies (none: shuffled-word copies of the texts are)"
    )
    anomaly_examples: int | None = arg(None, "score a stratified subset of this many texts for anomaly detection")


def detect_anomalies(
    data: datasets.Dataset,
    split: str,
    model: str,
    settings: AnomalySettings | None = None,
    *,
    output_dir: str | Path | None = None,
    reuse: bool = False,
    batch_size: int | str = 16,
    **overrides: Any,
) -> AnomalyScores:
    """Score the texts of ``data`` (one split) by the LM's surprisal, as anomalies or not.

    Args:
        data: the labelled split.
        split: its name (recorded).
        model: the causal LM (alias, folder, .gguf or Hub id); ``settings.anomaly_model`` is
            what the user asked for, resolved by :func:`anomaly_model`.
        settings: the :class:`AnomalySettings`: ``anomaly_class``, the label whose texts are the
            anomalies (None: shuffled-word copies of every text are, the originals being the
            normal ones); ``anomaly_examples``, a stratified subset of this many texts (None:
            all); ``seed``, the seed of the subset and of the word shuffle.
        output_dir: the comparison's folder, to cache the scores in (None: no cache).
        reuse: return the cached scores when they were made from the same settings and texts.
        batch_size: texts per forward pass (or ``auto``).
        **overrides: fields of the settings (``anomaly_class="spam"``).

    Returns:
        The :class:`AnomalyScores`.
    """
    settings = replace_config(settings if settings is not None else AnomalySettings(), overrides)
    anomaly_class, examples, seed = settings.anomaly_class, settings.anomaly_examples, settings.seed
    from llmdisc.data.subsets import data_fingerprint, stratified_subset

    labels = list(data.features["label"].names)
    check_anomaly_class(anomaly_class, labels)
    data = stratified_subset(data, examples, seed) if examples else data
    key = {
        "model": model,
        "split": split,
        "anomaly_class": anomaly_class,
        "seed": seed,
        "data": data_fingerprint({split: data}),
    }
    path = Path(output_dir) / ANOMALY_FILE if output_dir is not None else None
    if reuse and path is not None and path.is_file():
        cached = read_cached_json(path, "scoring the texts again") or {}
        if cached.get("key") == json.loads(json.dumps(key)):
            logger.info("anomaly scores: cached")
            return AnomalyScores.from_dict(cached["scores"])
    texts = list(data["text"])
    if anomaly_class is None:
        texts, is_anomaly = texts + shuffle_words(texts, seed), np.repeat([False, True], len(texts))
    else:
        is_anomaly = np.asarray(data["label"]) == labels.index(anomaly_class)
    from llmdisc.lm.likelihood_cache import LikelihoodCache, cache_path
    from llmdisc.lm.loading import load_model
    from llmdisc.lm.loglikelihood import surprisal

    logger.info("anomaly scores: %d texts under %s", len(texts), model)
    lm, tokenizer = load_model(model, task="causal-lm")
    if output_dir is None:
        surprise = surprisal(lm, tokenizer, texts, batch_size)
    else:
        likelihoods = LikelihoodCache(cache_path(output_dir))
        try:
            surprise = surprisal(lm, tokenizer, texts, batch_size, store=likelihoods.for_model(lm, tokenizer))
        finally:
            likelihoods.close()
    scores = AnomalyScores(model, split, anomaly_class or SHUFFLED, surprise, np.asarray(is_anomaly, dtype=bool))
    if path is not None:
        write_json(path, {"key": key, "scores": scores.to_dict()})
    return scores


def rank_auroc(scores: np.ndarray, positives: int) -> np.ndarray:
    """The AUROC of each row of ``(B, m)`` scores whose first ``positives`` columns are the
    positives, from the Mann-Whitney rank sum (ties get mid-ranks: the same value as scikit-learn's
    ``roc_auc_score``, tested equal to it), for a thousand resamples in one call: ``roc_auc_score``
    costs milliseconds a call."""
    from scipy.stats import rankdata

    negatives = scores.shape[1] - positives
    ranks = rankdata(scores, axis=1)[:, :positives].sum(axis=1)
    return (ranks - positives * (positives + 1) / 2) / (positives * negatives)


def anomaly_auroc(scores: AnomalyScores, n_resamples: int = 1000, seed: int = 0) -> Estimate:
    """The AUROC of surprisal as an anomaly score, with a 95% percentile bootstrap interval.

    The bootstrap resamples the normal and the anomalous texts separately (a stratified
    bootstrap), so that every resample holds both and the AUROC is defined. 0.5: no better than
    chance; 1: every anomaly is more surprising than every normal text.

    Raises:
        LlmdiscError: when the texts are all anomalies or all normal.
    """
    from sklearn.metrics import roc_auc_score

    y, s = np.asarray(scores.is_anomaly, dtype=bool), np.asarray(scores.surprisal, dtype=np.float64)
    positive, negative = np.flatnonzero(y), np.flatnonzero(~y)
    if not len(positive) or not len(negative):
        raise LlmdiscError(
            f"anomaly detection needs normal and anomalous texts; the {scores.split} split has "
            f"{len(positive)} anomalies of {len(y)}"
        )
    rng = np.random.default_rng(seed)
    pick = np.concatenate(
        [rng.choice(positive, (n_resamples, len(positive))), rng.choice(negative, (n_resamples, len(negative)))],
        axis=1,
    )
    resampled = rank_auroc(s[pick], len(positive))
    low, high = np.quantile(resampled, [0.025, 0.975])
    return Estimate(float(roc_auc_score(y, s)), float(low), float(high))
