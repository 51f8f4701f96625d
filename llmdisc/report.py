"""Write a comparison's results: ``results.json``, ``results.csv``, plots, ``report.md``, ``report.html``.

The report leads with the test split when it was evaluated (approaches that pick a checkpoint
on validation look slightly better there). Every table is built once, as rows of strings, and
rendered both as Markdown and as HTML; the HTML embeds its plots, so it is one file to share.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from pathlib import Path
from typing import Any, Sequence

from .io import atomic_write_text, write_json
from .metrics import ACCURACY, BRIER, ECE, LOG_LOSS, MACRO_F1, METRICS
from .plots import plot_confusion_matrices, plot_cost, plot_learning_curves, plot_reliability, plot_robustness
from .records import RunRecord
from .summary import SummaryRow, failures, learning_curve, report_split, summary_rows

__all__ = ["format_table", "markdown_table", "report_tables", "write_report"]

Table = tuple[list[str], list[list[str]]]  # (headers, rows of cells)


def _number(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _runs_table(records: Sequence[RunRecord]) -> Table:
    """One row per record: identity columns, every metric of the registry, two costs, and where
    it ran (its predict ex/s depend on that)."""
    headers = ["approach", "paradigm", "split", "train n", "seed"] + [m.label for m in METRICS.values()] \
        + ["train s", "predict ex/s", "device / dtype"]
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


def markdown_table(table: Table) -> str:
    headers, rows = table
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _html_table(table: Table) -> str:
    headers, rows = table
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def format_table(records: Sequence[RunRecord]) -> str:
    """A Markdown table with one row per record; failed approaches show their error."""
    return markdown_table(_runs_table(records))


def _pm(row: SummaryRow, key: str, fmt: str) -> str:
    """``mean ± std`` over seeds (just the value for one seed)."""
    if key not in row.mean:
        return "-"
    return fmt.format(row.mean[key]) + (f" ± {fmt.format(row.std[key])}" if row.seeds > 1 else "")


# The summary's metric columns, in this order (calibration next to accuracy).
_SUMMARY_METRICS = (ACCURACY, MACRO_F1, ECE, LOG_LOSS, BRIER)
# The summary's cost columns: (cost field, header, format).
_SUMMARY_COSTS = (("train_seconds", "train s", "{:.2f}"), ("examples_per_second", "predict ex/s", "{:.0f}"))
_MEMORY = (("peak_rss_mib", "peak RSS MiB"), ("rss_increase_mib", "RSS increase MiB"))


def report_tables(records: Sequence[RunRecord]) -> dict[str, Table]:
    """The report's tables: ``summary``, ``failures``, ``learning_curves``, ``robustness``, ``runs``."""
    split = report_split(records)
    tables: dict[str, Table] = {}
    if split:
        rows = []
        gpu = any(r.costs.peak_gpu_mib is not None for r in records)
        memory = _MEMORY + ((("peak_gpu_mib", "peak GPU MiB"),) if gpu else ())
        for row in summary_rows(records, split):
            r = row.record
            params = "-" if r.costs.parameters_total is None else \
                f"{r.costs.parameters_total:,} / {r.costs.parameters_trainable or 0:,}"
            name = f"{r.variant} (degenerate: see below)" if r.degenerate else r.variant
            rows.append([name, r.paradigm, "zero-shot" if r.flat else str(r.train_examples), str(row.seeds)]
                        + [_pm(row, m.name, m.fmt) for m in _SUMMARY_METRICS]
                        + [_pm(row, key, fmt) for key, _, fmt in _SUMMARY_COSTS] + [params]
                        + [_pm(row, key, "{:.0f}") for key, _ in memory])
        tables["summary"] = (["approach", "paradigm", "train n", "seeds"] + [m.label for m in _SUMMARY_METRICS]
                             + [h for _, h, _ in _SUMMARY_COSTS] + ["parameters (total / trainable)"]
                             + [h for _, h in memory], rows)
        curves = learning_curve(records, split)
        sizes = sorted({n for c in curves.values() if not c.flat for n in c.sizes})
        rows = []
        for name, c in curves.items():
            by_size = dict(zip(c.sizes, zip(c.mean, c.std, c.seeds)))
            cells = [f"{ACCURACY.format(c.mean[0])} (flat)" if c.flat else
                     (ACCURACY.format(by_size[n][0]) + (f" ± {ACCURACY.format(by_size[n][1])}" if by_size[n][2] > 1 else "")
                      if n in by_size else "-")
                     for n in sizes]
            rows.append([name, c.paradigm, *cells])
        tables["learning_curves"] = (["approach", "paradigm", *[str(n) for n in sizes]], rows)
    robust = [r for r in records if r.ok and r.robustness]
    if robust:
        rates = sorted({k for r in robust for k in r.robustness}, key=float)
        tables["robustness"] = (["approach", "paradigm", *[f"{100 * float(k):g}% dropped" for k in rates]],
                                [[r.variant, r.paradigm, *[ACCURACY.format(r.robustness[k]) if k in r.robustness else "-"
                                                           for k in rates]] for r in robust])
    degenerate = [r for r in records if r.degenerate]
    if degenerate:
        tables["degenerate"] = (["approach", "train n", "seed", "split", "predictions", "accuracy"],
                                [[r.variant, "zero-shot" if r.flat else str(r.train_examples), str(r.seed or "-"),
                                  r.split, r.degenerate, ACCURACY.format(r.metrics.get(ACCURACY.name))]
                                 for r in degenerate])
    calibrated = [row for row in (summary_rows(records, split) if split else []) if row.record.uncalibrated]
    if calibrated:
        tables["temperature"] = (["approach", "train n", "temperature", "ECE before -> after", "log loss before -> after"], [
            [row.record.variant, str(row.record.train_examples), f"{row.record.temperature:.3g}",
             f"{ECE.format(row.record.uncalibrated['ece'])} -> {ECE.format(row.record.metrics[ECE.name])}",
             f"{LOG_LOSS.format(row.record.uncalibrated['log_loss'])} -> {LOG_LOSS.format(row.record.metrics[LOG_LOSS.name])}"]
            for row in calibrated])
    failed = failures(records)
    if failed:
        tables["failures"] = (["approach", "status", "error"], [[r.variant, "FAILED", r.error or ""] for r in failed])
    tables["runs"] = _runs_table(records)
    return tables


