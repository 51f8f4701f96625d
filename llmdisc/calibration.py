"""Temperature scaling: one number per trained classifier that makes its confidence honest.

A fine-tuned network is often over-confident: its top probability is higher than its accuracy.
Guo et al. (2017, "On Calibration of Modern Neural Networks") found that dividing the logits by
one temperature ``T`` fitted on held-out data (minimising the log loss) fixes most of it without
changing a single prediction: ``argmax`` of ``logits / T`` is ``argmax`` of the logits.

Every approach here returns probabilities, not logits; ``log p`` is the logits up to a constant
per row, which the softmax removes, so ``softmax(log p / T)`` is exactly temperature scaling of
whatever the model computed. That lets one function calibrate every approach, classical ones
included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import LlmdiscError
from .metrics import ECE, EPS, LOG_LOSS

__all__ = ["CALIBRATION_METHODS", "Calibration", "apply_temperature", "fit_temperature"]

#: ``calibration`` settings of a comparison: ``temperature``, or ``none``.
CALIBRATION_METHODS = ("temperature", "none")

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
    result = minimize_scalar(lambda log_t: _log_loss(probs, labels, float(np.exp(log_t))),
                             bounds=_LOG_T_BOUNDS, method="bounded")
    return float(np.exp(result.x))


@dataclass
class Calibration:
    """A fitted temperature and what it changed on the data it was fitted on.

    Attributes:
        method: ``temperature``.
        temperature: the fitted ``T``.
        fitted_on: how many held-out examples it was fitted on.
        before: ECE and log loss on those examples before scaling.
        after: the same after scaling.
    """

    method: str
    temperature: float
    fitted_on: int
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, probs: np.ndarray, labels: np.ndarray) -> Calibration:
        """Fit a temperature on held-out ``probs`` and ``labels`` (see :func:`fit_temperature`)."""
        labels = np.asarray(labels, dtype=np.int64)
        temperature = fit_temperature(probs, labels)
        scaled = apply_temperature(probs, temperature)
        measured = (ECE, LOG_LOSS)
        return cls("temperature", round(temperature, 6), len(labels),
                   before={m.name: round(m.function(probs, labels), 6) for m in measured},
                   after={m.name: round(m.function(scaled, labels), 6) for m in measured})

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """``probs`` as this calibration rescales them."""
        return apply_temperature(probs, self.temperature)
