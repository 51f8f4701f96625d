"""Class weights: the ``class_weight`` setting every approach that re-weights classes shares.

A user names classes by label (``{"spam": 5}``) or asks for ``balanced``; scikit-learn estimators
take a mapping of class index to weight, and Trainer losses a vector: both come from here.
"""

from __future__ import annotations

import numpy as np

from llmdisc.errors import LlmdiscError

__all__ = ["class_weight_indices", "class_weight_vector", "present_class_weight"]


def class_weight_indices(
    class_weight: str | dict[str, float] | None, labels: list[str], where: str
) -> str | dict[int, float] | None:
    """A ``class_weight`` setting with label names turned into class indices, or a one-line error.

    Args:
        class_weight: ``None``, ``"balanced"`` or a mapping of label name to a positive weight.
        labels: the data's label names, in order.
        where: the approach, for error messages.

    Returns:
        ``None``, ``"balanced"`` or ``{class index: weight}`` (classes not named weigh 1).
    """
    if class_weight is None or class_weight == "balanced":
        return class_weight
    if isinstance(class_weight, str):
        raise LlmdiscError(
            f"{where}.class_weight must be none, 'balanced' or a mapping label: weight, not {class_weight!r}"
        )
    unknown = [name for name in class_weight if name not in labels]
    if unknown:
        raise LlmdiscError(
            f"{where}.class_weight names unknown label(s) {', '.join(map(repr, unknown))}; "
            f"the labels are: {', '.join(labels)}"
        )
    weights = {}
    for name, weight in class_weight.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise LlmdiscError(f"{where}.class_weight[{name!r}] must be a positive number, not {weight!r}")
        weights[labels.index(name)] = float(weight)
    return {i: weights.get(i, 1.0) for i in range(len(labels))}


def class_weight_vector(
    class_weight: str | dict[str, float] | None, labels: list[str], y: np.ndarray, where: str
) -> np.ndarray | None:
    """One weight per class, for losses and decisions that take a vector (Trainer approaches).

    Args:
        class_weight: ``None``, ``"balanced"`` or a mapping of label name to a positive weight.
        labels: the data's label names, in order.
        y: the training labels (class indices): ``balanced`` gives class ``c`` the weight
            ``n / (k * count_c)``, as scikit-learn does (a class absent from ``y`` weighs 1).
        where: the approach, for error messages.

    Returns:
        A float64 array of ``len(labels)`` weights, or None for no weighting.
    """
    weights = class_weight_indices(class_weight, labels, where)
    if weights is None:
        return None
    if isinstance(weights, dict):
        return np.array([weights[i] for i in range(len(labels))], dtype=np.float64)
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(labels)).astype(np.float64)
    present = counts > 0
    out = np.ones(len(labels))
    out[present] = counts.sum() / (present.sum() * counts[present])
    return out


def present_class_weight(weights: str | dict[int, float] | None, labels: np.ndarray) -> str | dict[int, float] | None:
    """Keep only the classes present in ``labels``: scikit-learn refuses weights of unseen ones."""
    if not isinstance(weights, dict):
        return weights
    return {int(c): weights[int(c)] for c in np.unique(labels)}
