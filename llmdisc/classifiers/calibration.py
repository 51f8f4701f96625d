"""Calibration: temperature scaling (one number per trained classifier), Platt or isotonic.

A fine-tuned network is often over-confident: its top probability is higher than its accuracy.
Guo et al. (2017, "On Calibration of Modern Neural Networks") found that dividing the logits by
one temperature ``T`` fitted on held-out data (minimising the log loss) fixes most of it without
changing a single prediction: ``argmax`` of ``logits / T`` is ``argmax`` of the logits.

Every approach here returns probabilities, not logits; ``log p`` is the logits up to a constant
per row, which the softmax removes, so ``softmax(log p / T)`` is exactly temperature scaling of
whatever the model computed. That lets one function calibrate every approach, classical ones
included.

Platt (sigmoid) and isotonic calibration are scikit-learn's ``CalibratedClassifierCV`` on the
model's probabilities, exactly as scikit-learn does it for a fitted classifier's
``predict_proba``: two classes, one calibrator on the second class's probability; more, one per
class (one-vs-rest), each row normalised to sum to 1. They can change predictions (isotonic
flattens ranks into ties; with several classes the normalisation can reorder them), which
temperature scaling never does, so ``temperature`` stays the default; ``auto`` picks the method
with the lowest cross-validated log loss on the selection split.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from llmdisc.errors import LlmdiscError
from llmdisc.metrics.classification import ECE, EPS, LOG_LOSS

__all__ = ["CALIBRATION_METHODS", "FITTED_METHODS", "Calibration", "apply_temperature", "fit_temperature"]

#: The calibrations a classifier can hold.
FITTED_METHODS = ("temperature", "platt", "isotonic")
#: ``calibration`` settings of a comparison: a fitted method, ``auto`` (the one with the lowest
#: cross-validated log loss on the selection split) or ``none``.
CALIBRATION_METHODS = (*FITTED_METHODS, "auto", "none")
# scikit-learn's names for Platt and isotonic calibration.
_SKLEARN_METHOD = {"platt": "sigmoid", "isotonic": "isotonic"}
# Folds of the selection split that ``auto`` scores each method on.
_AUTO_FOLDS = 5

# Temperatures searched (in log space): wide enough for a 100x over- or under-confident model.
_LOG_T_BOUNDS = (np.log(1e-2), np.log(1e2))


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Rescale probabilities as if their logits were divided by ``temperature``.

    Args:
        probs: an ``(n, k)`` array of rows that sum to 1.
        temperature: ``T > 0``; ``T > 1`` softens, ``T < 1`` sharpens, 1 changes nothing.

    Returns:
        ``softmax(log(probs) / T)``, in float64; each row's argmax is unchanged.
    """
    if temperature <= 0:
        raise LlmdiscError(f"a temperature must be positive, got {temperature}")
    scaled = np.log(np.clip(np.asarray(probs, dtype=np.float64), EPS, 1.0)) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    out = np.exp(scaled)
    return out / out.sum(axis=1, keepdims=True)


