"""What the verdict may say at each size: the best, who is shown as good, who is shown worse, who is undecided.

"Not significantly worse" is not "as good": with a thousand test examples a difference of several
points can fail to reach significance, and a recommendation built on that failure sends users to
an approach that is worse on their data. So an approach is named as good as the best only when it
is *shown* to be: two one-sided tests put the paired difference within a practical margin (the 95%
interval of the difference lies inside ``±margin``). One shown worse is named worse; one shown
neither is undecided at this test size, with the number of test examples that would decide it.
The family of comparisons Holm corrects is the one the verdict makes at a size: each approach
against that size's best, once for the difference tests and once for the equivalence tests.

Costs rank the best and those shown as good: the cheapest by the chosen cost (prediction by
default), where two costs within the measurements' own spread are equally cheap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from llmdisc.api.findings import ALPHA, WORSE, Cost, Estimate, Group, SizeVerdict, Versus
from llmdisc.comparison.settings import COSTS
from llmdisc.metrics.classification import ACCURACY, Metric

__all__ = ["TIE_FRACTION", "POWER", "decide", "examples_needed", "group_cost", "paired_test", "versus"]

#: Costs closer than their spreads plus this fraction of the smaller one are equally cheap: a best
#: of three on a shared machine still moves by a few percent between runs.
TIE_FRACTION = 0.1
#: The power the "test examples needed" aims at.
POWER = 0.8
_Z_TWO_SIDED = 1.959963984540054  # the 95% interval: each side at 2.5%
_Z_POWER = 0.8416212335729143  # 80% power


def _estimate(value: float, resampled: np.ndarray) -> Estimate:
    low, high = np.quantile(resampled, [0.025, 0.975])
    return Estimate(float(value), float(low), float(high))


def _p_tail(resampled: np.ndarray, at_least: float | None = None, at_most: float | None = None) -> float:
    """The bootstrap's one-sided p-value: the share of resamples beyond the bound (+1 smoothed, so
    never 0 from a finite number of resamples)."""
    beyond = (resampled >= at_least) if at_least is not None else (resampled <= at_most)
    return float((beyond.sum() + 1) / (len(resampled) + 1))


def paired_test(correct_a: np.ndarray, correct_b: np.ndarray) -> tuple[int, int, float]:
    """McNemar's exact test of two classifiers' per-example correctness on the same examples.

    Returns:
        (examples only ``a`` gets right, examples only ``b`` gets right, the exact p-value).
    """
    from statsmodels.stats.contingency_tables import mcnemar

    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    table = [[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]]
    return table[0][1], table[1][0], float(mcnemar(table, exact=True).pvalue)


def examples_needed(advantage: float, per_example_variance: float, margin: float) -> int | None:
    """Test examples at which the difference test or the equivalence test would reach 80% power.

    Normal approximations for a paired difference with per-example variance ``v``: the difference
    test needs ``(z + z_power)^2 v / d^2``, the equivalence test ``(z + z_power)^2 v / (margin - d)^2``
    (``z`` of the two-sided 95% level, as the interval the verdict reads). The smaller is returned;
    None when the observed difference sits on the margin and is 0 at once (neither can decide).
    """
    d, v = abs(advantage), max(per_example_variance, 0.0)
    k = (_Z_TWO_SIDED + _Z_POWER) ** 2 * v
    needed = []
    if d > 0:
        needed.append(k / d**2)
    if d < margin:
        needed.append(k / (margin - d) ** 2)
    return max(1, math.ceil(min(needed))) if needed else None


def versus(best: Group, other: Group, metric: Metric, margin: float, size: int | None = None) -> Versus:
    """``other`` against ``best`` (same examples, same resample draws): the advantage, both tests,
    and the test examples that would decide it."""
    sign = 1.0 if metric.higher_is_better else -1.0
    value = sign * (best.metrics[metric.name].value - other.metrics[metric.name].value)
    resampled = sign * (best.resampled[metric.name] - other.resampled[metric.name])
    n = len(best.gold)
    one_seed = best.seeds == 1 and other.seeds == 1
    if metric is ACCURACY and one_seed:
        # McNemar on the examples only one of them gets right; the per-example variance of the
        # difference comes from the same discordant pairs.
        only_best, only_other, p_difference = paired_test(
            best.mean_probabilities.argmax(1) == best.gold, other.mean_probabilities.argmax(1) == other.gold
        )
        variance = (only_best + only_other) / n - value**2
        test = "McNemar's exact test"
    else:
        p_difference = min(1.0, 2 * min(_p_tail(resampled, at_least=0.0), _p_tail(resampled, at_most=0.0)))
        variance = n * float(np.var(resampled))
        test = "paired bootstrap" + (" over seeds and examples" if not one_seed else "")
    p_equivalence = min(1.0, 2 * max(_p_tail(resampled, at_least=margin), _p_tail(resampled, at_most=-margin)))
    return Versus(
        size,
        best.variant,
        other.variant,
        _estimate(value, resampled),
        float(p_difference),
        float(p_equivalence),
        examples_needed=examples_needed(value, variance, margin),
        test=test,
    )


def _holm(pvalues: Sequence[float]) -> list[float]:
    if not pvalues:
        return []
    from statsmodels.stats.multitest import multipletests

    return [float(q) for q in multipletests(list(pvalues), alpha=ALPHA, method="holm")[1]]


def group_cost(g: Group, basis: str) -> Cost:
    """``g``'s cost by ``basis`` (``prediction``: ms per example; ``training``: seconds), from the
    warm repeated measurements; the spread adds the seeds' range to the repeats'."""
    key, spread_key, unit = (
        ("predict_ms", "predict_spread_ms", "ms per example to predict")
        if basis == "prediction"
        else ("train_warm_seconds", "train_spread_seconds", "s to train")
    )
    values = [getattr(r.costs, key) for r in g.records if getattr(r.costs, key) is not None]
    if not values:
        return Cost(g.variant, None, 0.0, unit)
    spreads = [getattr(r.costs, spread_key) or 0.0 for r in g.records]
    return Cost(g.variant, float(min(values)), float(max(spreads) + (max(values) - min(values))), unit)


def _cheapest(candidates: list[Group], metric: Metric, costs: dict[str, Cost]) -> tuple[Group, list[str]]:
    """The cheapest of ``candidates`` by ``costs`` (variant -> its cost on the deciding basis);
    among those equally cheap, the better by the metric. Returns (it, the others equally cheap)."""
    measured = [g for g in candidates if costs[g.variant].value is not None]
    if not measured:
        return candidates[0], []
    low = min(measured, key=lambda g: costs[g.variant].value)

    def tied(g: Group) -> bool:
        a, b = costs[g.variant], costs[low.variant]
        return a.value - b.value <= a.spread + b.spread + TIE_FRACTION * b.value

    ties = [g for g in measured if tied(g)]
    sign = 1.0 if metric.higher_is_better else -1.0
    pick = max(ties, key=lambda g: sign * g.metrics[metric.name].value)
    return pick, [g.variant for g in ties if g is not pick]


def decide(groups: list[Group], size: int | None, metric: Metric, margin: float, basis: str) -> SizeVerdict | None:
    """The verdict at one size from the groups that compete there (None: fewer than one with
    resampled predictions)."""
    able = [g for g in groups if metric.name in g.resampled and g.mean_probabilities is not None]
    if not able:
        return None
    sign = 1.0 if metric.higher_is_better else -1.0
    best = max(able, key=lambda g: sign * g.metrics[metric.name].value)
    others = [g for g in able if g is not best]
    family = [versus(best, g, metric, margin, size) for g in others]
    for v, p_diff, p_eq in zip(
        family, _holm([v.p_difference for v in family]), _holm([v.p_equivalence for v in family])
    ):
        v.p_difference_holm, v.p_equivalence_holm = p_diff, p_eq
    grouped = {d: [v.other for v in family if v.decision == d] for d in ("shown as good", "undecided", WORSE)}
    shown_good = [g for g in others if g.variant in grouped["shown as good"]]
    costs = {g.variant: {b: group_cost(g, b) for b in COSTS} for g in able}
    pick, ties = _cheapest([best, *shown_good], metric, {v: c[basis] for v, c in costs.items()})
    verdict = SizeVerdict(
        size,
        best.variant,
        best.metrics[metric.name],
        grouped["shown as good"],
        grouped["undecided"],
        grouped[WORSE],
        pick.variant,
        ties,
        costs,
        family,
    )
    _against_baseline(verdict, able, metric, margin)
    return verdict


def _against_baseline(verdict: SizeVerdict, groups: list[Group], metric: Metric, margin: float) -> None:
    """Whether the best is shown better than the majority-class baseline, and who is shown worse than it."""
    baseline = next((g for g in groups if g.paradigm == "baseline"), None)
    if baseline is None:
        return
    verdict.baseline, verdict.baseline_value = baseline.variant, baseline.metrics[metric.name]
    if baseline.variant == verdict.best:
        verdict.baseline_beaten = False
        return
    mine = next(v for v in verdict.versus if v.other == baseline.variant)
    verdict.baseline_beaten = mine.decision == WORSE
    sign = 1.0 if metric.higher_is_better else -1.0
    value = baseline.metrics[metric.name].value
    below = [g for g in groups if g is not baseline and sign * (value - g.metrics[metric.name].value) > 0]
    tests = [versus(baseline, g, metric, margin, verdict.size) for g in below]
    adjusted = _holm([v.p_difference for v in tests])
    verdict.below_baseline = [v.other for v, q in zip(tests, adjusted) if q < ALPHA]
