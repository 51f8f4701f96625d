"""The seed papers' claims about generative and discriminative classifiers, tested on the runs.

Each :class:`Claim` ends *supported*, *contradicted* or *inconclusive at this sample size*, with the
numbers behind it, computed from an :class:`~llmdisc.api.findings.Analysis`. Tested here:

* generative models need fewer examples to reach their best (Ng & Jordan, 2002: Naive Bayes
  against logistic regression; LoRA's channel head, generative, against its discriminative
  verbalizer head);
* discriminative models are cheaper to train and predict;
* generative models degrade more gracefully as words go missing (the slope of accuracy against
  the word-drop rate, generative against discriminative member of each pair);
* generative models can create new data: an approach trained on n texts an LM generated
  against the same approach trained on n real examples, paired on the same test examples, with
  a non-inferiority margin (:data:`SYNTHETIC_MARGIN`);
* generative models detect anomalies: the AUROC of the LM's surprisal, supported when its
  interval lies above 0.5.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from llmdisc.comparison.anomaly import SHUFFLED
from llmdisc.metrics.classification import METRICS

if TYPE_CHECKING:
    from llmdisc.api.findings import Analysis, Group, RobustnessCurve

__all__ = [
    "Claim",
    "claims",
    "SUPPORTED",
    "CONTRADICTED",
    "INCONCLUSIVE",
    "NOT_TESTED",
    "COST_MARGIN",
    "SYNTHETIC_MARGIN",
]

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive at this sample size"
NOT_TESTED = "not tested"
#: Timings are single measurements: a paradigm is "cheaper" when its median is this many times lower.
COST_MARGIN = 1.25
#: Synthetic texts "stand in" for real ones when their accuracy is at most this much below (the
#: paired interval's lower end above -margin); they fall short when the upper end is below it.
SYNTHETIC_MARGIN = 0.05


@dataclass
class Claim:
    """One claim, its outcome and the numbers behind it."""

    claim: str
    outcome: str
    evidence: str


def _first(analysis: Analysis, approach: str) -> str | None:
    """The first variant of ``approach`` trained on real data."""
    return next((g.variant for g in analysis.summary if g.approach == approach and not g.records[0].generator), None)


def _reaches_best(analysis: Analysis, variant: str) -> tuple[int, float] | None:
    """The smallest size whose value of the verdict's metric is not significantly worse than at the
    variant's best size (the paired bootstrap interval of the difference reaches 0), and that best."""
    metric = METRICS[analysis.metric]
    sign = 1.0 if metric.higher_is_better else -1.0
    groups = [g for g in analysis.groups if g.variant == variant]
    if len(groups) < 2 or any(metric.name not in g.resampled for g in groups):
        return None
    best = max(groups, key=lambda g: sign * g.metrics[metric.name].value)
    for g in groups:  # in increasing size
        if np.quantile(sign * (g.resampled[metric.name] - best.resampled[metric.name]), 0.975) >= 0:
            return g.size, best.metrics[metric.name].value
    return None


def _fewer_examples(
    analysis: Analysis, generative: str | None, discriminative: str | None, pair: str, needs: str
) -> Claim:
    """Whether the generative variant is within noise of its best from fewer examples than the
    discriminative one (each at its own best; both need two or more sizes)."""
    claim = f"Generative models need fewer examples to reach their best ({pair})"
    reached = {v: _reaches_best(analysis, v) for v in (generative, discriminative) if v}
    if len(reached) < 2 or None in reached.values():
        return Claim(claim, NOT_TESTED, f"needs {needs} at two or more sizes, with per-example predictions")
    (n_gen, a_gen), (n_disc, a_disc) = reached[generative], reached[discriminative]
    evidence = (
        f"{generative} is within noise of its best ({a_gen:.4f}) from {n_gen} examples, {discriminative} "
        f"(best {a_disc:.4f}) from {n_disc} (the smallest size whose paired 95% interval to the best size "
        "reaches 0)"
    )
    outcome = SUPPORTED if n_gen < n_disc else CONTRADICTED if n_gen > n_disc else INCONCLUSIVE
    return Claim(claim, outcome, evidence)


def _lora_heads(analysis: Analysis) -> tuple[str | None, str | None]:
    """The first LoRA variant of each paradigm with two or more sizes: the channel head is the
    generative one, the verbalizer (or sequence) head the discriminative one."""
    curves = {v for v, c in analysis.curves.items() if len(c.sizes) >= 2}
    first = {}
    for g in analysis.summary:
        if g.approach == "lora" and g.variant in curves:
            first.setdefault(g.paradigm, g.variant)
    return first.get("generative"), first.get("discriminative")


