"""The seed papers' claims about generative and discriminative classifiers, tested on the runs.

Each :class:`Claim` ends *supported*, *contradicted* or *inconclusive at this sample size*, with the
numbers behind it, computed from an :class:`~llmdisc.analysis.Analysis`. Tested here:

* generative models need fewer examples to reach their best (Ng & Jordan, 2002: Naive Bayes
  against logistic regression);
* discriminative models are cheaper to train and predict;
* generative models degrade more gracefully as words go missing (the slope of accuracy against
  the word-drop rate, generative against discriminative member of each pair).

Not tested yet (named in the report): LoRA channel against verbalizer (the records do not name
the head), synthetic training data, anomaly detection.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .metrics import ACCURACY

if TYPE_CHECKING:
    from .analysis import Analysis, Group, RobustnessCurve

__all__ = ["Claim", "claims", "SUPPORTED", "CONTRADICTED", "INCONCLUSIVE", "NOT_TESTED", "COST_MARGIN"]

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive at this sample size"
NOT_TESTED = "not tested"
#: Timings are single measurements: a paradigm is "cheaper" when its median is this many times lower.
COST_MARGIN = 1.25


@dataclass
class Claim:
    """One claim, its outcome and the numbers behind it."""

    claim: str
    outcome: str
    evidence: str


def _first(analysis: Analysis, approach: str) -> str | None:
    return next((g.variant for g in analysis.summary if g.approach == approach), None)


def _reaches_best(analysis: Analysis, variant: str) -> tuple[int, float] | None:
    """The smallest size whose accuracy is not significantly below the variant's best size
    (the paired bootstrap interval of the difference reaches 0), and that best accuracy."""
    groups = [g for g in analysis.groups if g.variant == variant]
    if len(groups) < 2 or any(g.resampled_accuracy is None for g in groups):
        return None
    best = max(groups, key=lambda g: g.metrics[ACCURACY.name].value)
    for g in groups:  # in increasing size
        if np.quantile(g.resampled_accuracy - best.resampled_accuracy, 0.975) >= 0:
            return g.size, best.metrics[ACCURACY.name].value
    return None


def _fewer_examples(analysis: Analysis) -> Claim:
    claim = "Generative models need fewer examples to reach their best (Ng & Jordan: Naive Bayes vs logistic regression)"
    nb, lr = _first(analysis, "naive_bayes"), _first(analysis, "logistic_regression")
    reached = {v: _reaches_best(analysis, v) for v in (nb, lr) if v}
    if len(reached) < 2 or None in reached.values():
        return Claim(claim, NOT_TESTED, "needs naive_bayes and logistic_regression at two or more sizes, with "
                                        "per-example predictions")
    (n_nb, a_nb), (n_lr, a_lr) = reached[nb], reached[lr]
    evidence = (f"{nb} is within noise of its best ({a_nb:.4f}) from {n_nb} examples, {lr} (best {a_lr:.4f}) from "
                f"{n_lr} (the smallest size whose paired 95% interval to the best size reaches 0)")
    outcome = SUPPORTED if n_nb < n_lr else CONTRADICTED if n_nb > n_lr else INCONCLUSIVE
    return Claim(claim, outcome, evidence)


def _cheaper(analysis: Analysis) -> Claim:
    claim = "Discriminative models are cheaper to train and predict"
    by: dict[str, list[Group]] = {}
    for g in analysis.summary:
        by.setdefault(g.paradigm, []).append(g)
    if not by.get("generative") or not by.get("discriminative"):
        return Claim(claim, NOT_TESTED, "needs at least one approach of each paradigm")
    gen = statistics.median(g.seconds for g in by["generative"])
    disc = statistics.median(g.seconds for g in by["discriminative"])
    ratio = gen / disc if disc > 0 else float("inf")
    outcome = SUPPORTED if ratio > COST_MARGIN else CONTRADICTED if ratio < 1 / COST_MARGIN else INCONCLUSIVE
    return Claim(claim, outcome, f"median train + predict time at each approach's largest size: generative "
                                 f"{gen:.2f} s (of {len(by['generative'])}), discriminative {disc:.2f} s "
                                 f"(of {len(by['discriminative'])}); one timing per run, so a factor of {COST_MARGIN} "
                                 "either way is needed to decide")


def _robustness_pairs(analysis: Analysis) -> list[tuple[RobustnessCurve, RobustnessCurve]]:
    """(generative, discriminative) pairs: Naive Bayes / logistic regression, and the most accurate
    approach of each paradigm."""
    curves = {c.variant: c for c in analysis.robustness if c.resampled_slope is not None}
    pairs = []
    nb, lr = _first(analysis, "naive_bayes"), _first(analysis, "logistic_regression")
    if nb in curves and lr in curves:
        pairs.append((curves[nb], curves[lr]))
    best = {}
    for g in sorted(analysis.summary, key=lambda g: -g.metrics[ACCURACY.name].value):
        if g.variant in curves:
            best.setdefault(g.paradigm, curves[g.variant])
    pair = (best.get("generative"), best.get("discriminative"))
    if None not in pair and pair not in pairs and len(pair[0].rates) == len(pair[1].rates):
        pairs.append(pair)
    return pairs


def _graceful(analysis: Analysis) -> list[Claim]:
    claim = "Generative models handle missing words more gracefully"
    out = []
    for gen, disc in _robustness_pairs(analysis):
        difference = gen.slope.value - disc.slope.value
        resampled = gen.resampled_slope - disc.resampled_slope
        low, high = np.quantile(resampled, [0.025, 0.975])
        outcome = SUPPORTED if low > 0 else CONTRADICTED if high < 0 else INCONCLUSIVE
        out.append(Claim(f"{claim} ({gen.variant} vs {disc.variant})", outcome,
                         f"slope of accuracy per unit drop rate: {gen.variant} {gen.slope.format()}, {disc.variant} "
                         f"{disc.slope.format()}; difference {difference:.4f} [{low:.4f}, {high:.4f}]"))
    if not out:
        out.append(Claim(claim, NOT_TESTED, "needs robustness curves (--drop-rates) of a generative and a "
                                            "discriminative approach, with per-example predictions"))
    return out


def claims(analysis: Analysis) -> list[Claim]:
    """The claims computable from the analysis, in a fixed order."""
    if analysis.split is None:
        return []
    return [_fewer_examples(analysis), _cheaper(analysis), *_graceful(analysis)]
