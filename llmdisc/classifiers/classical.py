"""The classical anchors: Naive Bayes (generative) and logistic regression (discriminative),
with two more discriminative baselines on the same features: a linear SVM and a random forest.

All see the same features, word n-gram counts from one ``CountVectorizer``, so the only
difference between them is the model: Naive Bayes fits P(x|y) P(y) and applies Bayes' rule;
logistic regression fits P(y|x) directly. This is the pair Ng & Jordan (2001) compared. The
linear SVM (margins, calibrated to probabilities by Platt scaling) and the random forest (a
non-linear model of the counts) tell whether logistic regression stands for "discriminative".

``class_weight`` (``None``, ``"balanced"`` or ``{label: weight}``) re-weights the classes:
scikit-learn's own ``class_weight`` for the discriminative models, and for Naive Bayes the class
prior (the training prior times the weights; ``"balanced"`` is the uniform prior).

Saved with skops (a safe, inspectable alternative to pickle): ``model.skops`` plus
``llmdisc_config.json`` with the label names. ``skops.io.load`` reads it back without llmdisc.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from llmdisc.classifiers.base import TextClassifier, register
from llmdisc.classifiers.class_weights import class_weight_indices, present_class_weight
from llmdisc.classifiers.skops_files import MODEL_FILE, load_skops
from llmdisc.errors import LlmdiscError, first_line
from llmdisc.plumbing.config import arg

if TYPE_CHECKING:
    import datasets

__all__ = [
    "NaiveBayesClassifier",
    "LogisticRegressionClassifier",
    "LinearSvmClassifier",
    "RandomForestTextClassifier",
]

# The types beyond skops' own defaults (scikit-learn's public estimators, numpy arrays) that a
# pipeline llmdisc saved may hold, exactly, by approach (with skops 0.16): a calibrated SVM keeps
# scikit-learn's private per-fold classifier and sigmoid; a forest keeps its trees' arrays.
# Anything else in a file is refused on load. Never trust by prefix: "builtins.eval" starts with
# "builtins.", and a FunctionTransformer or a vectorizer's analyzer would call it on the texts.
TRUSTED_BY_APPROACH: dict[str, frozenset[str]] = {
    "naive_bayes": frozenset(),
    "logistic_regression": frozenset(),
    "linear_svm": frozenset({"sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration"}),
    "random_forest": frozenset({"sklearn.tree._tree.Tree"}),
}
# Every type any of them trusts (what the model card's snippet and a foreign loader may allow).
TRUSTED_TYPES: frozenset[str] = frozenset().union(*TRUSTED_BY_APPROACH.values())


@dataclass
class BagOfWordsConfig:
    # Unigrams and bigrams by default: "not good" is then a feature of its own.
    ngram_range: tuple[int, int] = arg((1, 2), "smallest and largest n of the word n-grams")
    min_df: int = arg(1, "drop n-grams seen in fewer training texts than this")
    max_features: int | None = arg(None, "keep only the most frequent n-grams")
    binary: bool = arg(False, "count presence (0/1) instead of occurrences")
    lowercase: bool = arg(True, "lower-case texts before counting")
    class_weight: str | dict[str, float] | None = arg(
        None, "re-weight the classes: none, 'balanced' (inverse class frequency) or {label: weight} (YAML)"
    )


class _BagOfWordsClassifier(TextClassifier):
    """n-gram counts + a scikit-learn estimator; subclasses choose the estimator."""

    Config = BagOfWordsConfig
    hub_library = "sklearn"

    def _estimator(self, labels: np.ndarray):
        """The untrained estimator for training labels ``labels`` (class indices)."""
        raise NotImplementedError

    def _estimator_class(self) -> type:
        """The estimator's class: a loaded pipeline's last step must be exactly this."""
        raise NotImplementedError

    def _check_estimator(self, model: Any) -> str | None:
        """What is foreign inside a loaded estimator of the right class (None: nothing)."""
        return None

    def _class_weight(self, labels: np.ndarray) -> str | dict[int, float] | None:
        """The ``class_weight`` setting in class indices, for the classes present in ``labels``."""
        weights = class_weight_indices(self.config.class_weight, self.labels, self.name)
        return present_class_weight(weights, labels)

    def _check(self, labels: list[str]) -> None:
        class_weight_indices(self.config.class_weight, labels, self.name)

    def _fit_params(self, labels: np.ndarray) -> dict[str, Any]:
        """Extra arguments of the pipeline's ``fit`` (``model__sample_weight``...)."""
        return {}

    def _fit(self, texts: list[str], labels: np.ndarray, eval_data: datasets.Dataset | None) -> None:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.pipeline import Pipeline

        c = self.config
        self._check(self.labels)  # fit may be called without check (a notebook)
        vectorizer = CountVectorizer(
            ngram_range=tuple(c.ngram_range),
            min_df=c.min_df,
            max_features=c.max_features,
            binary=c.binary,
            lowercase=c.lowercase,
            # The default pattern drops one-letter words and splits "don't" in two; keep both.
            token_pattern=r"(?u)\b\w[\w']*\b",
        )
        self.pipeline = Pipeline([("vectorizer", vectorizer), ("model", self._estimator(labels))])
        try:
            self.pipeline.fit(texts, labels, **self._fit_params(labels))
        except ValueError as e:  # empty vocabulary, min_df too high, a bad alpha or C...
            raise LlmdiscError(f"{self.name} could not be trained: {first_line(e)}; check its settings") from None

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        probs = np.zeros((len(texts), len(self.labels)))
        # The estimator only knows classes seen in training; unseen ones get probability 0.
        probs[:, self.pipeline.classes_] = self.pipeline.predict_proba(texts)
        return probs

    def num_parameters(self) -> dict[str, int]:
        model = self.pipeline.named_steps["model"]
        if hasattr(model, "estimators_"):  # a forest: the trees' nodes
            n = sum(tree.tree_.node_count for tree in model.estimators_)
        elif hasattr(model, "calibrated_classifiers_"):  # a calibrated SVM: each fold's SVM and sigmoid
            n = sum(
                cc.estimator.coef_.size + cc.estimator.intercept_.size + 2 * len(cc.calibrators)
                for cc in model.calibrated_classifiers_
            )
        else:
            n = sum(
                a.size
                for a in (
                    getattr(model, k, None) for k in ("coef_", "intercept_", "feature_log_prob_", "class_log_prior_")
                )
                if a is not None
            )
        return {"total": int(n), "trainable": int(n)}

    def _card_usage(self, repo: str) -> tuple[str, str]:
        return (
            "scikit-learn and skops",
            f"""
import os

import numpy as np
import skops.io as sio
from huggingface_hub import hf_hub_download

repo = {repo!r}
path = os.path.join(repo, "{MODEL_FILE}") if os.path.isdir(repo) else hf_hub_download(repo, "{MODEL_FILE}")
# skops trusts scikit-learn's and numpy's types; refuse a file that holds any other type.
trusted = {sorted(TRUSTED_BY_APPROACH[self.name])!r}  # the types beyond skops' defaults that llmdisc saves
untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in trusted]
if untrusted:
    raise ValueError(f"{{path}} holds types llmdisc never saves: {{untrusted}}; do not load it")
pipeline = sio.load(path, trusted=trusted)
labels = {self.labels!r}  # llmdisc_config.json; pipeline.classes_ holds their indices
texts = ["a text to classify", "another one"]
probs = np.zeros((len(texts), len(labels)))
probs[:, pipeline.classes_] = pipeline.predict_proba(texts)
""",
        )

    def _card_limits(self) -> list[str]:
        return [
            "A bag of word n-grams: word order beyond "
            f"{max(self.config.ngram_range)}-grams, negation scope and words unseen in training are not modelled."
        ]

    def _save(self, folder: Path) -> None:
        # skops scans scikit-learn for its trusted types when imported (~3 s): import it only
        # when a model is saved or loaded, so that `llmdisc --help` stays quick.
        import skops.io as sio

        sio.dump(self.pipeline, folder / MODEL_FILE)

    def _load(self, folder: Path) -> None:
        path = folder / MODEL_FILE
        pipeline = load_skops(path, TRUSTED_BY_APPROACH[self.name])
        _check_pipeline(pipeline, self._estimator_class(), path)
        foreign = self._check_estimator(pipeline.steps[1][1])
        if foreign:
            raise LlmdiscError(
                f"refusing to load {path}: its {self.name} model holds {foreign}, which llmdisc never "
                "saves; load only folders you or llmdisc wrote"
            )
        self._check_saved_classes(pipeline.classes_, path)
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
    if vectorizer is None or not (
        isinstance(vectorizer.analyzer, str) and vectorizer.preprocessor is None and vectorizer.tokenizer is None
    ):
        found = ", ".join(f"{name}: {kind.__name__}" for name, kind in steps) or type(pipeline).__name__
        raise LlmdiscError(
            f"refusing to load {path}: it is not a pipeline llmdisc saves (found {found}; "
            f"expected vectorizer: CountVectorizer, model: {estimator.__name__}); load only folders "
            "you or llmdisc wrote"
        )