def _log_loss(probs: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    scaled = apply_temperature(probs, temperature)
    return float(-np.log(np.clip(scaled[np.arange(len(labels)), labels], EPS, 1.0)).mean())


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the log loss of ``probs`` on ``labels``.

    A one-dimensional, convex problem in ``log T``: scipy's bounded Brent search solves it.

    Args:
        probs: ``(n, k)`` probabilities of held-out examples.
        labels: their ``n`` gold class indices.

    Returns:
        ``T`` in [0.01, 100].
    """
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        raise LlmdiscError("temperature scaling needs held-out examples; the selection split is empty")
    result = minimize_scalar(
        lambda log_t: _log_loss(probs, labels, float(np.exp(log_t))), bounds=_LOG_T_BOUNDS, method="bounded"
    )
    return float(np.exp(result.x))


def _check_method(method: str) -> None:
    if method not in FITTED_METHODS:
        raise LlmdiscError(f"unknown calibration method '{method}'; use one of {', '.join(FITTED_METHODS)}")


def _calibration_features(probs: np.ndarray) -> np.ndarray:
    """What scikit-learn calibrates for a classifier's ``predict_proba``: the second column with
    two classes, every column with more."""
    return probs[:, 1:] if probs.shape[1] == 2 else probs


def fit_one_vs_rest(probs: np.ndarray, labels: np.ndarray, method: str) -> list[dict[str, list[float]]]:
    """Fit scikit-learn's Platt or isotonic calibrators on given probabilities.

    The probabilities act as a frozen classifier's ``predict_proba`` inside
    ``CalibratedClassifierCV``, so the fitting is scikit-learn's own; only the fitted numbers are
    kept (JSON-friendly, saved with the model).

    Args:
        probs: ``(n, k)`` probabilities of held-out examples.
        labels: their gold class indices.
        method: ``platt`` or ``isotonic``.

    Returns:
        One dict per calibrated column: ``{"a": [a], "b": [b]}`` (Platt: ``1 / (1 + exp(a f + b))``)
        or ``{"x": [...], "y": [...]}`` (isotonic: the step function's thresholds, interpolated
        and clipped as scikit-learn's ``IsotonicRegression`` predicts).
    """
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import KFold

    class GivenProbabilities(ClassifierMixin, BaseEstimator):
        """A 'classifier' whose input is already its predict_proba."""

        def fit(self, X, y=None):  # noqa: N803 (scikit-learn's names)
            self.classes_ = np.arange(X.shape[1])
            return self

        def predict_proba(self, X):  # noqa: N803
            return X

        def predict(self, X):  # noqa: N803
            return X.argmax(axis=1)

    missing = sorted(set(range(probs.shape[1])) - set(labels.tolist()))
    if missing:
        raise LlmdiscError(
            f"{method} calibration fits one calibrator per class, and the held-out examples have "
            f"none of class {missing}; use temperature, or a selection split with every class"
        )
    frozen = FrozenEstimator(GivenProbabilities().fit(probs))
    # A frozen estimator is not refitted per fold, so the folds only split the prediction work:
    # KFold(2) needs no minimum per class.
    fitted = CalibratedClassifierCV(frozen, method=_SKLEARN_METHOD[method], cv=KFold(2)).fit(probs, labels)
    calibrators = fitted.calibrated_classifiers_[0].calibrators
    if method == "platt":
        return [{"a": [float(c.a_)], "b": [float(c.b_)]} for c in calibrators]
    return [{"x": c.X_thresholds_.tolist(), "y": c.y_thresholds_.tolist()} for c in calibrators]


def apply_one_vs_rest(probs: np.ndarray, parameters: list[dict[str, list[float]]]) -> np.ndarray:
    """``probs`` through fitted Platt or isotonic calibrators, normalised as scikit-learn does.

    Args:
        probs: ``(n, k)`` probabilities.
        parameters: :func:`fit_one_vs_rest`'s output.

    Returns:
        ``(n, k)`` float64 rows that sum to 1 (a row every calibrator sends to 0 becomes uniform).
    """
    features = _calibration_features(np.asarray(probs, dtype=np.float64))
    columns = []
    for f, p in zip(features.T, parameters):
        if "a" in p:
            columns.append(1.0 / (1.0 + np.exp(p["a"][0] * f + p["b"][0])))
        else:  # IsotonicRegression(out_of_bounds="clip").predict: interpolation, clipped at the ends
            columns.append(np.interp(f, p["x"], p["y"]))
    calibrated = np.stack(columns, axis=1)
    if probs.shape[1] == 2:
        return np.concatenate([1.0 - calibrated, calibrated], axis=1)
    total = calibrated.sum(axis=1, keepdims=True)
    uniform = np.full_like(calibrated, 1.0 / calibrated.shape[1])
    return np.divide(calibrated, total, out=uniform, where=total != 0)


def _cross_validated_log_loss(probs: np.ndarray, labels: np.ndarray, method: str) -> float:
    """Log loss of ``method`` on each fold of the selection split, fitted on the other folds."""
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(labels)[np.bincount(labels) > 0] if len(labels) else np.zeros(1, dtype=np.int64)
    folds = min(_AUTO_FOLDS, int(counts.min()))
    if folds < 2:
        raise LlmdiscError(
            "calibration 'auto' needs at least 2 held-out examples of every class it sees; "
            "use a larger selection split or pick a method (temperature)"
        )
    losses = []
    for fit_idx, score_idx in StratifiedKFold(folds, shuffle=True, random_state=0).split(probs, labels):
        calibration = Calibration.fit(probs[fit_idx], labels[fit_idx], method)
        losses.append(LOG_LOSS.function(calibration.apply(probs[score_idx]), labels[score_idx]))
    return float(np.mean(losses))


@dataclass
class Calibration:
    """A fitted calibration and what it changed on the data it was fitted on.

    Attributes:
        method: ``temperature``, ``platt`` or ``isotonic``.
        temperature: the fitted ``T`` (None for Platt and isotonic).
        fitted_on: how many held-out examples it was fitted on.
        before: ECE and log loss on those examples before calibrating.
        after: the same after.
        parameters: Platt's or isotonic's fitted numbers (see :func:`fit_one_vs_rest`).
        chosen_by: for ``auto``, each method's cross-validated log loss on the selection split.
    """

    method: str
    temperature: float | None
    fitted_on: int
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    parameters: list[dict[str, list[float]]] = field(default_factory=list)
    chosen_by: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, probs: np.ndarray, labels: np.ndarray, method: str = "temperature") -> Calibration:
        """Fit ``method`` on held-out ``probs`` and ``labels``.

        Args:
            probs: ``(n, k)`` probabilities of held-out examples.
            labels: their gold class indices.
            method: ``temperature`` (:func:`fit_temperature`), ``platt``, ``isotonic``
                (:func:`fit_one_vs_rest`) or ``auto``: the one of the three with the lowest log
                loss on held-out folds of these examples (5-fold), refitted on all of them.

        Returns:
            The fitted calibration.
        """
        labels = np.asarray(labels, dtype=np.int64)
        probs = np.asarray(probs, dtype=np.float64)
        if method == "auto":
            # Platt and isotonic need every class among the examples; else only the temperature competes.
            every_class = len(np.unique(labels)) == probs.shape[1]
            scores = {
                m: round(_cross_validated_log_loss(probs, labels, m), 6)
                for m in (FITTED_METHODS if every_class else ("temperature",))
            }
            chosen = cls.fit(probs, labels, min(scores, key=scores.get))
            chosen.chosen_by = scores
            return chosen
        _check_method(method)
        if len(labels) == 0:
            raise LlmdiscError("calibration needs held-out examples; the selection split is empty")
        if method == "temperature":
            calibration = cls(method, round(fit_temperature(probs, labels), 6), len(labels))
        else:
            calibration = cls(method, None, len(labels), parameters=fit_one_vs_rest(probs, labels, method))
        scaled = calibration.apply(probs)
        measured = (ECE, LOG_LOSS)
        calibration.before = {m.name: round(m.function(probs, labels), 6) for m in measured}
        calibration.after = {m.name: round(m.function(scaled, labels), 6) for m in measured}
        return calibration

    @classmethod
    def from_dict(cls, values: Any, n_labels: int, where: str = "temperature_scaling") -> Calibration:
        """Read back what ``dataclasses.asdict`` wrote (``llmdisc_config.json``), every field checked.

        Args:
            values: the saved mapping.
            n_labels: the classifier's number of labels: Platt and isotonic hold one calibrator
                per class (one for two classes).
            where: what to call it in errors.

        Returns:
            The calibration; a mapping that is not one (an unknown method or key, a temperature
            that is not a positive finite number, calibrators of the wrong number or shape) is a
            one-line error.
        """
        names = [f.name for f in fields(cls)]
        if not isinstance(values, dict) or not {"method", "temperature", "fitted_on"} <= set(values):
            raise LlmdiscError(
                f"{where} must be a mapping with method, temperature and fitted_on; save the model again"
            )
        unknown = sorted(set(values) - set(names))
        if unknown or values["method"] not in FITTED_METHODS:
            found = f"unknown key(s) {', '.join(unknown)}" if unknown else f"unknown method {values['method']!r}"
            raise LlmdiscError(f"{where} has {found} (methods: {', '.join(FITTED_METHODS)}); save the model again")
        c = cls(**values)
        if (
            isinstance(c.fitted_on, bool)
            or not isinstance(c.fitted_on, int)
            or not all(isinstance(d, dict) for d in (c.before, c.after, c.chosen_by))
        ):
            raise LlmdiscError(f"{where}: fitted_on must be a count, before and after mappings; save the model again")
        if c.method == "temperature":
            t = c.temperature
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not np.isfinite(t) or t <= 0:
                raise LlmdiscError(f"{where}.temperature must be a positive number, not {t!r}; save the model again")
            return c
        want = 1 if n_labels == 2 else n_labels
        keys = ("a", "b") if c.method == "platt" else ("x", "y")
        good = isinstance(c.parameters, list) and len(c.parameters) == want
        good = good and all(isinstance(p, dict) and set(p) == set(keys) for p in c.parameters)
        good = good and all(_numbers(p[k]) for p in c.parameters for k in keys)
        if not good:
            raise LlmdiscError(
                f"{where}.parameters must hold {want} {c.method} calibrator(s) of {' and '.join(keys)} "
                "number lists; save the model again"
            )
        return c

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """``probs`` as this calibration maps them."""
        if self.method == "temperature":
            return apply_temperature(probs, self.temperature)
        _check_method(self.method)
        return apply_one_vs_rest(probs, self.parameters)


def _numbers(values: Any) -> bool:
    """Whether ``values`` is a non-empty list of finite numbers (a saved calibrator's)."""
    return (
        isinstance(values, list)
        and bool(values)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in values)
    )
