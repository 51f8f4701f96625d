"""Write a comparison's results: ``results.json``, ``analysis.json``, ``results.csv``,
``predictions.parquet``, plots, ``report.md``, ``report.html``.

The report renders one :class:`~llmdisc.api.findings.Analysis` and computes nothing itself: the
verdict first (before any table), then the tables and plots. It leads with the test split when it
was evaluated (approaches that pick a checkpoint on validation look slightly better there). Every
table is built once, as rows of strings, and the sections (:data:`SECTIONS`: heading and text,
then a plot, a table or both) once, as a list of :class:`~llmdisc.reporting.pages.Section`; the
templates ``report.md.j2`` and ``report.html.j2`` show that one list as Markdown and as HTML. The
HTML embeds its plots, so it is one file to share.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmdisc.analysis.analyse import INTERVAL_METRICS, analyse, failures
from llmdisc.api.findings import Analysis
from llmdisc.api.records import RunRecord
from llmdisc.comparison.prediction_files import write_predictions
from llmdisc.metrics.classification import ACCURACY, ECE, LOG_LOSS, METRICS
from llmdisc.plumbing.atomic_files import atomic_write_text, write_json
from llmdisc.plumbing.templates import Table, markdown_table
from llmdisc.reporting.pages import Section, write_pages
from llmdisc.reporting.plots import (
    plot_confusion_matrices,
    plot_cost,
    plot_learning_curves,
    plot_reliability,
    plot_robustness,
)

__all__ = [
    "PREDICTIONS",
    "verdict_table",
    "format_table",
    "markdown_table",
    "report_sections",
    "report_tables",
    "runs_table",
    "write_report",
]

#: The export of every run's per-example predictions (see :mod:`llmdisc.comparison.prediction_files`).
PREDICTIONS = "predictions.parquet"


def _number(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def runs_table(records: Sequence[RunRecord]) -> Table:
    """One row per record: identity columns, every metric of the registry, two costs, and where
    it ran (its predict ex/s depend on that)."""
    headers = (
        ["approach", "paradigm", "split", "train n", "seed"]
        + [m.label for m in METRICS.values()]
        + ["train s", "predict ex/s", "device / dtype"]
    )
    rows = []
    for r in records:
        if not r.ok:
            cells = [r.variant, r.paradigm or "-", r.split, f"FAILED: {r.error or ''}"]
            cells += [""] * (len(headers) - len(cells))
        else:
            cells = [r.variant, r.paradigm, r.split, str(r.train_examples), "-" if r.seed is None else str(r.seed)]
            cells += [m.format(r.metrics.get(m.name)) for m in METRICS.values()]
            cells += [_number(r.costs.train_seconds, "{:.2f}"), _number(r.costs.examples_per_second, "{:.0f}")]
            cells += [" / ".join(x for x in (r.device, r.dtype) if x) or "-"]
        rows.append(cells)
    return headers, rows


def format_table(records: Sequence[RunRecord]) -> str:
    """A Markdown table with one row per record; failed approaches show their error."""
    return markdown_table(runs_table(records))


# The summary's cost columns: (cost field, header, format).
_SUMMARY_COSTS = (("train_seconds", "train s", "{:.2f}"), ("examples_per_second", "predict ex/s", "{:.0f}"))
_MEMORY = (("peak_rss_mib", "peak RSS MiB"), ("rss_increase_mib", "RSS increase MiB"))
# How long a quoted text may be in the examples' tables.
_TEXT_CHARS = 160


def _cost(values: dict[str, float], key: str, fmt: str) -> str:
    return fmt.format(values[key]) if key in values else "-"


def _quote(text: str | None) -> str:
    if text is None:
        return "(text not available)"
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_CHARS else text[: _TEXT_CHARS - 1] + "…"


def _summary_table(analysis: Analysis) -> Table:
    gpu = any("peak_gpu_mib" in g.costs for g in analysis.summary)
    memory = _MEMORY + ((("peak_gpu_mib", "peak GPU MiB"),) if gpu else ())
    rows = []
    for g in analysis.summary:
        c = g.records[0].costs
        params = "-" if c.parameters_total is None else f"{c.parameters_total:,} / {c.parameters_trainable or 0:,}"
        name = f"{g.variant} (degenerate: see below)" if any(r.degenerate for r in g.records) else g.variant
        rows.append(
            [name, g.paradigm, g.size_label, str(g.seeds)]
            + [g.metrics[m.name].format(m.fmt) if m.name in g.metrics else "-" for m in INTERVAL_METRICS]
            + [_cost(g.costs, key, fmt) for key, _, fmt in _SUMMARY_COSTS]
            + [params]
            + [_cost(g.costs, key, "{:.0f}") for key, _ in memory]
        )
    return (
        ["approach", "paradigm", "train n", "seeds"]
        + [f"{m.label} [95% CI]" for m in INTERVAL_METRICS]
        + [h for _, h, _ in _SUMMARY_COSTS]
        + ["parameters (total / trainable)"]
        + [h for _, h in memory],
        rows,
    )


def _curves_table(analysis: Analysis) -> Table:
    sizes = sorted({n for c in analysis.curves.values() if not c.flat for n in c.sizes})
    rows = []
    for name, c in analysis.curves.items():
        by_size = dict(zip(c.sizes, c.accuracy))
        cells = [
            f"{c.accuracy[0].format(ACCURACY.fmt)} (flat)"
            if c.flat
            else (by_size[n].format(ACCURACY.fmt) if n in by_size else "-")
            for n in sizes
        ]
        rows.append([name, c.paradigm, *cells])
    return ["approach", "paradigm", *[str(n) for n in sizes]], rows


def _pairs_table(analysis: Analysis) -> Table:
    rows = [
        [
            "zero-shot" if p.size is None else str(p.size),
            p.a,
            p.b,
            p.difference.format(),
            str(p.only_a),
            str(p.only_b),
            f"{p.p_value:.3g}",
            f"{p.p_holm:.3g}",
            "yes" if p.significant else "no",
        ]
        for p in analysis.pairs
    ]
    return (
        [
            "train n",
            "more accurate",
            "less accurate",
            "accuracy difference [95% CI]",
            "only first right",
            "only second right",
            "McNemar p",
            "Holm-adjusted p",
            "significant",
        ],
        rows,
    )


def _robustness_table(analysis: Analysis) -> Table:
    rates = sorted({x for c in analysis.robustness for x in c.rates})
    rows = []
    for c in analysis.robustness:
        by_rate = dict(zip(c.rates, c.accuracy))
        rows.append(
            [
                c.variant,
                c.paradigm,
                *[by_rate[x].format(ACCURACY.fmt) if x in by_rate else "-" for x in rates],
                c.slope.format(),
            ]
        )
    return ["approach", "paradigm", *[f"{100 * x:g}% dropped" for x in rates], "slope [95% CI]"], rows


def _templates_table(analysis: Analysis) -> Table:
    rows = [
        [
            t.variant,
            _quote(template),
            ACCURACY.format(accuracy),
            f"{ACCURACY.format(t.lowest)} to {ACCURACY.format(t.highest)}",
        ]
        for t in analysis.template_spreads
        for template, accuracy in t.templates.items()
    ]
    return ["approach", "template", "accuracy alone", "spread across its templates (min to max)"], rows


def _anomaly_table(analysis: Analysis) -> Table:
    a = analysis.anomaly
    return (
        [
            "LM",
            "split",
            "anomalies",
            "normal texts",
            "anomalous texts",
            "mean surprisal (normal / anomalous)",
            "AUROC [95% CI]",
        ],
        [
            [
                a.model,
                a.split,
                a.anomaly,
                str(a.normal),
                str(a.anomalies),
                f"{a.surprisal_normal:.2f} / {a.surprisal_anomalies:.2f}",
                a.auroc.format(),
            ]
        ],
    )


def _disagreements_table(analysis: Analysis) -> Table:
    names = list(analysis.disagreements[0].predictions) if analysis.disagreements else []
    rows = [
        [str(d.index), _quote(d.text), d.gold, *[d.predictions[n] for n in names], f"{d.agreement:.2f}"]
        for d in analysis.disagreements
    ]
    return ["example", "text", "gold", *names, "agreement"], rows


def _errors_table(analysis: Analysis) -> Table:
    rows = [
        [e.variant, str(e.index), _quote(e.text), e.gold, e.predicted, f"{e.confidence:.3f}"]
        for e in analysis.confident_errors
    ]
    return ["approach", "example", "text", "gold", "predicted", "confidence"], rows


def verdict_table(analysis: Analysis) -> Table:
    """The verdict in one row per size: the best, those shown as good, the undecided (with the test
    examples that would decide each), the recommended approach and its costs."""
    metric = METRICS[analysis.metric]
    rows = []
    for d in analysis.decisions:
        needed = {v.other: v.examples_needed for v in d.versus}
        undecided = [f"{u} (~{needed[u]:,})" if needed[u] else u for u in d.undecided]
        costs = d.costs[d.recommended]
        rows.append(
            [
                "zero-shot" if d.size is None else str(d.size),
                f"{d.best} {d.best_value.format(metric.fmt)}",
                ", ".join(d.equivalent) or "-",
                ", ".join(undecided) or "-",
                ", ".join(d.worse) or "-",
                d.recommended + (f" (as cheap: {', '.join(d.equally_cheap)})" if d.equally_cheap else ""),
                f"{costs['prediction'].format()}; {costs['training'].format()}",
            ]
        )
    return (
        [
            "train n",
            f"best by {metric.label} [95% CI]",
            f"shown as good (±{analysis.margin:g})",
            "undecided (test examples to decide)",
            "shown worse",
            f"recommended (cheapest {analysis.cost})",
            "its cost (predict; train)",
        ],
        rows,
    )


def _versus_table(analysis: Analysis) -> Table:
    metric = METRICS[analysis.metric]
    rows = [
        [
            "zero-shot" if d.size is None else str(d.size),
            v.other,
            v.best,
            v.advantage.format(metric.fmt),
            f"{v.p_difference_holm:.3g} ({v.test})",
            f"{v.p_equivalence_holm:.3g}",
            v.decision,
            "-" if v.examples_needed is None else f"{v.examples_needed:,}",
        ]
        for d in analysis.decisions
        for v in d.versus
    ]
    return (
        [
            "train n",
            "approach",
            "best",
            f"best's {metric.label} advantage [95% CI]",
            "difference p (Holm)",
            f"equivalence p (Holm, ±{analysis.margin:g})",
            "decision",
            "test examples to decide",
        ],
        rows,
    )


def report_tables(records: Sequence[RunRecord], analysis: Analysis | None = None) -> dict[str, Table]:
    """The report's tables, rendered from the analysis (computed here when not given): ``summary``,
    ``failures``, ``learning_curves``, ``pairs``, ``robustness``, ``templates``, ``anomaly``, ``claims``,
    ``disagreements``, ``confident_errors``, ``runs``."""
    analysis = analysis if analysis is not None else analyse(records)
    tables: dict[str, Table] = {}
    if analysis.decisions:
        tables["versus"] = _versus_table(analysis)
    if analysis.split:
        tables["summary"] = _summary_table(analysis)
        tables["learning_curves"] = _curves_table(analysis)
        if analysis.pairs:
            tables["pairs"] = _pairs_table(analysis)
    if analysis.robustness:
        tables["robustness"] = _robustness_table(analysis)
    if analysis.template_spreads:
        tables["templates"] = _templates_table(analysis)
    if analysis.anomaly is not None:
        tables["anomaly"] = _anomaly_table(analysis)
    if analysis.claims:
        tables["claims"] = (
            ["claim", "outcome", "evidence"],
            [[c.claim, c.outcome, c.evidence] for c in analysis.claims],
        )
    if analysis.disagreements:
        tables["disagreements"] = _disagreements_table(analysis)
    if analysis.confident_errors:
        tables["confident_errors"] = _errors_table(analysis)
    degenerate = [r for r in records if r.degenerate]
    if degenerate:
        tables["degenerate"] = (
            ["approach", "train n", "seed", "split", "predictions", "accuracy"],
            [
                [
                    r.variant,
                    "zero-shot" if r.flat else str(r.train_examples),
                    str(r.seed or "-"),
                    r.split,
                    r.degenerate,
                    ACCURACY.format(r.metrics.get(ACCURACY.name)),
                ]
                for r in degenerate
            ],
        )
    chosen = [r for r in records if r.ok and r.prompt and r.split == analysis.split]
    if chosen:
        tables["prompts"] = (
            ["approach", "train n", "seed", "prompt chosen on the training examples"],
            [
                [
                    r.variant,
                    "zero-shot" if r.flat else str(r.train_examples),
                    "-" if r.seed is None else str(r.seed),
                    r.prompt,
                ]
                for r in chosen
            ],
        )
    calibrated = [g.records[0] for g in analysis.summary if g.records[0].uncalibrated]
    if calibrated:
        tables["temperature"] = (
            ["approach", "train n", "calibration", "ECE before -> after", "log loss before -> after"],
            [
                [
                    r.variant,
                    str(r.train_examples),
                    f"temperature {r.temperature:.3g}" if r.temperature else str(r.calibration),
                    f"{ECE.format(r.uncalibrated['ece'])} -> {ECE.format(r.metrics[ECE.name])}",
                    f"{LOG_LOSS.format(r.uncalibrated['log_loss'])} -> {LOG_LOSS.format(r.metrics[LOG_LOSS.name])}",
                ]
                for r in calibrated
            ],
        )
    failed = failures(records)
    if failed:
        tables["failures"] = (["approach", "status", "error"], [[r.variant, "FAILED", r.error or ""] for r in failed])
    tables["runs"] = runs_table(records)
    return tables


def _with_intervals(records: Sequence[RunRecord], analysis: Analysis) -> list[dict[str, Any]]:
    """The records as JSON objects; those on the reported split gain ``intervals`` (metric ->
    [low, high], their group's: seeds pooled, so the same for every seed of a size)."""
    groups = {(g.variant, g.records[0].train_examples): g for g in analysis.groups}
    out = []
    for r in records:
        row = r.to_dict()
        g = groups.get((r.variant, r.train_examples)) if r.ok and r.split == analysis.split else None
        if g is not None:
            row["intervals"] = {k: [e.low, e.high] for k, e in g.metrics.items() if e.low is not None}
        out.append(row)
    return out


def _csv(rows: Sequence[dict[str, Any]]) -> str:
    """Every record as a row; robustness as one column per rate, intervals as ``METRIC_low`` /
    ``METRIC_high``, reliability bins, the confusion matrix and each template's accuracy left to the JSON."""
    flat = []
    for r in rows:
        row = {
            k: v
            for k, v in r.items()
            if k not in ("reliability", "robustness", "confusion", "intervals", "uncalibrated", "template_accuracy")
        }
        row.update({f"robustness_{k}": v for k, v in (r.get("robustness") or {}).items()})
        row.update({f"uncalibrated_{k}": v for k, v in (r.get("uncalibrated") or {}).items()})
        for name, (low, high) in (r.get("intervals") or {}).items():
            row[f"{name}_low"], row[f"{name}_high"] = low, high
        flat.append(row)
    keys: list[str] = []
    for r in flat:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buf.getvalue()


# The report's sections, in order: (table or plot key, heading, what it shows). Written once: both
# templates loop over them (report_sections). A new section is a row here and a table (report_tables) or
# a plot (PLOTS) of its key.
SECTIONS = [
    (
        "versus",
        "Against the best at each size",
        "Each approach against the best at its size, on the verdict's metric and the same test examples: the "
        "best's advantage with its paired 95% interval; the test of a difference (McNemar's exact test for "
        "accuracy with one seed each, else a paired bootstrap) and the two one-sided tests of equivalence within "
        "the margin, each Holm-adjusted over the comparisons with the best at that size. Shown as good: the "
        "interval lies within the margin; shown worse: the difference test says so; undecided: neither, with the "
        "test examples at which one of the two tests would reach 80% power.",
    ),
    (
        "summary",
        "Summary",
        "Each approach at its largest training size: each metric with its 95% bootstrap interval "
        "over the reported split's examples, seeds pooled (see the method below).",
    ),
    ("failures", "Failed approaches", "These did not run; the others did."),
    (
        "degenerate",
        "Degenerate runs",
        "These runs predict one class for at least 95% of the examples while that "
        "class is under 80% of the gold labels: their accuracy says little about what the approach can do (a "
        "schedule too short for a fresh head, label words the model cannot read, a prior that swamps the text).",
    ),
    (
        "learning_curves",
        "Learning curves",
        "Accuracy [95% interval] by training-set size, on the same stratified, "
        "nested subsets for every approach (the band in the plot is the interval). Zero-shot approaches do not learn "
        "from examples: one flat value.",
    ),
    (
        "prompts",
        "Prompts chosen",
        "Approaches that select their prompt (zeroshot with select: true) pick one "
        "template and one set of label words per training subset, by accuracy on those training examples only "
        "(held out where anything is fitted on them); a zero-shot entry whose prompt nobody chose (no templates, "
        "task or select) picks its template once, the same way, on the comparison's smallest training subset "
        "(first seed), and stays one zero-shot run (pick_prompt: false keeps the task-neutral template). The split "
        "reported played no part.",
    ),
    (
        "pairs",
        "Paired comparisons",
        "Each pair of approaches at a shared training size, on the same examples: the "
        "accuracy difference with its paired bootstrap interval, and McNemar's exact test on the examples only one of "
        "them gets right, Holm-adjusted over every pair in this table (many pairs are tested at once: unadjusted p "
        "values would find differences by chance).",
    ),
    (
        "templates",
        "Zero-shot templates",
        "A zero-shot approach given several prompt templates averages their "
        "probabilities; here each template's accuracy alone on the reported split (mean over seeds), and the spread "
        "across them: prompt choice moves zero-shot accuracy as much as the choice of approach does.",
    ),
    (
        "anomaly",
        "Anomaly detection",
        "The LM's mean per-token surprisal (-log probability, nats) as an anomaly score: "
        "the texts of the named anomaly class against the rest, or (none named) the texts against copies with their "
        "words shuffled. AUROC 0.5 is chance, 1 every anomaly more surprising than every normal text; the interval is "
        "a stratified bootstrap.",
    ),
    (
        "claims",
        "Claims tested on this data",
        "Claims of the generative-vs-discriminative literature, computed from "
        "these runs; a claim the runs cannot test says what it needs.",
    ),
    (
        "reliability",
        "Calibration",
        "Reliability diagrams: accuracy within each confidence bin (15 equal-width "
        "bins); bars on the diagonal are perfectly calibrated. ECE is their weighted gap.",
    ),
    (
        "confusion",
        "Confusion matrices",
        "Each approach at its largest training size: rows are the gold labels, "
        "columns the predicted ones, counts in the cells (colour: the share of the row).",
    ),
    (
        "temperature",
        "Calibration on the selection split",
        "Each trained approach at its largest size (first seed), "
        "calibrated on the selection split (one temperature, or scikit-learn's Platt or isotonic calibration): "
        "ECE and log loss on the report's split before and after. A temperature keeps every prediction; "
        "Platt and isotonic calibration can change some.",
    ),
    (
        "robustness",
        "Robustness to missing words",
        "Accuracy [95% interval] as each word of the evaluated texts is "
        "deleted with the given probability (the same words for every approach), and the least-squares slope of "
        "accuracy against the drop rate (0: unaffected; -0.5: loses 5 points per 10% of words dropped).",
    ),
    (
        "disagreements",
        "Where the approaches disagree",
        "The test examples on which the approaches (each at its "
        "largest size, seeds averaged) disagree most; agreement is the share giving the most common label.",
    ),
    ("confident_errors", "Most confident errors", "Each approach's wrong predictions it was surest of."),
    ("cost", "Cost", "Accuracy against training plus prediction time on this machine."),
    (
        "runs",
        "Every run",
        "One row per approach, size, seed and split: the point values of each run (the intervals "
        "are in the tables above and in results.json).",
    ),
]
PLOTS = {
    "learning_curves": "learning_curves.png",
    "reliability": "reliability.png",
    "robustness": "robustness.png",
    "cost": "cost.png",
    "confusion": "confusion_matrices.png",
}
NOTE = (
    "Metrics: " + "; ".join(f"{m.label}: {m.meaning}" for m in METRICS.values()) + ". "
    "`predict ex/s` is `predict_proba` throughput and peak RSS the process's resident memory while the "
    "approach trained and predicted, on this machine (it includes what the process held before: the "
    "increase over that is the second memory column). Approaches that train with Trainer (encoder, lora) "
    "pick their best checkpoint on `selection_split` (see the settings) when one is set, so their numbers "
    "on that split are slightly optimistic: compare approaches on another split."
)


def report_sections(tables: Mapping[str, Table], plots: Mapping[str, Path]) -> list[Section]:
    """The report's sections, in :data:`SECTIONS`' order: those with a table or a plot to show."""
    return [
        Section(key, heading, text, plot=plots.get(key), table=tables.get(key))
        for key, heading, text in SECTIONS
        if key in tables or key in plots
    ]


def _draw_plots(analysis: Analysis, records: Sequence[RunRecord], folder: Path) -> dict[str, Path]:
    split = analysis.split
    if split is None:
        return {}
    firsts = [g.records[0] for g in analysis.summary]  # each approach at its largest size, first seed
    drawn = {
        "learning_curves": plot_learning_curves(analysis, folder / PLOTS["learning_curves"]),
        "reliability": plot_reliability(firsts, split, folder / PLOTS["reliability"]),
        "robustness": plot_robustness(records, folder / PLOTS["robustness"], analysis),
        "cost": plot_cost(firsts, split, folder / PLOTS["cost"]),
        "confusion": plot_confusion_matrices(firsts, split, folder / PLOTS["confusion"]),
    }
    return {k: v for k, v in drawn.items() if v is not None}


def write_report(
    records: Sequence[RunRecord],
    output_dir: str | Path,
    *,
    title: str,
    settings: dict[str, Any],
    notes: Sequence[str] = (),
    analysis: Analysis | None = None,
    texts: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Write ``results.json``, ``analysis.json``, ``results.csv``, ``predictions.parquet``, ``plots/*.png``,
    ``report.md`` and ``report.html``.

    Args:
        records: comparison records (see :func:`llmdisc.compare`).
        output_dir: the folder (created if needed).
        title: the report's heading.
        settings: the run's settings, listed in the report.
        notes: remarks to show at the top (a capped size, say).
        analysis: the records' :func:`~llmdisc.analysis.analyse.analyse` (computed here when not given).
        texts: split -> its texts, to quote the examples the approaches disagree on.

    Returns:
        The path of ``report.md``.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    analysis = analysis if analysis is not None else analyse(records, texts)
    rows = _with_intervals(records, analysis)
    write_json(output_dir / "results.json", rows)
    write_json(output_dir / "analysis.json", analysis.to_dict())
    atomic_write_text(output_dir / "results.csv", _csv(rows))
    if any(r.per_example is not None for r in records):  # records read back from JSON hold none to write
        write_predictions(records, output_dir / PREDICTIONS)
    plots = _draw_plots(analysis, records, output_dir / "plots")
    split = analysis.split
    return write_pages(
        output_dir,
        "report",
        title=title,
        lead=f"Split reported: **{split}**." if split else "No approach ran successfully.",
        verdict=analysis.verdict,
        verdict_table=verdict_table(analysis) if analysis.decisions else None,
        notes=[*notes, *analysis.notes],
        sections=report_sections(report_tables(records, analysis), plots),
        method=analysis.method,
        metrics_note=NOTE,
        settings=settings,
    )