@register("naive_bayes")
class NaiveBayesClassifier(_BagOfWordsClassifier):
    """Multinomial Naive Bayes on word n-gram counts: the classic generative classifier."""

    paradigm = "generative"
    description = "Multinomial Naive Bayes on word n-gram counts: models P(x|y) P(y), classifies by Bayes' rule."

    @dataclass
    class Config(BagOfWordsConfig):
        alpha: float = arg(1.0, "additive (Laplace) smoothing of the n-gram counts")

    def _estimator(self, labels: np.ndarray):
        from sklearn.naive_bayes import MultinomialNB

        return MultinomialNB(alpha=self.config.alpha, class_prior=self._class_prior(labels))

    def _estimator_class(self) -> type:
        from sklearn.naive_bayes import MultinomialNB

        return MultinomialNB

    def _class_prior(self, labels: np.ndarray) -> list[float] | None:
        """P(y) for the classes present in ``labels``: their frequency times the class weights.

        Weighting the examples of class c by w_c multiplies its count, so the prior becomes
        n_c w_c / sum; "balanced" weights (n / (k n_c)) make it uniform. None: the frequencies.
        """
        weights = self._class_weight(labels)
        if weights is None:
            return None
        present, counts = np.unique(labels, return_counts=True)
        scaled = counts.astype(float) if weights != "balanced" else np.ones(len(present))
        if isinstance(weights, dict):
            scaled *= [weights[int(c)] for c in present]
        return list(scaled / scaled.sum())


