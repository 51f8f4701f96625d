"""The typed result of one analysis: what the report, the plots and a notebook user read.

:func:`llmdisc.analysis.analyse.analyse` builds an :class:`Analysis` from a comparison's records; the
verdict (:mod:`llmdisc.analysis.verdict`) and the claims (:mod:`llmdisc.analysis.claims`) read it, and the report
renders it. These classes hold numbers and compute nothing beyond formatting.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from llmdisc.api.records import RunRecord

__all__ = [
    "Cost",
    "EQUIVALENT",
    "SizeVerdict",
    "UNDECIDED",
    "Versus",
    "WORSE",
    "ALPHA",
    "Analysis",
    "AnomalyResult",
    "ConfidentError",
    "Crossover",
    "Curve",
    "Disagreement",
    "Estimate",
    "Group",
    "Pair",
    "RobustnessCurve",
    "TemplateSpread",
]

#: The significance level of the paired tests (after Holm's correction).
ALPHA = 0.05


@dataclass
class Estimate:
    """A value with its 95% interval (``low``/``high`` None where no interval could be drawn)."""

    value: float
    low: float | None = None
    high: float | None = None

    def format(self, fmt: str = "{:.4f}") -> str:
        """``0.8500 [0.8000, 0.9000]``, or just the value without an interval."""
        if self.low is None or self.high is None:
            return fmt.format(self.value)
        return f"{fmt.format(self.value)} [{fmt.format(self.low)}, {fmt.format(self.high)}]"


@dataclass
class Group:
    """One variant at one training size on the report split, its seeds pooled.

    Attributes:
        size: the training examples (None for a zero-shot approach, which applies at every size).
        metrics: metric name -> estimate (with interval where predictions were kept).
        costs: cost field -> mean over seeds (train and predict seconds, memory).
        seconds: training plus prediction seconds (mean over seeds).
        records: the group's records, first seed first.
    """

    variant: str
    approach: str
    paradigm: str
    size: int | None
    seeds: int
    examples: int
    metrics: dict[str, Estimate]
    costs: dict[str, float]
    records: list[RunRecord] = field(repr=False)
    # Metric name -> its (B,) bootstrap resamples (the same draws for every group: paired), and the
    # seed-averaged probabilities and gold labels (empty / None: predictions not kept).
    resampled: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    mean_probabilities: np.ndarray | None = field(default=None, repr=False)
    gold: np.ndarray | None = field(default=None, repr=False)

    @property
    def resampled_accuracy(self) -> np.ndarray | None:
        return self.resampled.get("accuracy")

    @property
    def flat(self) -> bool:
        return self.size is None

    @property
    def seconds(self) -> float:
        return (self.costs.get("train_seconds") or 0.0) + (self.costs.get("predict_seconds") or 0.0)

    @property
    def size_label(self) -> str:
        return "zero-shot" if self.flat else str(self.size)


@dataclass
class Curve:
    """One variant's accuracy, and the verdict's metric, by training size (one flat value for a
    zero-shot approach)."""

    variant: str
    paradigm: str
    flat: bool
    sizes: list[int]
    accuracy: list[Estimate]
    seeds: list[int]
    metric: str = "accuracy"
    values: list[Estimate] = field(default_factory=list)  # the verdict metric's, by size


@dataclass
class Pair:
    """Two approaches at one training size, on the same examples (``a`` the more accurate).

    Attributes:
        size: the training size (None: both are zero-shot).
        difference: accuracy of ``a`` minus that of ``b``, with its paired bootstrap interval.
        only_a, only_b: examples only ``a`` (only ``b``) gets right, on seed-averaged predictions.
        p_value: McNemar's exact test; ``p_holm`` the Holm-adjusted one.
    """

    size: int | None
    a: str
    b: str
    difference: Estimate
    only_a: int
    only_b: int
    p_value: float
    p_holm: float = 1.0

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA


#: What a comparison with the best at one size showed about another approach.
EQUIVALENT, WORSE, UNDECIDED = "shown as good", "shown worse", "undecided"


@dataclass
class Versus:
    """One approach against the best at one training size, on the verdict's metric.

    Attributes:
        size: the training size (None: zero-shot approaches only).
        advantage: how much better the best is, in the metric's units (at least 0 at the point
            estimate), with its paired 95% interval (seeds resampled as well as examples).
        p_difference: the test of no difference: McNemar's exact test for accuracy with one seed
            each, else the paired bootstrap; ``p_difference_holm`` Holm-adjusted over the other
            approaches at this size.
        p_equivalence: two one-sided tests that the advantage lies within the margin, as
            ``2 * max`` of the one-sided bootstrap p-values (below 0.05 exactly when the paired 95%
            interval lies within the margin); ``p_equivalence_holm`` Holm-adjusted likewise.
        examples_needed: the test examples at which the difference test or the equivalence test
            (whichever needs fewer) would reach 80% power, from the paired difference's observed
            per-example variance (for accuracy with one seed, the discordant pairs); None when
            neither could.
        test: the difference test's name.
    """

    size: int | None
    best: str
    other: str
    advantage: Estimate
    p_difference: float
    p_equivalence: float
    p_difference_holm: float = 1.0
    p_equivalence_holm: float = 1.0
    examples_needed: int | None = None
    test: str = ""

    @property
    def decision(self) -> str:
        """:data:`EQUIVALENT` (within the margin, even where measurably below), :data:`WORSE`, or
        :data:`UNDECIDED` (neither shown at this test size)."""
        if self.p_equivalence_holm < ALPHA:
            return EQUIVALENT
        return WORSE if self.p_difference_holm < ALPHA else UNDECIDED


@dataclass
class Cost:
    """One approach's cost as the verdict compares it: a warm, repeated measurement.

    ``value`` is the least of the repeats (ms per example to predict, or seconds to train without
    loading models); ``spread`` their max - min (the seeds' too), within which two costs are equal.
    """

    variant: str
    value: float | None
    spread: float
    unit: str

    def format(self) -> str:
        if self.value is None:
            return "not measured"
        return f"{self.value:.3g} {self.unit}"


@dataclass
class SizeVerdict:
    """The verdict at one training size: the best, the three groups, the recommendation.

    Attributes:
        best, best_value: the approach with the best point estimate of the metric, and its estimate.
        equivalent, undecided, worse: the others by their :class:`Versus` decision.
        recommended: the cheapest (by ``cost``) of the best and those shown as good; among
            those equally cheap within the measurements' spread, the better by the metric.
        equally_cheap: the others as cheap as ``recommended`` within that spread.
        costs: variant -> its prediction and training :class:`Cost`.
        versus: each other approach against the best.
        baseline: the majority-class baseline's variant and estimate here (None: not in the comparison).
        baseline_beaten: whether the best is shown better than the baseline.
        below_baseline: the approaches shown worse than always answering the majority class.
    """

    size: int | None
    best: str
    best_value: Estimate
    equivalent: list[str]
    undecided: list[str]
    worse: list[str]
    recommended: str
    equally_cheap: list[str]
    costs: dict[str, dict[str, Cost]]
    versus: list[Versus]
    baseline: str | None = None
    baseline_value: Estimate | None = None
    baseline_beaten: bool | None = None
    below_baseline: list[str] = field(default_factory=list)


@dataclass
class Crossover:
    """The training size from which ``variant`` beats the best zero-shot approach.

    ``size`` is None when it does not within the sizes tried; ``from_smallest`` when it already
    does at the smallest size. ``size.high`` is ``inf`` when some resamples never cross.
    """

    variant: str
    zero_shot: str
    zero_shot_accuracy: float
    size: Estimate | None
    from_smallest: bool
    smallest: int
    largest: int


@dataclass
class RobustnessCurve:
    """Accuracy against the word-drop rate, and its least-squares slope (accuracy per unit rate)."""

    variant: str
    paradigm: str
    rates: list[float]
    accuracy: list[Estimate]
    slope: Estimate
    resampled_slope: np.ndarray | None = field(default=None, repr=False)


@dataclass
class TemplateSpread:
    """A zero-shot variant given several templates: each template's accuracy alone (mean over
    seeds), and the range they span, ``lowest`` to ``highest``."""

    variant: str
    templates: dict[str, float]
    lowest: float
    highest: float


@dataclass
class Disagreement:
    """A test example the approaches disagree on: its text, gold label and each one's prediction."""

    index: int
    text: str | None
    gold: str
    predictions: dict[str, str]
    agreement: float  # the share of approaches that give the most common prediction


