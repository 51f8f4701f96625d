"""Write comparison results: ``results.json``, ``results.csv`` and a readable ``report.md``."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Sequence

from .io import atomic_write_text, write_json

__all__ = ["TABLE_COLUMNS", "format_table", "write_report"]

# (record key, column header, format)
TABLE_COLUMNS = [
    ("approach", "approach", "{}"),
    ("paradigm", "paradigm", "{}"),
    ("split", "split", "{}"),
    ("train_examples", "train n", "{}"),
    ("accuracy", "accuracy", "{:.4f}"),
    ("macro_f1", "macro-F1", "{:.4f}"),
    ("log_loss", "log loss", "{:.4f}"),
    ("brier", "Brier", "{:.4f}"),
    ("ece", "ECE", "{:.4f}"),
    ("train_seconds", "train s", "{:.2f}"),
    ("examples_per_second", "predict ex/s", "{:.0f}"),
]


def _cell(record: dict[str, Any], key: str, fmt: str) -> str:
    value = record.get(key)
    if value is None:
        return "-"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def format_table(records: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of comparison records; failed approaches show their error."""
    lines = ["| " + " | ".join(h for _, h, _ in TABLE_COLUMNS) + " |",
             "|" + "---|" * len(TABLE_COLUMNS)]
    for r in records:
        if r.get("status") == "failed":
            cells = [r["approach"], r.get("paradigm", "-"), r.get("split", "-"),
                     f"FAILED: {r.get('error', '')}".replace("|", "/")]
            cells += [""] * (len(TABLE_COLUMNS) - len(cells))
        else:
            cells = [_cell(r, key, fmt) for key, _, fmt in TABLE_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _csv(records: Sequence[dict[str, Any]]) -> str:
    keys: list[str] = []
    for r in records:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buf.getvalue()


def write_report(records: Sequence[dict[str, Any]], output_dir: str | Path, *, title: str,
                 settings: dict[str, Any]) -> Path:
    """Write ``results.json``, ``results.csv`` and ``report.md`` into ``output_dir`` (atomically each).

    Args:
        records: comparison records (see :func:`llmdisc.compare`).
        output_dir: the folder (created if needed).
        title: the report's heading.
        settings: the run's settings, listed in the report.

    Returns:
        The path of ``report.md``.
    """
    output_dir = Path(output_dir)
    write_json(output_dir / "results.json", list(records))
    atomic_write_text(output_dir / "results.csv", _csv(records))
    settings_md = "\n".join(f"- `{k}`: `{v}`" for k, v in settings.items())
    report = f"""# {title}

{format_table(records)}

Metrics: accuracy and macro-F1 of the most probable label; log loss (natural log) and
Brier score (sum over classes) of the predicted probabilities; ECE with 15 equal-width confidence
bins. `predict ex/s` is `predict_proba` throughput on this machine. Approaches that train with
Trainer (encoder, lora) pick their best checkpoint on the validation split, so their validation
numbers are slightly optimistic: compare approaches on test.

## Settings

{settings_md}
"""
    atomic_write_text(output_dir / "report.md", report)
    return output_dir / "report.md"
