"""The comparison's plots, drawn from its analysis (:mod:`llmdisc.analysis.analyse`) or records.

Each function writes one PNG and returns its path, or ``None`` when the records hold nothing to
draw (no successful run, no robustness curve). Figures are built with ``matplotlib.figure.Figure``
directly rather than ``pyplot``: no global state, no GUI backend, safe in a notebook or a thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from llmdisc.api.records import RunRecord
from llmdisc.metrics.classification import ACCURACY, ECE, METRICS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from llmdisc.api.findings import Analysis

__all__ = [
    "plot_learning_curves",
    "plot_reliability",
    "plot_robustness",
    "plot_cost",
    "plot_confusion_matrix",
    "plot_confusion_matrices",
    "plot_model_reliability",
    "PARADIGM_STYLE",
]

# Generative approaches in warm colours with dashed lines, discriminative in cool colours with
# solid ones, so the question the report answers can be read off every plot at a glance.
PARADIGM_STYLE = {
    "generative": {"linestyle": "--", "cmap": "autumn"},
    "discriminative": {"linestyle": "-", "cmap": "winter"},
}


def _colours(records: Sequence[RunRecord]) -> dict[str, tuple]:
    """One colour per approach, from its paradigm's colour map."""
    from matplotlib import colormaps

    by_paradigm: dict[str, list[str]] = {}
    for r in records:
        names = by_paradigm.setdefault(r.paradigm or "discriminative", [])
        if r.variant not in names:
            names.append(r.variant)
    colours = {}
    for paradigm, names in by_paradigm.items():
        cmap = colormaps[PARADIGM_STYLE.get(paradigm, PARADIGM_STYLE["discriminative"])["cmap"]]
        for i, name in enumerate(names):
            colours[name] = cmap(0.1 + 0.75 * i / max(1, len(names) - 1))
    return colours


def _style(paradigm: str) -> str:
    return PARADIGM_STYLE.get(paradigm, PARADIGM_STYLE["discriminative"])["linestyle"]


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _canvas(records: Sequence[RunRecord]) -> tuple[Figure, Any, dict[str, tuple]]:
    """A one-axis figure and the approaches' colours."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.5))
    return fig, fig.add_subplot(), _colours(records)


def _finish(fig: Figure, ax: Any, path: str | Path, xlabel: str, ylabel: str, title: str, legend: dict | None) -> Path:
    """Label a one-axis plot, add a grid (and a legend), and save it."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if legend is not None:
        ax.legend(fontsize=8, **legend)
    return _save(fig, Path(path))


def plot_learning_curves(analysis: Analysis, path: str | Path) -> Path | None:
    """The verdict's metric against training-set size (log scale, the sizes tried as its ticks),
    with its 95% bootstrap band.

    Approaches that do not learn from examples are horizontal lines (their band shaded across).
    """
    from matplotlib.ticker import NullLocator

    curves = analysis.curves
    if not curves:
        return None
    metric = METRICS[analysis.metric]
    sizes = sorted({n for c in curves.values() if not c.flat for n in c.sizes})  # a flat line has no size
    fig, ax, colours = _canvas([g.records[0] for g in analysis.groups])
    for name, c in curves.items():
        points = c.values or c.accuracy
        style = dict(color=colours[name], linestyle=_style(c.paradigm), label=name)
        value = np.array([e.value for e in points])
        banded = all(e.low is not None for e in points)
        if c.flat:
            ax.axhline(value[0], linewidth=1.5, **style)
            if banded:
                ax.axhspan(points[0].low, points[0].high, color=colours[name], alpha=0.08)
            continue
        ax.plot(c.sizes, value, marker="o", **style)
        if banded:
            ax.fill_between(
                c.sizes, [e.low for e in points], [e.high for e in points], color=colours[name], alpha=0.15
            )
    if len(sizes) > 1:
        ax.set_xscale("log")
    if sizes:
        # The sizes tried, and only they: a log axis would add minor ticks labelled 3x10^1 and the like.
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.xaxis.set_minor_locator(NullLocator())
    return _finish(
        fig,
        ax,
        path,
        "training examples",
        f"{analysis.split} {metric.label}",
        "Learning curves, 95% bootstrap bands (dashed: generative; flat: zero-shot)",
        {"loc": "lower right"},
    )


def _drawn(records: Sequence[RunRecord], split: str) -> list[RunRecord]:
    """The records to draw, one panel or point each: the successful ones on ``split``, as given.

    The report passes the analysis's choice, each approach at its largest size with its first
    seed (``[g.records[0] for g in analysis.summary]``): plots group and compute nothing.
    """
    return [r for r in records if r.ok and r.split == split]


def plot_reliability(records: Sequence[RunRecord], split: str, path: str | Path) -> Path | None:
    """A reliability diagram per record (see :func:`_drawn`), with its ECE."""
    from matplotlib.figure import Figure

    rows = [r for r in _drawn(records, split) if r.reliability]
    if not rows:
        return None
    cols = min(4, len(rows))
    nrows = math.ceil(len(rows) / cols)
    fig = Figure(figsize=(3.2 * cols, 3.2 * nrows))
    colours = _colours(records)
    for i, r in enumerate(rows):
        ax = fig.add_subplot(nrows, cols, i + 1)
        bins = r.reliability
        centres = [(b["lower"] + b["upper"]) / 2 for b in bins]
        ax.bar(
            centres,
            [b["accuracy"] for b in bins],
            width=[b["upper"] - b["lower"] for b in bins],
            color=colours[r.variant],
            edgecolor="black",
            linewidth=0.5,
            alpha=0.8,
            label=ACCURACY.label,
        )
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "k.", markersize=4)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(f"{r.variant}\n{ECE.label} {r.metrics[ECE.name]:.3f}", fontsize=9)
        ax.set_xlabel("confidence", fontsize=8)
        ax.set_ylabel(ACCURACY.label, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"Reliability diagrams ({split}; diagonal: perfect calibration)", fontsize=10)
    fig.tight_layout()
    return _save(fig, Path(path))


