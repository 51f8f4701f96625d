"""The verdict: the analysis's numbers as plain sentences a practitioner can act on.

Every sentence is computed from an :class:`~llmdisc.api.findings.Analysis` (change a number, the
sentence changes); the report prints them at the top, before any table.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from llmdisc.metrics.classification import ACCURACY, ECE

if TYPE_CHECKING:
    from llmdisc.api.findings import Analysis, Crossover, Group

__all__ = ["verdict", "size_sentence", "crossover_sentence", "calibration_sentence", "degenerate_sentence"]


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _cost(g: Group) -> str:
    memory = g.costs.get("peak_rss_mib")
    return f"{g.seconds:.2f} s to train and predict" + (
        f", {memory:.0f} MiB peak memory" if memory is not None else ""
    )


def size_sentence(analysis: Analysis, size: int | None) -> str:
    """At one training size: the best approach with its interval, those not significantly worse, the
    cheapest of them."""
    groups = analysis.at(size)
    where = "Without training examples" if size is None else f"With {size} training examples"
    best = max(groups, key=lambda g: g.metrics[ACCURACY.name].value)
    text = f"{where}, the most accurate is {best.variant} ({ACCURACY.label} {best.metrics[ACCURACY.name].format()})"
    if len(groups) == 1:
        return text + "."
    tested = [(g, analysis.pair(best.variant, g.variant, size)) for g in groups if g is not best]
    if any(p is None for _, p in tested):
        return text + "; without per-example predictions, whether the others are worse is not tested."
    close = [g for g, p in tested if not p.significant]
    if not close:
        return (
            text + f", significantly better than every other (Holm-adjusted McNemar p < 0.05); it takes {_cost(best)}."
        )
    text += "; not significantly worse: " + _names(
        [
            f"{g.variant} ({g.metrics[ACCURACY.name].value:.4f}, adjusted "
            f"p = {analysis.pair(best.variant, g.variant, size).p_holm:.2g})"
            for g in close
        ]
    )
    cheapest = min([best] + close, key=lambda g: (g.seconds, g.costs.get("peak_rss_mib") or 0.0))
    return text + f". The cheapest of these is {cheapest.variant} ({_cost(cheapest)})."


def crossover_sentence(c: Crossover) -> str:
    """Where one trained approach overtakes the best zero-shot one."""
    target = f"the best zero-shot approach, {c.zero_shot} ({ACCURACY.label} {c.zero_shot_accuracy:.4f})"
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
    groups = [g for g in analysis.summary if ECE.name in g.metrics]
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
    """The verdict's sentences, in order: per size, the crossovers, calibration."""
    if analysis.split is None or not analysis.groups:
        return ["No approach ran successfully: there is nothing to compare."]
    out = [size_sentence(analysis, size) for size in analysis.sizes]
    out += [crossover_sentence(c) for c in analysis.crossovers]
    if not analysis.crossovers and analysis.sizes != [None]:
        out.append("No zero-shot approach was run, so there is no crossover point to report.")
    for line in (calibration_sentence(analysis), degenerate_sentence(analysis)):
        if line:
            out.append(line)
    return out
