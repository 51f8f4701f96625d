"""The classical anchors: Naive Bayes (generative) and logistic regression (discriminative).

Both see the same features, word n-gram counts from one ``CountVectorizer``, so the only
difference between them is the model: Naive Bayes fits P(x|y) P(y) and applies Bayes' rule;
logistic regression fits P(y|x) directly. This is the pair Ng & Jordan (2001) compared.

Saved with skops (a safe, inspectable alternative to pickle): ``model.skops`` plus
``llmdisc_config.json`` with the label names. ``skops.io.load`` reads it back without llmdisc.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import arg
from ..errors import LlmdiscError, first_line
from .base import TextClassifier, register

if TYPE_CHECKING:
    import datasets

__all__ = ["NaiveBayesClassifier", "LogisticRegressionClassifier"]

MODEL_FILE = "model.skops"
# Types a saved pipeline may contain; anything else in a file is refused on load.
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")


@dataclass
class BagOfWordsConfig:
    # Unigrams and bigrams by default: "not good" is then a feature of its own.
    ngram_range: tuple[int, int] = arg((1, 2), "smallest and largest n of the word n-grams")
    min_df: int = arg(1, "drop n-grams seen in fewer training texts than this")
    max_features: int | None = arg(None, "keep only the most frequent n-grams")
    binary: bool = arg(False, "count presence (0/1) instead of occurrences")
    lowercase: bool = arg(True, "lower-case texts before counting")


class _BagOfWordsClassifier(TextClassifier):
    """n-gram counts + a scikit-learn estimator; subclasses choose the estimator."""

    Config = BagOfWordsConfig
    hub_library = "sklearn"

    def _estimator(self):
        raise NotImplementedError

    def _fit(self, texts: list[str], labels: np.ndarray, eval_data: datasets.Dataset | None) -> None:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.pipeline import Pipeline
        c = self.config
        vectorizer = CountVectorizer(
            ngram_range=tuple(c.ngram_range), min_df=c.min_df, max_features=c.max_features,
            binary=c.binary, lowercase=c.lowercase,
            # The default pattern drops one-letter words and splits "don't" in two; keep both.
            token_pattern=r"(?u)\b\w[\w']*\b",
        )
        self.pipeline = Pipeline([("vectorizer", vectorizer), ("model", self._estimator())])
        try:
            self.pipeline.fit(texts, labels)
        except ValueError as e:  # empty vocabulary, min_df too high, a bad alpha or C...
            raise LlmdiscError(f"{self.name} could not be trained: {first_line(e)}; check its settings") from None

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        probs = np.zeros((len(texts), len(self.labels)))
        # The estimator only knows classes seen in training; unseen ones get probability 0.
        probs[:, self.pipeline.classes_] = self.pipeline.predict_proba(texts)
        return probs

    def num_parameters(self) -> dict[str, int]:
        model = self.pipeline.named_steps["model"]
        n = sum(a.size for a in (getattr(model, k, None) for k in ("coef_", "intercept_", "feature_log_prob_", "class_log_prior_")) if a is not None)
        return {"total": int(n), "trainable": int(n)}

    def _card_usage(self, repo: str) -> tuple[str, str]:
        return "scikit-learn and skops", f"""
import os

import numpy as np
import skops.io as sio
from huggingface_hub import hf_hub_download

repo = {repo!r}
path = os.path.join(repo, "{MODEL_FILE}") if os.path.isdir(repo) else hf_hub_download(repo, "{MODEL_FILE}")
# skops loads only trusted types: read the list (scikit-learn and numpy types) before trusting it.
pipeline = sio.load(path, trusted=sio.get_untrusted_types(file=path))
labels = {self.labels!r}  # llmdisc_config.json; pipeline.classes_ holds their indices
texts = ["a text to classify", "another one"]
probs = np.zeros((len(texts), len(labels)))
probs[:, pipeline.classes_] = pipeline.predict_proba(texts)
"""

    def _card_limits(self) -> list[str]:
        return ["A bag of word n-grams: word order beyond "
                f"{max(self.config.ngram_range)}-grams, negation scope and words unseen in training are not modelled."]

    def _save(self, folder: Path) -> None:
        # skops scans scikit-learn for its trusted types when imported (~3 s): import it only
        # when a model is saved or loaded, so that `llmdisc --help` stays quick.
        import skops.io as sio

        sio.dump(self.pipeline, folder / MODEL_FILE)

    def _load(self, folder: Path) -> None:
        import skops.io as sio

        path = folder / MODEL_FILE
        if not path.is_file():
            raise LlmdiscError(f"{folder} has no {MODEL_FILE}; save the model again")
        untrusted = sio.get_untrusted_types(file=path)
        refused = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
        if refused:
            raise LlmdiscError(f"{path} contains unexpected types {refused}; refusing to load it")
        self.pipeline = sio.load(path, trusted=untrusted)


@register("naive_bayes")
class NaiveBayesClassifier(_BagOfWordsClassifier):
    """Multinomial Naive Bayes on word n-gram counts: the classic generative classifier."""

    paradigm = "generative"
    description = "Multinomial Naive Bayes on word n-gram counts: models P(x|y) P(y), classifies by Bayes' rule."

    @dataclass
    class Config(BagOfWordsConfig):
        alpha: float = arg(1.0, "additive (Laplace) smoothing of the n-gram counts")

    def _estimator(self):
        from sklearn.naive_bayes import MultinomialNB
        return MultinomialNB(alpha=self.config.alpha)


@register("logistic_regression")
class LogisticRegressionClassifier(_BagOfWordsClassifier):
    """Logistic regression on the same n-gram counts: Naive Bayes' discriminative twin."""

    paradigm = "discriminative"
    description = "Logistic regression on word n-gram counts: models P(y|x) directly."

    @dataclass
    class Config(BagOfWordsConfig):
        C: float = arg(1.0, "inverse L2 regularisation strength")
        max_iter: int = arg(1000, "solver iterations at most")

    def _estimator(self):
        from sklearn.linear_model import LogisticRegression
        return LogisticRegression(C=self.config.C, max_iter=self.config.max_iter)