@register("logistic_regression")
class LogisticRegressionClassifier(_BagOfWordsClassifier):
    """Logistic regression on the same n-gram counts: Naive Bayes' discriminative twin."""

    paradigm = "discriminative"
    description = "Logistic regression on word n-gram counts: models P(y|x) directly."

    @dataclass
    class Config(BagOfWordsConfig):
        C: float = arg(1.0, "inverse L2 regularisation strength")
        max_iter: int = arg(1000, "solver iterations at most")

    def _estimator(self, labels: np.ndarray):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=self.config.C, max_iter=self.config.max_iter, class_weight=self._class_weight(labels)
        )

    def _estimator_class(self) -> type:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression


@register("linear_svm")
class LinearSvmClassifier(_BagOfWordsClassifier):
    """A linear SVM on the same n-gram counts, its margins calibrated to probabilities."""

    paradigm = "discriminative"
    description = (
        "A linear SVM on word n-gram counts (hinge loss, max margin), its scores turned into "
        "probabilities by Platt scaling on cross-validation folds."
    )

    @dataclass
    class Config(BagOfWordsConfig):
        C: float = arg(1.0, "inverse L2 regularisation strength")
        max_iter: int = arg(1000, "solver iterations at most")

    def _estimator(self, labels: np.ndarray):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import LinearSVC

        smallest = int(np.unique(labels, return_counts=True)[1].min())
        if smallest < 2:
            # Platt scaling fits the sigmoid on held-out folds, each holding every class.
            rare = [self.labels[c] for c, n in zip(*np.unique(labels, return_counts=True)) if n < 2]
            raise LlmdiscError(
                f"linear_svm needs at least 2 training examples of each class it sees to calibrate "
                f"its probabilities; {', '.join(map(repr, rare))} has 1: add examples or use logistic_regression"
            )
        # No class_weight here: the weights go in as sample weights (see _fit_params).
        svm = LinearSVC(C=self.config.C, max_iter=self.config.max_iter)
        # cv folds are stratified: no more folds than the smallest class has examples.
        return CalibratedClassifierCV(svm, method="sigmoid", cv=min(3, smallest))

    def _fit_params(self, labels: np.ndarray) -> dict[str, Any]:
        # As sample weights, the class weights reach both the SVM and the Platt sigmoid; as the
        # SVM's class_weight only, the sigmoid (fitted unweighted on held-out folds) would learn
        # the training prior back and undo them.
        weights = self._class_weight(labels)
        if weights is None:
            return {}
        from sklearn.utils.class_weight import compute_sample_weight

        return {"model__sample_weight": compute_sample_weight(weights, labels)}

    def _estimator_class(self) -> type:
        from sklearn.calibration import CalibratedClassifierCV

        return CalibratedClassifierCV

    def _check_estimator(self, model: Any) -> str | None:
        from sklearn.calibration import _CalibratedClassifier, _SigmoidCalibration
        from sklearn.svm import LinearSVC

        parts = [("estimator", model.estimator, LinearSVC)]
        for i, cc in enumerate(getattr(model, "calibrated_classifiers_", None) or [None]):
            parts.append((f"calibrated_classifiers_[{i}]", cc, _CalibratedClassifier))
            if type(cc) is _CalibratedClassifier:
                parts.append((f"calibrated_classifiers_[{i}].estimator", cc.estimator, LinearSVC))
                parts += [
                    (f"calibrated_classifiers_[{i}].calibrators[{j}]", cal, _SigmoidCalibration)
                    for j, cal in enumerate(cc.calibrators)
                ]
        return _first_foreign(parts)


