"""Aggregate comparison records (see :func:`llmdisc.compare`) for the report and its plots.

Records are one per (approach, size, seed, split). These helpers group them by approach, in
the order the approaches first appear, and average over seeds.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["report_split", "learning_curve", "largest_size_rows", "summary_rows", "failures", "MEAN_KEYS", "std"]


def std(values: Sequence[float]) -> float:
    """The sample standard deviation (n - 1 in the denominator; 0 for one value): with 3 seeds,
    the population formula would understate the spread."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def report_split(records: Sequence[dict[str, Any]]) -> str | None:
    """The split the report leads with: ``test`` when it was evaluated, else the first one."""
    splits = [r["split"] for r in records if r.get("status") == "ok"]
    return "test" if "test" in splits else (splits[0] if splits else None)


def _by_approach(records: Sequence[dict[str, Any]], split: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("status") == "ok" and r["split"] == split:
            out.setdefault(r["approach"], []).append(r)
    return out


def learning_curve(records: Sequence[dict[str, Any]], split: str, metric: str = "accuracy") -> dict[str, dict[str, Any]]:
    """Per approach: ``sizes``, ``mean`` and ``std`` of ``metric`` over seeds, ``seeds`` per size,
    ``paradigm``, and ``flat`` (a zero-shot approach: one value that applies at every size)."""
    out = {}
    for name, rows in _by_approach(records, split).items():
        flat = any(r.get("flat") for r in rows)
        sizes = sorted({0 if flat else r["train_examples"] for r in rows})
        values = [[r[metric] for r in rows if (0 if flat else r["train_examples"]) == n] for n in sizes]
        out[name] = {"paradigm": rows[0].get("paradigm", ""), "flat": flat, "sizes": sizes,
                     "mean": [float(np.mean(v)) for v in values], "std": [std(v) for v in values],
                     "seeds": [len(v) for v in values]}
    return out


def largest_size_rows(records: Sequence[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    """Per approach, the record at its largest training size with its first seed."""
    return [_at_largest(group)[0] for group in _by_approach(records, split).values()]


def _at_largest(group: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records at the group's largest training size, first seed first."""
    top = max(r["train_examples"] for r in group)
    return sorted((r for r in group if r["train_examples"] == top), key=lambda r: r.get("seed") or 0)


MEAN_KEYS = ("accuracy", "macro_f1", "log_loss", "brier", "ece", "train_seconds", "examples_per_second", "peak_rss_mib",
             "rss_increase_mib", "peak_gpu_mib")


def summary_rows(records: Sequence[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    """Per approach at its largest size: the first seed's record, with ``KEY_mean`` / ``KEY_std``
    over seeds for each of :data:`MEAN_KEYS`, and ``seeds``."""
    out = []
    for group in _by_approach(records, split).values():
        at_top = _at_largest(group)
        row = dict(at_top[0])
        for key in MEAN_KEYS:
            values = [r[key] for r in at_top if isinstance(r.get(key), (int, float))]
            if values:
                row[f"{key}_mean"], row[f"{key}_std"] = float(np.mean(values)), std(values)
        row["seeds"] = len(at_top)
        out.append(row)
    return out


def failures(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per approach that failed (at any size or seed), with its error."""
    seen, out = set(), []
    for r in records:
        if r.get("status") == "failed" and r["approach"] not in seen:
            seen.add(r["approach"])
            out.append(r)
    return out