def plot_robustness(records: Sequence[RunRecord], path: str | Path, analysis: Analysis | None = None) -> Path | None:
    """Accuracy against the fraction of words dropped from the texts (with the analysis's 95%
    bands, when given)."""
    rows = [r for r in records if r.ok and r.robustness]
    if not rows:
        return None
    bands = {c.variant: c for c in (analysis.robustness if analysis is not None else [])}
    fig, ax, colours = _canvas(records)
    for r in rows:
        rates = sorted(r.robustness, key=float)
        ax.plot(
            [100 * float(x) for x in rates],
            [r.robustness[x] for x in rates],
            marker="o",
            color=colours[r.variant],
            linestyle=_style(r.paradigm),
            label=r.variant,
        )
        band = bands.get(r.variant)
        if band is not None and all(e.low is not None for e in band.accuracy):
            ax.fill_between(
                [100 * x for x in band.rates],
                [e.low for e in band.accuracy],
                [e.high for e in band.accuracy],
                color=colours[r.variant],
                alpha=0.12,
            )
    return _finish(
        fig,
        ax,
        path,
        "words dropped (%)",
        f"{rows[0].split} {ACCURACY.label}",
        "Robustness to missing words (dashed: generative)",
        {},
    )


def plot_cost(records: Sequence[RunRecord], split: str, path: str | Path) -> Path | None:
    """Accuracy against training plus prediction time (log scale), one point per record (see :func:`_drawn`)."""
    rows = _drawn(records, split)
    if not rows:
        return None
    fig, ax, colours = _canvas(records)
    for r in rows:
        seconds = (r.costs.train_seconds or 0) + (r.costs.predict_seconds or 0)
        marker = "s" if r.paradigm == "discriminative" else "^"
        accuracy = r.metrics[ACCURACY.name]
        ax.scatter(
            [max(seconds, 1e-3)],
            [accuracy],
            s=60,
            color=colours[r.variant],
            marker=marker,
            edgecolor="black",
            label=r.variant,
        )
        ax.annotate(r.variant, (max(seconds, 1e-3), accuracy), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xscale("log")
    return _finish(
        fig,
        ax,
        path,
        f"seconds to train + predict {split} (log)",
        f"{split} {ACCURACY.label}",
        "Cost against accuracy (triangles: generative)",
        None,
    )


def _draw_confusion(ax: Any, matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str) -> None:
    """Counts in each cell; colour by the share of the gold row, so rare classes read too."""
    counts = np.asarray(matrix, dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                f"{int(counts[i, j])}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if shares[i, j] > 0.5 else "black",
            )
    ticks = range(len(labels))
    ax.set_xticks(
        ticks, labels, rotation=45 if len(labels) > 3 else 0, ha="right" if len(labels) > 3 else "center", fontsize=7
    )
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("gold", fontsize=8)
    ax.set_title(title, fontsize=9)


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]], labels: Sequence[str], path: str | Path, title: str = "Confusion matrix"
) -> Path:
    """One confusion matrix (rows: gold labels; columns: predicted), counts in the cells."""
    from matplotlib.figure import Figure

    size = max(3.5, 0.6 * len(labels) + 2)
    fig = Figure(figsize=(size, size))
    _draw_confusion(fig.add_subplot(), matrix, labels, title)
    fig.tight_layout()
    return _save(fig, Path(path))


def plot_confusion_matrices(records: Sequence[RunRecord], split: str, path: str | Path) -> Path | None:
    """A confusion matrix per record (see :func:`_drawn`), as the reliability diagrams are."""
    from matplotlib.figure import Figure

    rows = [r for r in _drawn(records, split) if r.confusion]
    if not rows:
        return None
    k = len(rows[0].confusion)
    names = rows[0].labels if len(rows[0].labels) == k else [str(i) for i in range(k)]
    cols = min(4, len(rows))
    nrows = math.ceil(len(rows) / cols)
    side = max(3.2, 0.5 * k + 1.8)
    fig = Figure(figsize=(side * cols, side * nrows))
    for i, r in enumerate(rows):
        _draw_confusion(
            fig.add_subplot(nrows, cols, i + 1),
            r.confusion,
            names,
            f"{r.variant}\n{ACCURACY.label} {r.metrics[ACCURACY.name]:.3f}",
        )
    fig.suptitle(f"Confusion matrices ({split}; rows: gold, columns: predicted)", fontsize=10)
    fig.tight_layout()
    return _save(fig, Path(path))


def plot_model_reliability(
    bins: list[dict], ece: float, name: str, paradigm: str, split: str, path: str | Path
) -> Path | None:
    """The reliability diagram of one model on one split (see :func:`plot_reliability`)."""
    record = RunRecord(
        approach=name,
        variant=name,
        paradigm=paradigm,
        size=None,
        seed=None,
        split=split,
        reliability=bins,
        metrics={ECE.name: ece},
    )
    return plot_reliability([record], split, path)
