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
from .plots import plot_confusion_matrices, plot_cost, plot_learning_curves, plot_reliability, plot_robustness
from .summary import failures, learning_curve, report_split, summary_rows

__all__ = ["TABLE_COLUMNS", "format_table", "markdown_table", "report_tables", "write_report"]

# Per-run table: (record key, column header, format)
TABLE_COLUMNS = [
    ("approach", "approach", "{}"),
    ("paradigm", "paradigm", "{}"),
    ("split", "split", "{}"),
    ("train_examples", "train n", "{}"),
    ("seed", "seed", "{}"),
    ("accuracy", "accuracy", "{:.4f}"),
    ("macro_f1", "macro-F1", "{:.4f}"),
    ("log_loss", "log loss", "{:.4f}"),
    ("brier", "Brier", "{:.4f}"),
    ("ece", "ECE", "{:.4f}"),
    ("train_seconds", "train s", "{:.2f}"),
    ("examples_per_second", "predict ex/s", "{:.0f}"),
]

Table = tuple[list[str], list[list[str]]]  # (headers, rows of cells)


def _cell(record: dict[str, Any], key: str, fmt: str) -> str:
    value = record.get(key)
    if value is None:
        return "-"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def _runs_table(records: Sequence[dict[str, Any]]) -> Table:
    rows = []
    for r in records:
        if r.get("status") == "failed":
            cells = [r["approach"], r.get("paradigm", "-"), r.get("split", "-"), f"FAILED: {r.get('error', '')}"]
            cells += [""] * (len(TABLE_COLUMNS) - len(cells))
        else:
            cells = [_cell(r, key, fmt) for key, _, fmt in TABLE_COLUMNS]
        rows.append(cells)
    return [h for _, h, _ in TABLE_COLUMNS], rows


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


def format_table(records: Sequence[dict[str, Any]]) -> str:
    """A Markdown table with one row per record; failed approaches show their error."""
    return markdown_table(_runs_table(records))


def _pm(row: dict[str, Any], key: str, fmt: str) -> str:
    """``mean ± std`` over seeds (just the value for one seed)."""
    if f"{key}_mean" not in row:
        return "-"
    mean, std = row[f"{key}_mean"], row[f"{key}_std"]
    return fmt.format(mean) + (f" ± {fmt.format(std)}" if row["seeds"] > 1 else "")


def report_tables(records: Sequence[dict[str, Any]]) -> dict[str, Table]:
    """The report's tables: ``summary``, ``failures``, ``learning_curves``, ``robustness``, ``runs``."""
    split = report_split(records)
    tables: dict[str, Table] = {}
    if split:
        rows = []
        gpu = any("peak_gpu_mib" in r for r in records)
        for r in summary_rows(records, split):
            params = "-" if r.get("parameters_total") is None else f"{r['parameters_total']:,} / {r.get('parameters_trainable') or 0:,}"
            rows.append([r["approach"], r.get("paradigm", "-"), "zero-shot" if r.get("flat") else str(r["train_examples"]),
                         str(r["seeds"]), _pm(r, "accuracy", "{:.4f}"), _pm(r, "macro_f1", "{:.4f}"),
                         _pm(r, "ece", "{:.4f}"), _pm(r, "log_loss", "{:.4f}"), _pm(r, "brier", "{:.4f}"),
                         _pm(r, "train_seconds", "{:.2f}"), _pm(r, "examples_per_second", "{:.0f}"), params,
                         _pm(r, "peak_rss_mib", "{:.0f}"), _pm(r, "rss_increase_mib", "{:.0f}")]
                        + ([_pm(r, "peak_gpu_mib", "{:.0f}")] if gpu else []))
        tables["summary"] = (["approach", "paradigm", "train n", "seeds", "accuracy", "macro-F1", "ECE", "log loss",
                              "Brier", "train s", "predict ex/s", "parameters (total / trainable)", "peak RSS MiB",
                              "RSS increase MiB"] + (["peak GPU MiB"] if gpu else []), rows)
        curves = learning_curve(records, split)
        sizes = sorted({n for c in curves.values() if not c["flat"] for n in c["sizes"]})
        rows = []
        for name, c in curves.items():
            by_size = dict(zip(c["sizes"], zip(c["mean"], c["std"], c["seeds"])))
            cells = [f"{c['mean'][0]:.4f} (flat)" if c["flat"] else
                     (f"{by_size[n][0]:.4f}" + (f" ± {by_size[n][1]:.4f}" if by_size[n][2] > 1 else "") if n in by_size else "-")
                     for n in sizes]
            rows.append([name, c["paradigm"], *cells])
        tables["learning_curves"] = (["approach", "paradigm", *[str(n) for n in sizes]], rows)
    robust = [r for r in records if r.get("status") == "ok" and r.get("robustness")]
    if robust:
        rates = sorted({k for r in robust for k in r["robustness"]}, key=float)
        tables["robustness"] = (["approach", "paradigm", *[f"{100 * float(k):g}% dropped" for k in rates]],
                                [[r["approach"], r["paradigm"], *[f"{r['robustness'][k]:.4f}" if k in r["robustness"] else "-"
                                                                  for k in rates]] for r in robust])
    failed = failures(records)
    if failed:
        tables["failures"] = (["approach", "status", "error"], [[r["approach"], "FAILED", r.get("error", "")] for r in failed])
    tables["runs"] = _runs_table(records)
    return tables


