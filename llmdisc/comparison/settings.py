"""The comparison's settings: one dataclass, declared once with one default each.

``llmdisc compare`` fills it from a recipe and its flags (its own config adds the data, the
approaches and what the command does after the grid); :func:`llmdisc.compare` takes it whole, or
its fields as keywords (``compare(approaches, data, sizes=[8, 32, "all"], seeds=3)``). Adding a
setting is one field here: the flag, the recipe key, the keyword and the default follow from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from llmdisc.errors import LlmdiscError
from llmdisc.lm.prompts import PromptSettings
from llmdisc.metrics.classification import ACCURACY, MACRO_F1, METRICS, Metric
from llmdisc.plumbing.config import SeedSettings, arg

__all__ = [
    "AUTO_METRIC",
    "COSTS",
    "IMBALANCE",
    "MIN_TEST_EXAMPLES",
    "CompareSettings",
    "VerdictSettings",
    "check_verdict_settings",
    "lead_split",
    "primary_metric",
]

#: ``metric: auto``: accuracy on balanced data, macro-F1 when the largest class has more than
#: :data:`IMBALANCE` times the examples of the smallest (a model calling everything the large
#: class then scores a high accuracy and a low macro-F1).
AUTO_METRIC = "auto"
IMBALANCE = 1.5
#: The costs that can decide "cheapest": what predicting costs (what ships) or what training costs.
COSTS = ("prediction", "training")
#: Fewer test examples than this cannot rank anything; the comparison refuses them up front.
MIN_TEST_EXAMPLES = 20


@dataclass
class VerdictSettings:
    """How the verdict ranks: the metric, the margin within which two approaches are as good, and
    the cost that picks the cheapest of those."""

    metric: str = arg(
        AUTO_METRIC,
        "the metric the verdict ranks by: auto (accuracy on balanced classes, macro_f1 when the largest "
        f"class has more than {IMBALANCE}x the examples of the smallest) or one of " + ", ".join(METRICS),
    )
    margin: float = arg(
        0.01,
        "how close to the best is as good as the best, in the metric's units: an approach is named equivalent "
        "only when two one-sided tests show its paired difference from the best within it",
    )
    cost: str = arg("prediction", "the cost that picks the cheapest of the equally good: prediction or training")


def primary_metric(setting: str, gold: Sequence[int], labels: Sequence[str]) -> tuple[Metric, str]:
    """The metric the verdict ranks by, and why, in a clause the verdict's first sentence ends with.

    Args:
        setting: ``auto`` or a metric's name (:data:`~llmdisc.metrics.classification.METRICS`).
        gold: the gold label ids of the split the verdict speaks of.
        labels: the label names.
    """
    counts = np.bincount(np.asarray(gold, dtype=np.int64), minlength=len(labels))
    present = counts[counts > 0]
    ratio = float(present.max() / present.min()) if len(present) else 1.0
    largest = labels[int(counts.argmax())] if int(counts.argmax()) < len(labels) else str(int(counts.argmax()))
    if setting != AUTO_METRIC:
        return METRICS[setting], "as asked (--metric)"
    if ratio > IMBALANCE:
        return MACRO_F1, (
            f"since the classes are imbalanced (the largest, {largest!r}, has {ratio:.1f}x the examples of the "
            "smallest), where accuracy rewards answering the largest class"
        )
    return ACCURACY, f"since the classes are balanced (the largest has {ratio:.1f}x the examples of the smallest)"


def check_verdict_settings(settings: VerdictSettings, gold: Sequence[int], labels: Sequence[str], split: str) -> None:
    """One line for a verdict setting the data cannot serve, before anything trains."""
    if settings.metric != AUTO_METRIC and settings.metric not in METRICS:
        raise LlmdiscError(f"unknown metric {settings.metric!r}; use auto or one of {', '.join(METRICS)}")
    if settings.cost not in COSTS:
        raise LlmdiscError(f"unknown cost {settings.cost!r}; use one of {', '.join(COSTS)}")
    metric = primary_metric(settings.metric, gold, labels)[0]
    if metric.name in (ACCURACY.name, MACRO_F1.name) and not 0 < settings.margin < 1:
        raise LlmdiscError(f"margin {settings.margin} is not in (0, 1); {metric.name} lies in [0, 1]: try 0.01")
    if not settings.margin > 0:
        raise LlmdiscError(f"margin {settings.margin} must be positive (the distance from the best that is as good)")
    if len(gold) < MIN_TEST_EXAMPLES:
        raise LlmdiscError(
            f"the {split} split has {len(gold)} examples; the verdict needs at least {MIN_TEST_EXAMPLES} "
            "to rank anything: add examples, or report on a larger split (--splits)"
        )
    present = len(set(int(g) for g in gold))
    if metric is MACRO_F1 and present < 2:
        raise LlmdiscError(
            f"the {split} split holds one class only, so macro-F1 cannot rank the approaches on it; "
            "use --metric accuracy, or a split with every class"
        )


@dataclass
class CompareSettings(VerdictSettings, PromptSettings, SeedSettings):
    """What a comparison runs, where it evaluates, and where it keeps its cells.

    ``seed`` (the first seed), ``verbalizers`` and ``task``, and the verdict's ``metric``,
    ``margin`` and ``cost`` come from the base classes.
    """

    splits: list[str] = arg(["validation", "test"], "splits to evaluate on (missing ones are skipped)")
    sizes: list[str] = arg(["all"], "training-set sizes for the learning curves, e.g. 8,32,128,all")
    seeds: int = arg(1, "seeds per size (each draws its own subsets)")
    drop_rates: list[float] = arg([0.0, 0.1, 0.25, 0.5], "robustness: fractions of words dropped from the texts")
    robustness_split: str = arg("test", "the split whose words are dropped")
    robustness_examples: int | None = arg(None, "drop words from a stratified subset of this many examples")
    selection_split: str | None = arg(
        "validation",
        "split that Trainer approaches pick their checkpoint on and temperatures are fitted on "
        "(none: last checkpoint, no temperature)",
    )
    holdout: int | None = arg(
        None,
        "hold out N stratified training examples as the selection split "
        "(for data whose only other labelled split is the one reported)",
    )
    calibration: str = arg(
        "temperature",
        "calibrate each trained run on the selection split: temperature, platt, "
        "isotonic, auto (lowest cross-validated log loss there) or none",
    )
    output_dir: str | None = arg(
        None,
        "where the cached runs go (none: no cache); the command writes its report there too "
        "(its default: outputs/compare-demo)",
    )
    resume: bool = arg(False, "reuse the runs cached in OUTPUT_DIR (after an interruption, or to add approaches)")
    overwrite: bool = arg(False, "discard the runs cached in OUTPUT_DIR and start again")
    baseline: bool = arg(True, "add the majority-class baseline (free, no training) as a row of the comparison")
    shard: str | None = arg(
        None,
        "run slice I of N of the grid only (1-based, e.g. 2/4), into a shared OUTPUT_DIR; "
        "then --resume without --shard writes the report",
    )


def lead_split(splits: Sequence[str]) -> str | None:
    """Of the evaluated ``splits``, the one the report leads with: ``test``, else the first.

    The comparison refuses a selection split equal to it, and the analysis reports on it.
    """
    return "test" if "test" in splits else (splits[0] if splits else None)
