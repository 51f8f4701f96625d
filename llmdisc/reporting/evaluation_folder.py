"""One model's evaluation, written down: ``metrics.json``, ``predictions.parquet``, a report.

What :func:`llmdisc.commands.evaluate.main` (``llmdisc evaluate MODEL --output-dir DIR``)
writes, from the :class:`~llmdisc.api.records.Evaluation` of each split. Each file is written
atomically. The report is one list of splits (their plots, with :data:`PLOTS`' words, and
confusion tables) built here once and shown by ``templates/evaluation.md.j2`` and
``templates/evaluation.html.j2``, on the comparison report's page and tables (:mod:`llmdisc.reporting.pages`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from llmdisc.api.records import Evaluation, RunRecord
from llmdisc.metrics.classification import ECE
from llmdisc.plumbing.atomic_files import atomic_file, write_json
from llmdisc.plumbing.templates import Table
from llmdisc.reporting.pages import Section, write_pages
from llmdisc.reporting.plots import plot_confusion_matrix, plot_model_reliability
from llmdisc.reporting.report import runs_table

if TYPE_CHECKING:
    import datasets

    from llmdisc.classifiers import TextClassifier

__all__ = ["SplitReport", "prediction_rows", "write_evaluation"]

# Each split's plots: (key, heading, what it shows). Written once: both templates loop over them.
PLOTS = (
    (
        "reliability",
        "Calibration",
        "Reliability diagram: accuracy within each confidence bin (15 equal-width bins); "
        "bars on the diagonal are perfectly calibrated.",
    ),
    (
        "confusion",
        "Confusion matrix",
        "Rows: gold labels; columns: predicted; counts in the cells, colour by the share of the row.",
    ),
)


@dataclass(frozen=True)
class SplitReport:
    """One evaluated split as the report shows it.

    Attributes:
        name: the split's name.
        sections: its plots (those drawn), each with its heading and text.
        confusion: the confusion matrix as a table (report.md only: report.html shows it as a plot).
    """

    name: str
    sections: list[Section]
    confusion: Table


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

    splits_shown = [_split_report(clf, name, r, output_dir / "plots") for name, r in records.items()]
    return write_pages(
        output_dir,
        "evaluation",
        title=f"llmdisc evaluation: {model} ({clf.name}) on {data_name}",
        runs=runs_table(list(records.values())),
        splits=splits_shown,
    )


def _split_report(clf: TextClassifier, name: str, record: RunRecord, folder: Path) -> SplitReport:
    """Draw one split's plots into ``folder``; return what the report shows of the split."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    paths = {
        "reliability": plot_model_reliability(
            record.reliability,
            record.metrics[ECE.name],
            clf.name,
            clf.paradigm,
            name,
            folder / f"reliability-{safe}.png",
        ),
        "confusion": plot_confusion_matrix(
            record.confusion, clf.labels, folder / f"confusion-{safe}.png", f"{clf.name} on {name}"
        ),
    }
    return SplitReport(
        name=name,
        sections=[Section(key, heading, text, plot=paths[key]) for key, heading, text in PLOTS if paths[key]],
        confusion=(
            ["gold \\ predicted", *clf.labels],
            [[gold, *map(str, row)] for gold, row in zip(clf.labels, record.confusion)],
        ),
    )