def _csv(records: Sequence[RunRecord]) -> str:
    """Every record as a row; robustness as one column per rate, reliability bins and the
    confusion matrix left to the JSON."""
    flat = []
    for r in records:
        row = {k: v for k, v in r.to_dict().items() if k not in ("reliability", "robustness", "confusion", "uncalibrated")}
        row.update({f"robustness_{k}": v for k, v in (r.robustness or {}).items()})
        row.update({f"uncalibrated_{k}": v for k, v in (r.uncalibrated or {}).items()})
        flat.append(row)
    keys: list[str] = []
    for r in flat:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buf.getvalue()


SECTIONS = [  # (table or plot key, heading, what it shows)
    ("summary", "Summary", "Each approach at its largest training size (mean ± sample standard deviation over seeds)."),
    ("failures", "Failed approaches", "These did not run; the others did."),
    ("degenerate", "Degenerate runs", "These runs predict one class for at least 95% of the examples while that "
     "class is under 80% of the gold labels: their accuracy says little about what the approach can do (a "
     "schedule too short for a fresh head, label words the model cannot read, a prior that swamps the text)."),
    ("learning_curves", "Learning curves", "Accuracy by training-set size, on the same stratified, nested subsets "
     "for every approach. Zero-shot approaches do not learn from examples: one flat value."),
    ("reliability", "Calibration", "Reliability diagrams: accuracy within each confidence bin (15 equal-width "
     "bins); bars on the diagonal are perfectly calibrated. ECE is their weighted gap."),
    ("confusion", "Confusion matrices", "Each approach at its largest training size: rows are the gold labels, "
     "columns the predicted ones, counts in the cells (colour: the share of the row)."),
    ("temperature", "Temperature scaling", "Each trained approach at its largest size (first seed), with one "
     "temperature fitted on the selection split: ECE and log loss on the report's split before and after. "
     "Accuracy does not change (a temperature keeps every prediction)."),
    ("robustness", "Robustness to missing words", "Accuracy as each word of the evaluated texts is deleted "
     "with the given probability (the same words for every approach)."),
    ("cost", "Cost", "Accuracy against training plus prediction time on this machine."),
    ("runs", "Every run", "One row per approach, size, seed and split."),
]
PLOTS = {"learning_curves": "learning_curves.png", "reliability": "reliability.png",
         "robustness": "robustness.png", "cost": "cost.png", "confusion": "confusion_matrices.png"}
