"""One analysis of a comparison, computed once: intervals, paired tests, crossovers, the verdict.

:func:`analyse` turns the records of :func:`llmdisc.compare` (with their per-example
predictions) into an :class:`~llmdisc.api.findings.Analysis`; the report, the plots and a notebook user read that
object and compute nothing themselves.

The statistics:

* **Intervals**: a 95% percentile bootstrap over the evaluated examples (:data:`METHOD`). Every
  approach is resampled with the same draws of examples, so a difference between two approaches
  is paired; where an approach ran with several seeds, each draw takes the same examples from
  every seed's predictions (the seeds pooled). Metrics come from :data:`~llmdisc.metrics.classification.METRICS`.
  ECE's interval is shifted by the bootstrap's estimate of its bias (:data:`BIAS_SHIFTED`): a
  resample repeats examples, which leaves fewer distinct examples per bin and so raises a binned
  calibration error; for a well-calibrated model the raw percentile interval can lie wholly above
  the estimate (SST-2: ECE 0.0167, percentile interval [0.0185, 0.0549]).
* **Paired comparisons**: the accuracy difference of each pair at a shared training size, with
  its paired bootstrap interval, and McNemar's exact test (statsmodels) on the seed-averaged
  predictions; the p-values are Holm-adjusted over every pair of the report.
* **Crossovers**: the training size from which a trained approach beats the best zero-shot one,
  interpolated on the learning curve in log size (see :mod:`llmdisc.analysis.verdict` for the sentences).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llmdisc.analysis.decisions import decide, paired_test
from llmdisc.api.findings import (
    ALPHA,
    Analysis,
    ConfidentError,
    Crossover,
    Curve,
    Disagreement,
    Estimate,
    Group,
    Pair,
    RobustnessCurve,
    TemplateSpread,
)
from llmdisc.api.records import Costs, RunRecord
from llmdisc.comparison.anomaly import AnomalyScores, anomaly_result
from llmdisc.comparison.settings import VerdictSettings, lead_split, primary_metric
from llmdisc.metrics.classification import ACCURACY, BRIER, ECE, LOG_LOSS, MACRO_F1, Metric

__all__ = [
    "analyse",
    "bootstrap_metrics",
    "paired_test",
    "crossover_size",
    "method_text",
    "METHOD",
    "N_RESAMPLES",
    "BOOTSTRAP_SEED",
    "INTERVAL_METRICS",
    "BIAS_SHIFTED",
    "MEAN_COSTS",
    "by_variant",
    "failed_runs",
    "failures",
    "report_split",
]

#: Bootstrap resamples, and the seed of their draws (fixed: the same report every time).
N_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
#: The metrics that get an interval, in the report's order.
INTERVAL_METRICS: tuple[Metric, ...] = (ACCURACY, MACRO_F1, ECE, LOG_LOSS, BRIER)
#: Metrics whose resampled values are biased upward (binning): their interval is the percentile
#: interval moved by (estimate - mean of the resamples), so it measures the spread around the
#: estimate, not the resampling's own bias; clipped at 0, below which they cannot go.
BIAS_SHIFTED: tuple[Metric, ...] = (ECE,)


#: The cost fields averaged over seeds (the parameter counts are the same for every seed).
MEAN_COSTS = tuple(f.name for f in dataclasses.fields(Costs) if not f.name.startswith("parameters_"))


def report_split(records: Sequence[RunRecord]) -> str | None:
    """The split the report leads with (:func:`~llmdisc.comparison.settings.lead_split` of the
    successful records' splits)."""
    return lead_split([r.split for r in records if r.ok])


def by_variant(records: Sequence[RunRecord], split: str) -> dict[str, list[RunRecord]]:
    """The successful records on ``split``, grouped by variant in order of first appearance."""
    out: dict[str, list[RunRecord]] = {}
    for r in records:
        if r.ok and r.split == split:
            out.setdefault(r.variant, []).append(r)
    return out


def failures(records: Sequence[RunRecord]) -> list[RunRecord]:
    """One record per variant that failed (at any size or seed), with its error."""
    seen, out = set(), []
    for r in records:
        if not r.ok and r.variant not in seen:
            seen.add(r.variant)
            out.append(r)
    return out


def failed_runs(records: Sequence[RunRecord]) -> tuple[int, int]:
    """(failed, all) runs in ``records``: a run is one (variant, size, seed), whatever its splits."""
    runs: dict[tuple, bool] = {}
    for r in records:
        key = (r.variant, r.size, r.seed)
        runs[key] = runs.get(key, False) or not r.ok
    return sum(runs.values()), len(runs)


def method_text(n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> str:
    """How the intervals and tests are computed, in one paragraph (the report prints it)."""
    return (
        f"95% intervals: percentile bootstrap over the evaluated examples ({n_resamples} resamples drawn with "
        f"numpy's default_rng, seed {seed}); every approach is resampled with the same draws, so differences "
        "are paired, and an approach run with several seeds contributes every seed's prediction of each drawn "
        "example (seeds pooled). Paired comparisons: accuracy difference with its paired bootstrap interval, "
        "and McNemar's exact test (statsmodels) on the seed-averaged predictions (argmax of the mean "
        "probability over seeds), Holm-adjusted over every pair in the report; 'significant' is adjusted "
        f"p < {ALPHA}. ECE's interval is moved by the bootstrap's estimate of its bias (the estimate minus the "
        "mean of the resamples), since resampling repeats examples and so inflates a binned calibration error."
    )


METHOD = method_text()


def _estimate(value: float, resampled: np.ndarray | None) -> Estimate:
    if resampled is None or not len(resampled):
        return Estimate(float(value))
    low, high = np.quantile(resampled, [0.025, 0.975])
    return Estimate(float(value), float(low), float(high))


def _macro_f1_resampled(predicted: np.ndarray, gold: np.ndarray, k: int) -> np.ndarray:
    """Macro-F1 of each row of ``(B, m)`` predictions, from its per-class counts.

    The same definition as :func:`llmdisc.metrics.classification.macro_f1` (classes that occur, true or predicted;
    tested equal to it), counted in one pass: scikit-learn's ``f1_score`` costs ~20 ms a call,
    minutes for a thousand resamples of every approach.
    """
    f1, present = np.zeros(predicted.shape[0]), np.zeros(predicted.shape[0])
    for c in range(k):
        p, g = predicted == c, gold == c
        tp, fp, fn = (p & g).sum(axis=1), (p & ~g).sum(axis=1), (~p & g).sum(axis=1)
        denominator = 2 * tp + fp + fn
        f1 += np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)
        present += denominator > 0
    return f1 / np.maximum(present, 1)


def bootstrap_metrics(
    probabilities: Sequence[np.ndarray],
    gold: np.ndarray,
    draws: np.ndarray,
    metrics: Sequence[Metric] = INTERVAL_METRICS,
    seed_draws: np.ndarray | None = None,
) -> tuple[dict[str, Estimate], dict[str, np.ndarray]]:
    """Each metric of the seeds' pooled predictions, with its percentile bootstrap interval.

    Args:
        probabilities: one ``(n, k)`` array per seed, rows in the order of ``gold``.
        gold: the ``(n,)`` gold labels.
        draws: ``(B, n)`` example indices, one resample per row (shared across approaches).
        metrics: the metrics to estimate.
        seed_draws: ``(B, S)`` seed indices, one resample of the ``S`` seeds per row: a
            hierarchical bootstrap, so that an approach whose runs vary by seed is not ranked on one
            lucky draw. None: every resample pools every seed (with one seed, the same thing).

    Returns:
        (metric name -> estimate, metric name -> its ``(B,)`` resamples).
    """
    probs = np.stack([np.asarray(p, dtype=np.float64) for p in probabilities])  # (S, n, k)
    seeds, n, k = probs.shape
    pooled, pooled_gold = probs.reshape(seeds * n, k), np.tile(gold, seeds)
    picks = np.broadcast_to(np.arange(seeds), (len(draws), seeds)) if seed_draws is None else seed_draws  # (B, S)
    predicted = probs.argmax(axis=2)  # (S, n)
    # (B, S, n): resample b's seeds, each read at resample b's examples.
    chosen = np.take_along_axis(predicted[picks], np.broadcast_to(draws[:, None, :], (len(draws), seeds, n)), axis=2)
    gold_drawn = gold[draws]  # (B, n)
    estimates, resamples = {}, {}
    for m in metrics:
        value = m.function(pooled, pooled_gold)
        if m is ACCURACY:
            resampled = (chosen == gold_drawn[:, None, :]).mean(axis=(1, 2))
        elif m is MACRO_F1:
            resampled = _macro_f1_resampled(chosen.reshape(len(draws), -1), np.tile(gold_drawn, (1, seeds)), k)
        else:
            resampled = np.array(
                [m.function(probs[s][:, d].reshape(-1, k), np.tile(gold[d], seeds)) for s, d in zip(picks, draws)]
            )
        if m in BIAS_SHIFTED:
            resampled = np.maximum(resampled + (value - resampled.mean()), 0.0)
        estimates[m.name], resamples[m.name] = _estimate(value, resampled), resampled
    return estimates, resamples


def crossover_size(sizes: Sequence[int], accuracy: Sequence[float], target: float) -> tuple[float | None, bool]:
    """The size from which a learning curve first exceeds ``target``, interpolated in log size.

    Returns:
        (the size, or None when no size tried exceeds it; whether the smallest size already does).
    """
    acc = np.asarray(accuracy, dtype=float)
    above = np.flatnonzero(acc > target)
    if not len(above):
        return None, False
    i = int(above[0])
    if i == 0:
        return float(sizes[0]), True
    t = (target - acc[i - 1]) / (acc[i] - acc[i - 1])
    return float(math.exp(math.log(sizes[i - 1]) + t * (math.log(sizes[i]) - math.log(sizes[i - 1])))), False


def _groups(records: Sequence[RunRecord], split: str, draws: Any, full: set[tuple], metric: Metric) -> list[Group]:
    """Every (variant, size) on ``split``; all metrics get intervals for the keys in ``full``,
    accuracy and the verdict's ``metric`` for the others (the learning curve's points).

    ``draws`` gives the resample draws: ``draws(n)`` the ``(B, n)`` examples of a split of ``n``,
    ``draws.seeds(S)`` the ``(B, S)`` seeds of a group of ``S`` seeds (None for one).
    """
    out = []
    for name, rows in by_variant(records, split).items():
        for n in sorted({r.train_examples for r in rows}):
            at = sorted((r for r in rows if r.train_examples == n), key=lambda r: r.seed or 0)
            costs = {}
            for key in MEAN_COSTS:
                values = [getattr(r.costs, key) for r in at if isinstance(getattr(r.costs, key), (int, float))]
                if values:
                    costs[key] = float(np.mean(values))
            size = None if at[0].flat else n
            group = Group(name, at[0].approach, at[0].paradigm, size, len(at), at[0].examples, {}, costs, at)
            kept = [r.per_example for r in at]
            if draws is not None and all(p is not None for p in kept) and len({len(p.gold) for p in kept}) == 1:
                gold = kept[0].gold
                wanted = INTERVAL_METRICS if (name, n) in full else tuple(dict.fromkeys((ACCURACY, metric)))
                group.metrics, group.resampled = bootstrap_metrics(
                    [p.probabilities for p in kept], gold, draws(len(gold)), wanted, draws.seeds(len(at))
                )
                group.mean_probabilities = np.mean([p.probabilities for p in kept], axis=0)
                group.gold = gold
            else:  # predictions not kept: the mean over seeds, without an interval
                group.metrics = {
                    m.name: Estimate(float(np.mean([r.metrics[m.name] for r in at])))
                    for m in INTERVAL_METRICS
                    if all(m.name in r.metrics for r in at)
                }
            out.append(group)
    return out


def _pairs(analysis: Analysis) -> list[Pair]:
    """Each pair of approaches at each shared size (zero-shot pairs once), Holm-adjusted together."""
    from statsmodels.stats.multitest import multipletests

    pairs, seen = [], set()
    for size in analysis.sizes:
        for g, h in itertools.combinations(analysis.at(size), 2):
            key = (g.variant, h.variant, None if g.flat and h.flat else size)
            if key in seen or g.resampled_accuracy is None or h.resampled_accuracy is None:
                continue
            seen.add(key)
            a, b = (g, h) if g.metrics[ACCURACY.name].value >= h.metrics[ACCURACY.name].value else (h, g)
            difference = _estimate(
                a.metrics[ACCURACY.name].value - b.metrics[ACCURACY.name].value,
                a.resampled_accuracy - b.resampled_accuracy,
            )
            only_a, only_b, p = paired_test(
                a.mean_probabilities.argmax(1) == a.gold, b.mean_probabilities.argmax(1) == b.gold
            )
            pairs.append(Pair(key[2], a.variant, b.variant, difference, only_a, only_b, p))
    if pairs:
        adjusted = multipletests([p.p_value for p in pairs], alpha=ALPHA, method="holm")[1]
        for p, q in zip(pairs, adjusted):
            p.p_holm = float(q)
    return pairs


def _curves(groups: list[Group], metric: Metric) -> dict[str, Curve]:
    out: dict[str, Curve] = {}
    for g in groups:
        c = out.setdefault(g.variant, Curve(g.variant, g.paradigm, g.flat, [], [], [], metric.name, []))
        c.sizes.append(0 if g.flat else g.size)
        c.accuracy.append(g.metrics[ACCURACY.name])
        c.values.append(g.metrics[metric.name])
        c.seeds.append(g.seeds)
    return out


def _crossovers(analysis: Analysis, metric: Metric) -> list[Crossover]:
    """Per trained variant: the size from which it beats the best zero-shot one on ``metric``."""
    flat = [g for g in analysis.summary if g.flat and metric.name in g.metrics]
    if not flat:
        return []
    sign = 1.0 if metric.higher_is_better else -1.0  # crossover_size reads "higher is better"
    best = max(flat, key=lambda g: sign * g.metrics[metric.name].value)
    target = best.metrics[metric.name].value
    out = []
    for variant, curve in analysis.curves.items():
        if curve.flat or curve.paradigm == "baseline":  # the majority class is a floor, not a contender
            continue
        groups = [g for g in analysis.groups if g.variant == variant]
        value, smallest = crossover_size(curve.sizes, [sign * e.value for e in curve.values], sign * target)
        size = None
        if value is not None:
            size = Estimate(value)
            if metric.name in best.resampled and all(metric.name in g.resampled for g in groups):
                resampled = sign * np.stack([g.resampled[metric.name] for g in groups], axis=1)  # (B, sizes)
                found = [
                    crossover_size(curve.sizes, row, z)[0]
                    for row, z in zip(resampled, sign * best.resampled[metric.name])
                ]
                found = np.array([math.inf if f is None else f for f in found])
                low, high = np.quantile(found, [0.025, 0.975])
                size = Estimate(value, float(low), float(high))
        out.append(Crossover(variant, best.variant, target, size, smallest, curve.sizes[0], curve.sizes[-1]))
    return out


def _robustness(records: Sequence[RunRecord], draws_for: Any) -> list[RobustnessCurve]:
    out = []
    for r in records:
        if not (r.ok and r.robustness):
            continue
        rates = sorted(r.robustness, key=float)
        x = np.array([float(k) for k in rates])
        kept = r.robustness_per_example or {}
        if all(k in kept for k in rates):
            gold = kept[rates[0]].gold
            draws = draws_for(len(gold))
            resampled = np.stack(
                [(kept[k].predicted == gold)[draws].mean(axis=1) for k in rates], axis=1
            )  # (B, rates)
            accuracy = [_estimate(r.robustness[k], resampled[:, i]) for i, k in enumerate(rates)]
        else:
            resampled, accuracy = None, [Estimate(r.robustness[k]) for k in rates]
        y = np.array([r.robustness[k] for k in rates])
        if len(x) < 2:
            continue
        # Least-squares slope of accuracy on the rate, for the point and for each resample at once.
        xc = (x - x.mean()) / ((x - x.mean()) ** 2).sum()
        slopes = None if resampled is None else resampled @ xc
        out.append(
            RobustnessCurve(
                r.variant, r.paradigm, [float(v) for v in x], accuracy, _estimate(float(y @ xc), slopes), slopes
            )
        )
    return out


def _template_spreads(summary: Sequence[Group]) -> list[TemplateSpread]:
    """Per variant (at its largest size) whose records hold each template's accuracy."""
    out = []
    for g in summary:
        kept = [r.template_accuracy for r in g.records if r.template_accuracy]
        if len(kept) == len(g.records) and kept:
            mean = {t: float(np.mean([k[t] for k in kept])) for t in kept[0]}
            out.append(TemplateSpread(g.variant, mean, min(mean.values()), max(mean.values())))
    return out


def _examples(analysis: Analysis, texts: Sequence[str] | None, top: int = 10, errors: int = 3) -> None:
    """The examples the approaches (at their largest size) disagree on most, and each one's most
    confident errors."""
    groups = [g for g in analysis.summary if g.mean_probabilities is not None]
    labels = analysis.labels

    def text(i):
        return texts[i] if texts is not None and i < len(texts) else None

    for g in groups:
        wrong = np.flatnonzero(g.mean_probabilities.argmax(1) != g.gold)
        confidence = g.mean_probabilities.max(1)
        for i in wrong[np.argsort(-confidence[wrong], kind="stable")][:errors]:
            analysis.confident_errors.append(
                ConfidentError(
                    g.variant,
                    int(i),
                    text(int(i)),
                    labels[int(g.gold[i])],
                    labels[int(g.mean_probabilities[i].argmax())],
                    float(confidence[i]),
                )
            )
    if len(groups) < 2:
        return
    predicted = np.stack([g.mean_probabilities.argmax(1) for g in groups])  # (approaches, n)
    counts = np.stack([(predicted == c).sum(0) for c in range(len(labels))])  # (labels, n)
    agreement = counts.max(0) / len(groups)
    correct = (predicted == groups[0].gold).mean(0)
    # Least agreement first; among equals, the examples fewer approaches get right.
    order = np.lexsort((correct, agreement))
    for i in order[:top]:
        if agreement[i] == 1:
            break
        analysis.disagreements.append(
            Disagreement(
                int(i),
                text(int(i)),
                labels[int(groups[0].gold[i])],
                {g.variant: labels[int(p)] for g, p in zip(groups, predicted[:, i])},
                float(agreement[i]),
            )
        )


class _Draws:
    """The bootstrap's draws, shared by every approach so that differences are paired: one draw of
    examples per size of evaluated split, and one of seeds per number of seeds (seeds resampled
    as well as examples: the hierarchical bootstrap)."""

    def __init__(self, n_resamples: int, seed: int) -> None:
        self.n_resamples = n_resamples
        self._examples_rng = np.random.default_rng(seed)
        # Its own stream: with one seed nothing is drawn from it, and the example draws are the
        # same as they were before seeds were resampled.
        self._seeds_rng = np.random.default_rng([seed, 1])
        self._examples: dict[int, np.ndarray] = {}
        self._seeds: dict[int, np.ndarray] = {}

    def __call__(self, n: int) -> np.ndarray:
        """``(B, n)`` example indices for a split of ``n`` examples."""
        if n not in self._examples:
            self._examples[n] = self._examples_rng.integers(0, n, size=(self.n_resamples, n))
        return self._examples[n]

    def seeds(self, count: int) -> np.ndarray | None:
        """``(B, count)`` seed indices (None for one seed: nothing to resample)."""
        if count < 2:
            return None
        if count not in self._seeds:
            self._seeds[count] = self._seeds_rng.integers(0, count, size=(self.n_resamples, count))
        return self._seeds[count]


def analyse(
    records: Sequence[RunRecord],
    texts: Mapping[str, Sequence[str]] | None = None,
    root: str | Path | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    anomaly: AnomalyScores | None = None,
    settings: VerdictSettings | None = None,
) -> Analysis:
    """The analysis of a comparison's records.

    Args:
        records: comparison records (see :func:`llmdisc.compare`), with ``per_example`` kept in
            memory, or (records read from ``results.json``) stored under ``root``.
        texts: split -> the split's texts, to quote the examples the approaches disagree on.
        root: the comparison's output folder, to load predictions the records do not hold.
        n_resamples: bootstrap resamples.
        seed: the seed of the resamples.
        anomaly: an LM's surprisal scores of normal and anomalous texts
            (:func:`~llmdisc.comparison.anomaly.detect_anomalies`), for the anomaly-detection claim.
        settings: the verdict's metric, margin and cost
            (:class:`~llmdisc.comparison.settings.VerdictSettings`; a comparison's settings will do).

    Returns:
        An :class:`Analysis`.
    """
    from llmdisc.analysis.claims import claims
    from llmdisc.analysis.verdict import verdict
    from llmdisc.comparison.prediction_files import attach_predictions

    settings = settings if settings is not None else VerdictSettings()
    if root is not None:
        attach_predictions(records, root)
    split = report_split(records)
    labels = next((r.labels for r in records if r.ok), [])
    analysis = Analysis(
        split, method_text(n_resamples, seed), list(labels), margin=settings.margin, cost=settings.cost
    )
    if split is None:
        analysis.verdict = verdict(analysis)
        return analysis
    on_split = [r for r in records if r.ok and r.split == split]
    metric, analysis.metric_reason = primary_metric(settings.metric, _gold(on_split), labels)
    analysis.metric = metric.name
    draws = _Draws(n_resamples, seed)
    kept = any(r.per_example is not None for r in on_split)
    largest = {name: max(r.train_examples for r in rows) for name, rows in by_variant(records, split).items()}
    analysis.groups = _groups(records, split, draws if kept else None, set(largest.items()), metric)
    analysis.summary = [g for g in analysis.groups if g.records[0].train_examples == largest[g.variant]]
    analysis.curves = _curves(analysis.groups, metric)
    trained = sorted({g.size for g in analysis.groups if not g.flat})
    analysis.sizes = trained or [None]
    analysis.seeds = max((g.seeds for g in analysis.groups), default=1)
    analysis.pairs = _pairs(analysis)
    analysis.decisions = [
        d
        for d in (decide(analysis.at(size), size, metric, settings.margin, settings.cost) for size in analysis.sizes)
        if d is not None
    ]
    analysis.crossovers = _crossovers(analysis, metric)
    analysis.robustness = _robustness(records, draws)  # on the robustness split, whichever it is
    _examples(analysis, (texts or {}).get(split))
    if not kept:
        analysis.notes.append(
            "The per-example predictions were not available: values without intervals, and no paired tests."
        )
    analysis.template_spreads = _template_spreads(analysis.summary)
    if anomaly is not None:
        analysis.anomaly = anomaly_result(anomaly, n_resamples, seed)
    analysis.verdict = verdict(analysis)
    analysis.claims = claims(analysis)
    return analysis


def _gold(records: Sequence[RunRecord]) -> np.ndarray:
    """The gold labels of the reported split: from kept predictions, else the confusion matrix's rows."""
    for r in records:
        if r.per_example is not None:
            return np.asarray(r.per_example.gold)
    for r in records:
        if r.confusion:
            return np.repeat(np.arange(len(r.confusion)), [sum(row) for row in r.confusion])
    return np.zeros(0, dtype=np.int64)