@dataclass
class ConfidentError:
    """One of an approach's most confident wrong predictions."""

    variant: str
    index: int
    text: str | None
    gold: str
    predicted: str
    confidence: float


@dataclass
class AnomalyResult:
    """What the analysis reports of :class:`~llmdisc.comparison.anomaly.AnomalyScores`: the AUROC of
    surprisal, with its interval.

    Attributes:
        normal, anomalies: how many texts of each kind were scored.
        surprisal_normal, surprisal_anomalies: their mean surprisal (nats per token).
    """

    model: str
    split: str
    anomaly: str
    normal: int
    anomalies: int
    surprisal_normal: float
    surprisal_anomalies: float
    auroc: Estimate


@dataclass
class Analysis:
    """Everything the report states, computed once from the records (see :func:`analyse`).

    Attributes:
        split: the split reported on (None: nothing ran).
        method: how the intervals and tests were computed, in one paragraph.
        labels: the label names.
        groups: every (variant, size) on ``split``; ``summary`` the largest size of each variant.
        curves: variant -> learning curve.
        pairs: every paired comparison (Holm-adjusted together).
        sizes: the training sizes the verdict speaks of (``[None]`` with zero-shot approaches only).
        crossovers: per trained variant, where it beats the best zero-shot approach.
        robustness: per variant with a robustness curve.
        template_spreads: per variant that averages several prompt templates.
        anomaly: the AUROC of an LM's surprisal at telling anomalies apart (None: not measured).
        disagreements, confident_errors: examples showing how the approaches differ.
        verdict: the sentences at the top of the report; ``claims`` the tested claims.
        notes: what could not be computed, and why.
        metric, metric_reason: the metric the verdict, crossovers and ranking claims use, and why.
        margin: how far from the best counts as as good (in the metric's units).
        cost: the cost that picks the cheapest (``prediction`` or ``training``).
        seeds: the most seeds any approach ran with at one size (1: training variance unmeasured).
        decisions: the verdict at each size (:class:`SizeVerdict`).
    """

    split: str | None
    method: str
    labels: list[str]
    groups: list[Group] = field(default_factory=list)
    summary: list[Group] = field(default_factory=list)
    curves: dict[str, Curve] = field(default_factory=dict)
    pairs: list[Pair] = field(default_factory=list)
    sizes: list[int | None] = field(default_factory=list)
    crossovers: list[Crossover] = field(default_factory=list)
    robustness: list[RobustnessCurve] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)
    confident_errors: list[ConfidentError] = field(default_factory=list)
    template_spreads: list[TemplateSpread] = field(default_factory=list)
    anomaly: AnomalyResult | None = None
    verdict: list[str] = field(default_factory=list)
    claims: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    metric: str = "accuracy"
    metric_reason: str = ""
    margin: float = 0.01
    cost: str = "prediction"
    seeds: int = 1
    decisions: list[SizeVerdict] = field(default_factory=list)

    def at(self, size: int | None) -> list[Group]:
        """The groups that compete at ``size``: those trained on it, and every zero-shot one."""
        return [g for g in self.groups if g.size == size or g.flat]

    def pair(self, a: str, b: str, size: int | None) -> Pair | None:
        """The comparison of ``a`` and ``b`` at ``size`` (either order), if it was made."""
        for p in self.pairs:
            if {p.a, p.b} == {a, b} and (p.size == size or p.size is None):
                return p
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (what ``results.json`` holds under ``analysis``)."""

        def clean(obj: Any) -> Any:
            if isinstance(obj, dict):
                return {k: clean(v) for k, v in obj.items()}
            if isinstance(obj, (list, tuple)):
                return [clean(v) for v in obj]
            if isinstance(obj, float) and not math.isfinite(obj):
                return None
            return obj

        groups = [
            {
                "variant": g.variant,
                "approach": g.approach,
                "paradigm": g.paradigm,
                "size": g.size_label,
                "seeds": g.seeds,
                "examples": g.examples,
                "costs": g.costs,
                "metrics": {k: asdict(e) for k, e in g.metrics.items()},
            }
            for g in self.groups
        ]
        return clean(
            {
                "split": self.split,
                "method": self.method,
                "metric": self.metric,
                "metric_reason": self.metric_reason,
                "margin": self.margin,
                "cost": self.cost,
                "seeds": self.seeds,
                "verdict": self.verdict,
                "decisions": [_decision_dict(d) for d in self.decisions],
                "groups": groups,
                "pairs": [
                    asdict(p) | {"size": "zero-shot" if p.size is None else p.size, "significant": p.significant}
                    for p in self.pairs
                ],
                "crossovers": [asdict(c) for c in self.crossovers],
                "robustness": [
                    {k: v for k, v in asdict(r).items() if k != "resampled_slope"} for r in self.robustness
                ],
                "disagreements": [asdict(d) for d in self.disagreements],
                "confident_errors": [asdict(e) for e in self.confident_errors],
                "template_spreads": [asdict(t) for t in self.template_spreads],
                "anomaly": asdict(self.anomaly) if self.anomaly else None,
                "claims": [asdict(c) for c in self.claims],
                "notes": self.notes,
            }
        )


def _decision_dict(d: SizeVerdict) -> dict[str, Any]:
    """A :class:`SizeVerdict` for ``analysis.json``: its groups, costs and each comparison with the best."""
    out = asdict(d) | {"size": "zero-shot" if d.size is None else d.size}
    out["versus"] = [asdict(v) | {"decision": v.decision} for v in d.versus]
    return out