def _synthetic(analysis: Analysis) -> list[Claim]:
    """Each variant trained on generated texts against the same approach on as many real ones."""
    claim = "Generative models can create new data"
    out = []
    for syn in [g for g in analysis.summary if g.records[0].generator]:
        real = next((g for g in analysis.summary if g.approach == syn.approach and not g.records[0].generator), None)
        if real is None:
            continue
        shared = [h for h in analysis.groups if h.variant == real.variant and h.size == syn.size]
        if not shared or analysis.metric not in syn.resampled or analysis.metric not in shared[0].resampled:
            out.append(
                Claim(
                    f"{claim} ({syn.variant} vs {real.variant})",
                    NOT_TESTED,
                    f"needs {real.variant} at {syn.size} examples too, with per-example predictions",
                )
            )
            continue
        real_n = shared[0]
        metric = METRICS[analysis.metric]
        sign = 1.0 if metric.higher_is_better else -1.0
        a_syn, a_real = syn.metrics[metric.name].value, real_n.metrics[metric.name].value
        low, high = np.quantile(sign * (syn.resampled[metric.name] - real_n.resampled[metric.name]), [0.025, 0.975])
        pair = analysis.pair(syn.variant, real.variant, syn.size)
        outcome = SUPPORTED if low > -SYNTHETIC_MARGIN else CONTRADICTED if high < -SYNTHETIC_MARGIN else INCONCLUSIVE
        out.append(
            Claim(
                f"{claim}: {syn.size} texts written by {syn.records[0].generator} train {syn.approach} "
                f"about as well as {syn.size} real examples ({syn.variant} vs {real.variant})",
                outcome,
                f"{metric.label} {a_syn:.4f} on generated texts, {a_real:.4f} on real ones; difference "
                f"{sign * (a_syn - a_real):.4f} [{low:.4f}, {high:.4f}] (paired bootstrap, positive: generated better)"
                + (f", McNemar p = {pair.p_value:.3g} (Holm {pair.p_holm:.3g})" if pair else "")
                + f"; supported when the interval's lower end is above -{SYNTHETIC_MARGIN}, contradicted when its "
                f"upper end is below it",
            )
        )
    if not out:
        out.append(
            Claim(
                claim,
                NOT_TESTED,
                "needs an approach trained on synthetic texts (an entry with "
                "synthetic: {model: ...}) beside the same approach on real data",
            )
        )
    return out


def _anomalies(analysis: Analysis) -> Claim:
    claim = "Generative models detect anomalies"
    a = analysis.anomaly
    if a is None:
        return Claim(
            claim,
            NOT_TESTED,
            "needs an LM's surprisal scores (anomaly_model; the comparison picks the "
            "LM of its zero-shot or LoRA approaches by default)",
        )
    what = "shuffled-word copies from the texts" if a.anomaly == SHUFFLED else f"'{a.anomaly}' texts from the rest"
    outcome = SUPPORTED if a.auroc.low > 0.5 else CONTRADICTED if a.auroc.high < 0.5 else INCONCLUSIVE
    return Claim(
        f"{claim}: {a.model}'s per-token surprisal tells {what}",
        outcome,
        f"AUROC {a.auroc.format()} (stratified bootstrap) over {a.normal} normal and {a.anomalies} anomalous "
        f"{a.split} texts; mean surprisal {a.surprisal_normal:.2f} vs {a.surprisal_anomalies:.2f} nats per "
        "token; 0.5 is chance: supported when the interval is above it, contradicted when below",
    )


def _cheaper(analysis: Analysis) -> Claim:
    claim = "Discriminative models are cheaper to train and predict"
    by: dict[str, list[Group]] = {}
    for g in analysis.summary:
        if not g.records[0].generator:  # a run on generated texts pays for the generator's compute
            by.setdefault(g.paradigm, []).append(g)
    if not by.get("generative") or not by.get("discriminative"):
        return Claim(claim, NOT_TESTED, "needs at least one approach of each paradigm")
    gen = statistics.median(g.seconds for g in by["generative"])
    disc = statistics.median(g.seconds for g in by["discriminative"])
    ratio = gen / disc if disc > 0 else float("inf")
    outcome = SUPPORTED if ratio > COST_MARGIN else CONTRADICTED if ratio < 1 / COST_MARGIN else INCONCLUSIVE
    return Claim(
        claim,
        outcome,
        f"median train + predict time at each approach's largest size: generative "
        f"{gen:.2f} s (of {len(by['generative'])}), discriminative {disc:.2f} s "
        f"(of {len(by['discriminative'])}); one timing per run, so a factor of {COST_MARGIN} "
        "either way is needed to decide",
    )


def _robustness_pairs(analysis: Analysis) -> list[tuple[RobustnessCurve, RobustnessCurve]]:
    """(generative, discriminative) pairs: Naive Bayes / logistic regression, the LoRA channel /
    verbalizer heads (the same LM and examples: only the direction of the likelihood differs),
    and the most accurate approach of each paradigm."""
    curves = {c.variant: c for c in analysis.robustness if c.resampled_slope is not None}
    pairs = []
    for gen, disc in (
        (_first(analysis, "naive_bayes"), _first(analysis, "logistic_regression")),
        _lora_heads(analysis),
    ):
        if gen in curves and disc in curves and len(curves[gen].rates) == len(curves[disc].rates):
            pairs.append((curves[gen], curves[disc]))
    best = {}
    metric = METRICS[analysis.metric]
    sign = 1.0 if metric.higher_is_better else -1.0
    for g in sorted(analysis.summary, key=lambda g: -sign * g.metrics[metric.name].value):
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
        out.append(
            Claim(
                f"{claim} ({gen.variant} vs {disc.variant})",
                outcome,
                f"slope of accuracy per unit drop rate: {gen.variant} {gen.slope.format()}, {disc.variant} "
                f"{disc.slope.format()}; difference {difference:.4f} [{low:.4f}, {high:.4f}]",
            )
        )
    if not out:
        out.append(
            Claim(
                claim,
                NOT_TESTED,
                "needs robustness curves (--drop-rates) of a generative and a "
                "discriminative approach, with per-example predictions",
            )
        )
    return out


def claims(analysis: Analysis) -> list[Claim]:
    """The claims computable from the analysis, in a fixed order."""
    if analysis.split is None:
        return []
    nb, lr = _first(analysis, "naive_bayes"), _first(analysis, "logistic_regression")
    return [
        _fewer_examples(
            analysis, nb, lr, "Ng & Jordan: Naive Bayes vs logistic regression", "naive_bayes and logistic_regression"
        ),
        _fewer_examples(
            analysis,
            *_lora_heads(analysis),
            "LoRA channel vs LoRA verbalizer",
            "a LoRA channel head and a LoRA verbalizer head",
        ),
        _cheaper(analysis),
        *_graceful(analysis),
        *_synthetic(analysis),
        _anomalies(analysis),
    ]
