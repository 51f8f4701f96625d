"""The verdict: the analysis's numbers as plain sentences a practitioner can act on.

Every sentence is computed from an :class:`~llmdisc.api.findings.Analysis` (change a number, the
sentence changes); the report prints them at the top, before any table. The verdict names an
approach as good as the best only where the analysis *showed* it (:mod:`llmdisc.analysis.decisions`),
never because a difference failed to reach significance, and recommends only among those.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from llmdisc.metrics.classification import ECE, METRICS

if TYPE_CHECKING:
    from llmdisc.api.findings import Analysis, Crossover, SizeVerdict

__all__ = [
    "verdict",
    "metric_sentence",
    "size_sentence",
    "recommendation_sentence",
    "crossover_sentence",
    "calibration_sentence",
    "degenerate_sentence",
]


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _value(analysis: Analysis, variant: str, size: int | None) -> str:
    metric = METRICS[analysis.metric]
    g = next(g for g in analysis.at(size) if g.variant == variant)
    return metric.format(g.metrics[metric.name].value)


def metric_sentence(analysis: Analysis) -> str:
    """What the verdict ranks by and why, what "as good as the best" means, and what the seeds count."""
    metric = METRICS[analysis.metric]
    # Short: with the verdict table above it, the sentences must still end on a laptop's first screen.
    seeds = (
        "With one seed per size, training variance is not measured (--seeds 3 measures it)."
        if analysis.seeds == 1
        else f"With {analysis.seeds} seeds per size, the intervals and tests resample seeds as well as test examples."
    )
    return (
        f"The verdict ranks by {metric.label} {analysis.metric_reason}. As good as the best means the 95% interval "
        f"of the paired difference lies within ±{analysis.margin:g} (two one-sided tests); worse means a paired "
        f"test shows it; both Holm-adjusted over the comparisons with the best at each size. {seeds}"
    )


def size_sentence(analysis: Analysis, decision: SizeVerdict) -> str:
    """At one size: the best, those shown as good, undecided and worse, the recommendation, the floor."""
    metric = METRICS[analysis.metric]
    size = decision.size
    where = "Without training examples" if size is None else f"With {size} training examples"
    text = f"{where}, the best by {metric.label} is {decision.best} ({decision.best_value.format(metric.fmt)})."
    if not decision.versus:
        return text
    if decision.equivalent:
        named = [f"{v} ({_value(analysis, v, size)})" for v in decision.equivalent]
        text += f" Shown as good (within ±{analysis.margin:g}): {_names(named)}."
    else:
        text += " No other approach is shown as good."
    if decision.undecided:
        n = next(g.examples for g in analysis.at(size) if g.variant == decision.best)
        needed = {v.other: v.examples_needed for v in decision.versus}
        named = [
            f"{v} ({_value(analysis, v, size)}"
            + (f"; about {needed[v]:,} test examples would decide it)" if needed[v] else ")")
            for v in decision.undecided
        ]
        text += f" Undecided at this test size ({n:,} examples): {_names(named)}."
    if decision.worse:
        text += f" Shown worse: {_names(decision.worse)}."
    return text + " " + recommendation_sentence(analysis, decision) + _floor(analysis, decision)


def recommendation_sentence(analysis: Analysis, decision: SizeVerdict) -> str:
    """The cheapest of the best and those shown as good, with both its costs."""
    costs = decision.costs[decision.recommended]
    which = "to predict" if analysis.cost == "prediction" else "to train"
    measured = costs["prediction"].value is not None or costs["training"].value is not None
    both = (
        f"{costs['prediction'].format()}; {costs['training'].format()}, model loading excluded"
        if measured
        else "its costs were not measured"
    )
    if not decision.equivalent:
        text = f"Recommended: {decision.recommended}, the only one shown as good as the best ({both})."
    else:
        text = (
            f"Recommended: {decision.recommended}, the cheapest {which} of the best and those shown as good ({both})."
        )
    if decision.equally_cheap:
        text += f" Equally cheap within the timings' spread: {_names(decision.equally_cheap)}."
    return text


def _floor(analysis: Analysis, decision: SizeVerdict) -> str:
    """What the majority-class baseline says about this size ("" when it says nothing)."""
    if decision.baseline is None:
        return ""
    metric = METRICS[analysis.metric]
    answer = f"always answering the majority class ({metric.label} {metric.format(decision.baseline_value.value)})"
    text = ""
    if decision.best == decision.baseline:
        text += f" Nothing beats {answer}."
    elif not decision.baseline_beaten:
        text += f" The best is not shown better than {answer}."
    if decision.below_baseline:
        text += f" Shown worse than {answer}: {_names(decision.below_baseline)}."
    return text


def crossover_sentence(analysis: Analysis, c: Crossover) -> str:
    """Where one trained approach overtakes the best zero-shot one (on the verdict's metric)."""
    metric = METRICS[analysis.metric]
    target = f"the best zero-shot approach, {c.zero_shot} ({metric.label} {c.zero_shot_accuracy:.4f})"
    if c.size is None:
        return f"{c.variant} does not beat {target} within the sizes tried (up to {c.largest} examples)."
    if c.smallest == c.largest:
        return (
            f"{c.variant} beats {target} at the only size tried ({c.smallest} examples); "
            "try smaller sizes to find where."
        )
    if c.from_smallest:
        return f"{c.variant} beats {target} from the smallest size tried ({c.smallest} examples) on."
    interval = ""
    if c.size.low is not None:
        high = "beyond the sizes tried" if not math.isfinite(c.size.high) else f"{c.size.high:.0f}"
        interval = f" (95% interval {c.size.low:.0f} to {high})"
    return f"{c.variant} beats {target} from about {c.size.value:.0f} training examples{interval}."


def calibration_sentence(analysis: Analysis) -> str | None:
    """Which approaches' ECE intervals (at their largest size) lie below the others'."""
    # The majority class's constant prior is calibrated by construction: not a model to rank here.
    groups = [g for g in analysis.summary if ECE.name in g.metrics and g.paradigm != "baseline"]
    if len(groups) < 2:
        return None
    best = min(groups, key=lambda g: g.metrics[ECE.name].value)
    e = best.metrics[ECE.name]
    text = f"Calibration: {best.variant} has the lowest ECE ({e.format()})"
    if e.high is None:
        return text + "."
    above = [
        g.variant
        for g in groups
        if g is not best and g.metrics[ECE.name].low is not None and g.metrics[ECE.name].low > e.high
    ]
    overlap = [g.variant for g in groups if g is not best and g.variant not in above]
    if not overlap:
        return text + "; its interval lies below every other approach's."
    if not above:
        return text + f", but its interval overlaps those of every other approach ({_names(overlap)})."
    return text + f"; its interval lies below those of {_names(above)} and overlaps those of {_names(overlap)}."


def degenerate_sentence(analysis: Analysis) -> str | None:
    """One sentence naming the runs that (nearly) always predict one class (see
    :func:`~llmdisc.api.records.degenerate_predictions`), or None when there are none."""
    found = [(g, r) for g in analysis.groups for r in g.records if r.degenerate]
    if not found:
        return None
    parts = [
        f"{g.variant} ({'zero-shot' if g.flat else f'{g.size} examples'}, "
        f"seed {r.seed if r.seed is not None else '-'}: {r.degenerate})"
        for g, r in found[:4]
    ]
    more = f" and {len(found) - 4} more" if len(found) > 4 else ""
    return (
        f"Degenerate runs, whose accuracy says little about their approach: {'; '.join(parts)}{more}. "
        "Check their label words, schedule or class weights before trusting their ranking."
    )


def verdict(analysis: Analysis) -> list[str]:
    """The verdict's sentences, in order: the metric, per size, the crossovers, calibration."""
    if analysis.split is None or not analysis.groups:
        return ["No approach ran successfully: there is nothing to compare."]
    out = [metric_sentence(analysis)]
    if analysis.decisions:
        out += [size_sentence(analysis, d) for d in analysis.decisions]
    else:
        out.append("Without per-example predictions nothing is tested: the values below are not ranked.")
    out += [crossover_sentence(analysis, c) for c in analysis.crossovers]
    if not analysis.crossovers and analysis.sizes != [None]:
        out.append("No zero-shot approach was run, so there is no crossover point to report.")
    for line in (calibration_sentence(analysis), degenerate_sentence(analysis)):
        if line:
            out.append(line)
    return out
