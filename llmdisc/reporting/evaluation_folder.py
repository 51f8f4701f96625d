"""One model's evaluation, written down: ``metrics.json``, ``predictions.parquet``, a report.

What :func:`llmdisc.commands.evaluate.main` (``llmdisc evaluate MODEL --output-dir DIR``)
writes, from the :class:`~llmdisc.api.records.Evaluation` of each split. Each file is written
atomically.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from llmdisc.api.records import Evaluation, RunRecord
from llmdisc.metrics.classification import ECE
from llmdisc.plumbing.atomic_files import atomic_file, atomic_write_text, write_json
from llmdisc.reporting.plots import plot_confusion_matrix, plot_model_reliability
from llmdisc.reporting.report import format_table, markdown_table

if TYPE_CHECKING:
    import datasets

    from llmdisc.classifiers import TextClassifier

__all__ = ["prediction_rows", "write_evaluation"]


def prediction_rows(split: str, data: datasets.Dataset, labels: list[str], probs: np.ndarray) -> dict[str, list]:
    """Per-example columns: ``split``, ``index``, ``text``, ``gold``, ``predicted``, ``prob_LABEL``."""
    gold = list(data["label"])
    predicted = probs.argmax(axis=1)
    columns: dict[str, list] = {
        "split": [split] * len(gold),
        "index": list(range(len(gold))),
        "text": list(data["text"]),
        "gold": [labels[y] for y in gold],
        "predicted": [labels[int(p)] for p in predicted],
    }
    for j, name in enumerate(labels):
        columns[f"prob_{name}"] = probs[:, j].astype(float).tolist()
    return columns


def write_evaluation(
    clf: TextClassifier,
    model: str,
    data_name: str,
    splits: Mapping[str, datasets.Dataset],
    results: Mapping[str, Evaluation],
    output_dir: str | Path,
) -> Path:
    """Write ``metrics.json``, ``predictions.parquet``, ``plots/`` and ``report.md`` / ``report.html``.

    Args:
        clf: the evaluated classifier.
        model: what it was loaded from (a folder or a Hub id), for the report.
        data_name: the data's description.
        splits: the evaluated data sets, by name.
        results: the evaluation of each split, by name.
        output_dir: the folder (created if needed).

    Returns:
        The path of ``report.md``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    output_dir = Path(output_dir)
    (output_dir / "plots").mkdir(parents=True, exist_ok=True)
    columns: dict[str, list] = {}
    for name, ds in splits.items():
        for key, values in prediction_rows(name, ds, clf.labels, results[name].probabilities).items():
            columns.setdefault(key, []).extend(values)
    with atomic_file(output_dir / "predictions.parquet") as tmp:
        pq.write_table(pa.table(columns), tmp)
    records = {
        name: RunRecord.of_model(clf.name, clf.paradigm, clf.labels, name, e, clf.info) for name, e in results.items()
    }
    write_json(
        output_dir / "metrics.json",
        {
            "model": model,
            "approach": clf.name,
            "labels": clf.labels,
            "data": data_name,
            "splits": {n: r.to_dict() for n, r in records.items()},
        },
    )

    title = f"llmdisc evaluation: {model} ({clf.name}) on {data_name}"
    table = format_table(list(records.values()))
    md = [f"# {title}", "", table, ""]
    page = [f"<h1>{html.escape(title)}</h1>", f"<pre>{html.escape(table)}</pre>"]
    for name, r in records.items():
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        drawn = [
            (
                "Calibration",
                "Reliability diagram: accuracy within each confidence bin (15 equal-width bins); "
                "bars on the diagonal are perfectly calibrated.",
                plot_model_reliability(
                    r.reliability,
                    r.metrics[ECE.name],
                    clf.name,
                    clf.paradigm,
                    name,
                    output_dir / "plots" / f"reliability-{safe}.png",
                ),
            ),
            (
                "Confusion matrix",
                "Rows: gold labels; columns: predicted; counts in the cells, colour by the share of the row.",
                plot_confusion_matrix(
                    r.confusion, clf.labels, output_dir / "plots" / f"confusion-{safe}.png", f"{clf.name} on {name}"
                ),
            ),
        ]
        md += [f"## {name}", ""]
        page.append(f"<h2>{html.escape(name)}</h2>")
        for heading, text, path in drawn:
            if path is None:
                continue
            md += [f"### {heading}", "", text, "", f"![{heading}](plots/{path.name})", ""]
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            page += [
                f"<h3>{heading}</h3>",
                f"<p>{html.escape(text)}</p>",
                f"<img alt='{heading}' src='data:image/png;base64,{data}'>",
            ]
        confusion = (
            ["gold \\ predicted", *clf.labels],
            [[gold, *map(str, row)] for gold, row in zip(clf.labels, r.confusion)],
        )
        md += [markdown_table(confusion), ""]
    atomic_write_text(output_dir / "report.md", "\n".join(md))
    atomic_write_text(
        output_dir / "report.html",
        f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; }}
img {{ max-width: 100%; }}</style></head><body>
{chr(10).join(page)}
</body></html>
""",
    )
    return output_dir / "report.md"
