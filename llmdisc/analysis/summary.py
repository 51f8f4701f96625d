"""Aggregate comparison records (see :func:`llmdisc.compare`) for the report and its plots.

Records are one :class:`~llmdisc.api.records.RunRecord` per (approach, size, seed, split). These
helpers group them by variant (the comparison entry's name), in the order the variants first
appear, and average over seeds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from llmdisc.api.records import Costs, RunRecord
from llmdisc.metrics.classification import ACCURACY, METRICS

__all__ = [
    "LearningCurve",
    "SummaryRow",
    "MEAN_COSTS",
    "lead_split",
    "report_split",
    "by_variant",
    "learning_curve",
    "largest_size_rows",
    "summary_rows",
    "failures",
    "failed_runs",
    "std",
]

#: The cost fields averaged over seeds in the summary (besides every metric).
MEAN_COSTS = tuple(f.name for f in dataclasses.fields(Costs) if not f.name.startswith("parameters_"))


def std(values: Sequence[float]) -> float:
    """The sample standard deviation (n - 1 in the denominator; 0 for one value): with 3 seeds,
    the population formula would understate the spread."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def lead_split(splits: Sequence[str]) -> str | None:
    """Of the evaluated ``splits``, the one the report leads with: ``test``, else the first."""
    return "test" if "test" in splits else (splits[0] if splits else None)


def report_split(records: Sequence[RunRecord]) -> str | None:
    """The split the report leads with (:func:`lead_split` of the successful records' splits)."""
    return lead_split([r.split for r in records if r.ok])


def by_variant(records: Sequence[RunRecord], split: str) -> dict[str, list[RunRecord]]:
    """The successful records on ``split``, grouped by variant in order of first appearance."""
    out: dict[str, list[RunRecord]] = {}
    for r in records:
        if r.ok and r.split == split:
            out.setdefault(r.variant, []).append(r)
    return out


@dataclass
class LearningCurve:
    """One variant's metric against training-set size, averaged over seeds.

    ``flat`` marks an approach that does not learn from examples: one value (at size 0) that
    applies at every size.
    """

    variant: str
    paradigm: str
    flat: bool
    sizes: list[int]
    mean: list[float]
    std: list[float]
    seeds: list[int]


def learning_curve(records: Sequence[RunRecord], split: str, metric: str = ACCURACY.name) -> dict[str, LearningCurve]:
    """Per variant, ``metric`` (a name of :data:`~llmdisc.metrics.classification.METRICS`) by training-set size."""
    out = {}
    for name, rows in by_variant(records, split).items():
        flat = any(r.flat for r in rows)
        sizes = sorted({0 if flat else r.train_examples for r in rows})
        values = [[r.metrics[metric] for r in rows if (0 if flat else r.train_examples) == n] for n in sizes]
        out[name] = LearningCurve(
            name,
            rows[0].paradigm,
            flat,
            sizes,
            [float(np.mean(v)) for v in values],
            [std(v) for v in values],
            [len(v) for v in values],
        )
    return out


def _at_largest(group: list[RunRecord]) -> list[RunRecord]:
    """The records at the group's largest training size, first seed first."""
    top = max(r.train_examples for r in group)
    return sorted((r for r in group if r.train_examples == top), key=lambda r: r.seed or 0)


def largest_size_rows(records: Sequence[RunRecord], split: str) -> list[RunRecord]:
    """Per variant, the record at its largest training size with its first seed."""
    return [_at_largest(group)[0] for group in by_variant(records, split).values()]


@dataclass
class SummaryRow:
    """One variant at its largest training size: its first seed's record, and means over seeds.

    ``mean`` and ``std`` are keyed by metric name (:data:`~llmdisc.metrics.classification.METRICS`) and by cost
    field (:data:`MEAN_COSTS`); a value no seed recorded is absent.
    """

    record: RunRecord
    seeds: int
    mean: dict[str, float]
    std: dict[str, float]


def summary_rows(records: Sequence[RunRecord], split: str) -> list[SummaryRow]:
    """Per variant at its largest size, the means and standard deviations over seeds."""
    out = []
    for group in by_variant(records, split).values():
        at_top = _at_largest(group)
        mean, spread = {}, {}
        columns = [(name, [r.metrics.get(name) for r in at_top]) for name in METRICS]
        columns += [(name, [getattr(r.costs, name) for r in at_top]) for name in MEAN_COSTS]
        for name, raw in columns:
            values = [v for v in raw if isinstance(v, (int, float))]
            if values:
                mean[name], spread[name] = float(np.mean(values)), std(values)
        out.append(SummaryRow(at_top[0], len(at_top), mean, spread))
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