@register("random_forest")
class RandomForestTextClassifier(_BagOfWordsClassifier):
    """A random forest on the same n-gram counts: a non-linear discriminative baseline."""

    paradigm = "discriminative"
    description = (
        "A random forest on word n-gram counts: bagged decision trees, probabilities from the "
        "trees' leaf class frequencies."
    )
    takes_seed = True

    @dataclass
    class Config(BagOfWordsConfig):
        n_estimators: int = arg(200, "number of trees")
        max_depth: int | None = arg(None, "deepest a tree may grow (none: until its leaves are pure)")
        seed: int = arg(0, "random state of the bootstrap samples and feature draws")

    def _estimator(self, labels: np.ndarray):
        from sklearn.ensemble import RandomForestClassifier as Forest

        c = self.config
        # n_jobs=-1: every core, as torch uses them. The trees are independent and scikit-learn
        # builds them in threads, each from its own seeded draw, so any thread count gives the same
        # forest (one core took minutes per fit on SST-2's 67,349 sentences).
        return Forest(
            n_estimators=c.n_estimators,
            max_depth=c.max_depth,
            random_state=c.seed,
            class_weight=self._class_weight(labels),
            n_jobs=-1,
        )

    def _fit(self, texts: list[str], labels: np.ndarray, eval_data: datasets.Dataset | None) -> None:
        super()._fit(texts, labels, eval_data)
        # Predict on one core: threads add the trees' probabilities in the order they finish, so
        # the same forest would give answers that differ in the last bit from one call to the next.
        self.pipeline.named_steps["model"].n_jobs = 1

    def _estimator_class(self) -> type:
        from sklearn.ensemble import RandomForestClassifier as Forest

        return Forest

    def _check_estimator(self, model: Any) -> str | None:
        from sklearn.tree import DecisionTreeClassifier

        parts = [("estimator", model.estimator, DecisionTreeClassifier)]
        parts += [
            (f"estimators_[{i}]", tree, DecisionTreeClassifier)
            for i, tree in enumerate(getattr(model, "estimators_", None) or [None])
        ]
        return _first_foreign(parts)

    def _card_limits(self) -> list[str]:
        return super()._card_limits() + [
            "Trees split on single n-gram counts: with few training texts the forest "
            "is coarse and its probabilities are vote shares, not calibrated."
        ]


def _first_foreign(parts: list[tuple[str, Any, type]]) -> str | None:
    """``"where: Type"`` of the first part whose type is not exactly the expected one, else None."""
    return next((f"{where}: {type(obj).__name__}" for where, obj, kind in parts if type(obj) is not kind), None)