NOTE = ("Metrics: " + "; ".join(f"{m.label}: {m.meaning}" for m in METRICS.values()) + ". "
        "`predict ex/s` is `predict_proba` throughput and peak RSS the process's resident memory while the "
        "approach trained and predicted, on this machine (it includes what the process held before: the "
        "increase over that is the second memory column). Approaches that train with Trainer (encoder, lora) "
        "pick their best checkpoint on `selection_split` (see the settings) when one is set, so their numbers "
        "on that split are slightly optimistic: compare approaches on another split.")


def _draw_plots(records: Sequence[RunRecord], folder: Path) -> dict[str, Path]:
    split = report_split(records)
    if split is None:
        return {}
    drawn = {
        "learning_curves": plot_learning_curves(records, split, folder / PLOTS["learning_curves"]),
        "reliability": plot_reliability(records, split, folder / PLOTS["reliability"]),
        "robustness": plot_robustness(records, folder / PLOTS["robustness"]),
        "cost": plot_cost(records, split, folder / PLOTS["cost"]),
        "confusion": plot_confusion_matrices(records, split, folder / PLOTS["confusion"]),
    }
    return {k: v for k, v in drawn.items() if v is not None}


def write_report(records: Sequence[RunRecord], output_dir: str | Path, *, title: str,
                 settings: dict[str, Any], notes: Sequence[str] = ()) -> Path:
    """Write ``results.json``, ``results.csv``, ``plots/*.png``, ``report.md`` and ``report.html``.

    Args:
        records: comparison records (see :func:`llmdisc.compare`).
        output_dir: the folder (created if needed).
        title: the report's heading.
        settings: the run's settings, listed in the report.
        notes: remarks to show at the top (a capped size, say).

    Returns:
        The path of ``report.md``.
    """
    output_dir = Path(output_dir)
    write_json(output_dir / "results.json", [r.to_dict() for r in records])
    atomic_write_text(output_dir / "results.csv", _csv(records))
    plots = _draw_plots(records, output_dir / "plots")
    tables = report_tables(records)
    split = report_split(records)
    lead = f"Split reported: **{split}**." if split else "No approach ran successfully."
    md = [f"# {title}", "", lead, ""] + [f"- Note: {n}" for n in notes] + [""]
    page = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(lead.replace('**', ''))}</p>"]
    page += [f"<p class='note'>Note: {html.escape(n)}</p>" for n in notes]
    for key, heading, text in SECTIONS:
        if key not in tables and key not in plots:
            continue
        md += [f"## {heading}", "", text, ""]
        page += [f"<h2>{html.escape(heading)}</h2>", f"<p>{html.escape(text)}</p>"]
        if key in plots:
            md += [f"![{heading}](plots/{plots[key].name})", ""]
            data = base64.b64encode(plots[key].read_bytes()).decode("ascii")
            page.append(f"<img alt='{html.escape(heading)}' src='data:image/png;base64,{data}'>")
        if key in tables:
            md += [markdown_table(tables[key]), ""]
            page.append(_html_table(tables[key]))
    settings_md = "\n".join(f"- `{k}`: `{v}`" for k, v in settings.items())
    md += ["## Settings", "", NOTE, "", settings_md, ""]
    page += ["<h2>Settings</h2>", f"<p>{html.escape(NOTE)}</p>",
             "<ul>" + "".join(f"<li><code>{html.escape(str(k))}</code>: <code>{html.escape(str(v))}</code></li>"
                              for k, v in settings.items()) + "</ul>"]
    atomic_write_text(output_dir / "report.md", "\n".join(md))
    atomic_write_text(output_dir / "report.html", f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }}
th {{ background: #f3f3f3; }} td:first-child, th:first-child {{ text-align: left; }}
img {{ max-width: 100%; border: 1px solid #eee; }} .note {{ color: #a35; }}
</style></head><body>
{chr(10).join(page)}
</body></html>
""")
    return output_dir / "report.md"
