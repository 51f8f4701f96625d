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
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import arg
from ..errors import LlmdiscError, first_line
from .base import TextClassifier, register

if TYPE_CHECKING:
    import datasets

__all__ = ["NaiveBayesClassifier", "LogisticRegressionClassifier"]

MODEL_FILE = "model.skops"
# The types beyond skops' own defaults (scikit-learn's estimators, numpy arrays) that a pipeline
# llmdisc saved may hold, exactly: with skops 0.16 there are none. Anything else in a file is
# refused on load. Never trust by prefix: "builtins.eval" starts with "builtins.", and a
# FunctionTransformer or a vectorizer's analyzer would call it on the texts.
TRUSTED_TYPES: frozenset[str] = frozenset()


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
# skops trusts scikit-learn's and numpy's types; refuse a file that holds any other type.
trusted = {sorted(TRUSTED_TYPES)!r}  # the types beyond skops' defaults that llmdisc saves
untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in trusted]
if untrusted:
    raise ValueError(f"{{path}} holds types llmdisc never saves: {{untrusted}}; do not load it")
pipeline = sio.load(path, trusted=trusted)
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
        try:
            untrusted = sio.get_untrusted_types(file=path)
        except Exception as e:  # noqa: BLE001 - not a zip, no schema...: a damaged or foreign file
            raise LlmdiscError(f"{path} is not a readable skops file ({type(e).__name__}); save the model again") from None
        refused = sorted(set(untrusted) - TRUSTED_TYPES)
        if refused:
            raise LlmdiscError(f"refusing to load {path}: it holds types llmdisc never saves ({', '.join(refused)}); "
                               "load only folders you or llmdisc wrote")
        pipeline = sio.load(path, trusted=sorted(TRUSTED_TYPES))
        _check_pipeline(pipeline, type(self._estimator()), path)
        self.pipeline = pipeline


def _check_pipeline(pipeline: Any, estimator: type, path: Path) -> None:
    """Refuse a pipeline other than the one llmdisc saves, even when skops trusts all its types.

    skops trusts every scikit-learn class, including ``FunctionTransformer``, and a vectorizer's
    ``analyzer``, ``preprocessor`` and ``tokenizer`` may be callables: only the exact shape
    ``CountVectorizer`` (with its built-in word analyzer) then the approach's estimator is run.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    steps = [(name, type(step)) for name, step in getattr(pipeline, "steps", [])]
    expected = [("vectorizer", CountVectorizer), ("model", estimator)]
    vectorizer = pipeline.steps[0][1] if steps == expected else None
    if vectorizer is None or not (isinstance(vectorizer.analyzer, str) and vectorizer.preprocessor is None
                                  and vectorizer.tokenizer is None):
        found = ", ".join(f"{name}: {kind.__name__}" for name, kind in steps) or type(pipeline).__name__
        raise LlmdiscError(f"refusing to load {path}: it is not a pipeline llmdisc saves (found {found}; "
                           f"expected vectorizer: CountVectorizer, model: {estimator.__name__}); load only folders "
                           "you or llmdisc wrote")


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