def _csv(records: Sequence[dict[str, Any]]) -> str:
    """Every record as a row; robustness as one column per rate, reliability bins left to the JSON."""
    flat = []
    for r in records:
        row = {k: v for k, v in r.items() if k not in ("reliability", "robustness", "confusion", "labels")}
        row.update({f"robustness_{k}": v for k, v in (r.get("robustness") or {}).items()})
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
    ("learning_curves", "Learning curves", "Accuracy by training-set size, on the same stratified, nested subsets "
     "for every approach. Zero-shot approaches do not learn from examples: one flat value."),
    ("reliability", "Calibration", "Reliability diagrams: accuracy within each confidence bin (15 equal-width "
     "bins); bars on the diagonal are perfectly calibrated. ECE is their weighted gap."),
    ("confusion", "Confusion matrices", "Each approach at its largest training size: rows are the gold labels, "
     "columns the predicted ones, counts in the cells (colour: the share of the row)."),
    ("robustness", "Robustness to missing words", "Accuracy as each word of the evaluated texts is deleted "
     "with the given probability (the same words for every approach)."),
    ("cost", "Cost", "Accuracy against training plus prediction time on this machine."),
    ("runs", "Every run", "One row per approach, size, seed and split."),
]
PLOTS = {"learning_curves": "learning_curves.png", "reliability": "reliability.png",
         "robustness": "robustness.png", "cost": "cost.png", "confusion": "confusion_matrices.png"}
NOTE = ("Metrics: accuracy and macro-F1 of the most probable label; log loss (natural log) and Brier score "
        "(sum over classes) of the predicted probabilities; ECE with 15 equal-width confidence bins. "
        "`predict ex/s` is `predict_proba` throughput and peak RSS the process's resident memory while the "
        "approach trained and predicted, on this machine (it includes what the process held before: the "
        "increase over that is the second memory column). Approaches that train with Trainer (encoder, lora) "
        "pick their best checkpoint on `selection_split` (see the settings) when one is set, so their numbers "
        "on that split are slightly optimistic: compare approaches on another split.")


def _draw_plots(records: Sequence[dict[str, Any]], folder: Path) -> dict[str, Path]:
    split = report_split(records)
    if split is None:
        return {}
    drawn = {
        "learning_curves": plot_learning_curves(records, split, folder / PLOTS["learning_curves"]),
        "reliability": plot_reliability(records, split, folder / PLOTS["reliability"]),
        "robustness": plot_robustness(records, folder / PLOTS["robustness"]),
        "cost": plot_cost(records, split, folder / PLOTS["cost"]),
        "confusion": plot_confusion_matrices(records, split, next((r["labels"] for r in records if r.get("labels")), None),
                                             folder / PLOTS["confusion"]),
    }
    return {k: v for k, v in drawn.items() if v is not None}


def write_report(records: Sequence[dict[str, Any]], output_dir: str | Path, *, title: str,
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
    write_json(output_dir / "results.json", list(records))
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
