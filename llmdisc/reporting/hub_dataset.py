"""Share a comparison on the Hugging Face Hub: a dataset repo with the report, results and predictions.

``llmdisc compare --push-to-hub owner/name`` uploads, from the output folder, the report
(``report.md``, ``report.html``, ``plots/``), the results (``results.json``, ``results.csv``,
``analysis.json``, ``comparison.json``) and every run's per-example probabilities
(``predictions.parquet``), with a dataset card (``README.md``). The card's ``configs`` point
``datasets`` at the files, so ``load_dataset("owner/name")`` gives the predictions and
``load_dataset("owner/name", "results")`` one row per run (``results.parquet``, the CSV's rows:
``datasets`` reads all of a repo's configs with one builder, so both are Parquet). The cache (``runs/``) stays local:
``predictions.parquet`` holds the same predictions.

As for models (:mod:`llmdisc.hub.repos`): the token and the Hub are checked before the grid runs,
the report is written locally first, and ``--hub-dry-run`` writes the card and lists what
would be sent, with no network and no token.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmdisc.hub.repos import describe_upload, public_value, upload_folder
from llmdisc.plumbing.atomic_files import atomic_file
from llmdisc.plumbing.templates import render
from llmdisc.reporting.report import markdown_table, verdict_table
from llmdisc.version import __version__

if TYPE_CHECKING:
    from llmdisc.api.findings import Analysis

__all__ = ["SHARED_FILES", "describe_comparison_upload", "push_comparison", "write_dataset_card"]

#: What a pushed comparison holds (patterns relative to the output folder).
SHARED_FILES = [
    "README.md",
    "report.md",
    "report.html",
    "plots/*",
    "results.json",
    "results.csv",
    "results.parquet",
    "analysis.json",
    "comparison.json",
    "predictions.parquet",
]


def write_dataset_card(
    folder: str | Path,
    repo_id: str,
    analysis: Analysis,
    settings: Mapping[str, Any],
    summary: str | None = None,
    license: str | None = None,
) -> Path:
    """Write ``folder/README.md``: the Hub dataset card of a comparison.

    Its metadata has ``configs`` (``predictions``, the default, and ``results``), tags and,
    when given, a license; its text (``templates/dataset_card.md.j2``) the verdict, the summary
    table, the files and how to load them.

    Args:
        folder: the comparison's output folder (``report.md`` and the rest already written).
        repo_id: the dataset repo, ``owner/name``; the snippets load from it.
        analysis: the comparison's analysis (its verdict opens the card).
        settings: the comparison's settings (the data source, approaches, sizes, seeds).
        summary: the summary table in Markdown, if any.
        license: the card's license (the data's, as the Hub spells it: ``mit``, ``cc-by-4.0``...).

    Returns:
        The card's path.
    """
    import pyarrow.csv
    import pyarrow.parquet
    from huggingface_hub import DatasetCard, DatasetCardData

    folder = Path(folder)
    with atomic_file(folder / "results.parquet") as tmp:
        pyarrow.parquet.write_table(pyarrow.csv.read_csv(folder / "results.csv"), tmp, compression="zstd")
    data = DatasetCardData(
        license=license,
        pretty_name=f"llmdisc comparison: {repo_id.split('/')[-1]}",
        tags=["llmdisc", "text-classification", "model-comparison", "discriminative-vs-generative"],
        configs=[
            {
                "config_name": "predictions",
                "data_files": [{"split": "train", "path": "predictions.parquet"}],
                "default": True,
            },
            {"config_name": "results", "data_files": [{"split": "train", "path": "results.parquet"}]},
        ],
    )
    approaches = settings.get("approaches")
    content = render(
        "llmdisc.reporting",
        "dataset_card.md.j2",
        metadata=data.to_yaml(),
        name=repo_id.split("/")[-1],
        repo_id=repo_id,
        # A mapping of approaches (each with its settings) is named by its keys.
        approaches=list(approaches) if isinstance(approaches, (list, dict)) else [approaches],
        source=public_value(settings.get("data", "not recorded")),
        version=__version__,
        verdict=analysis.verdict,
        verdict_table=markdown_table(verdict_table(analysis)) if analysis.decisions else None,
        summary=summary,
        settings=[(k, public_value(v)) for k, v in settings.items()],
    )
    path = folder / "README.md"
    DatasetCard(content).save(path)
    return path


def describe_comparison_upload(folder: str | Path, repo_id: str) -> str:
    """What ``--hub-dry-run`` prints: the dataset repo, then each file a push would send."""
    return describe_upload(folder, repo_id, allow=SHARED_FILES, kind="dataset")


def push_comparison(folder: str | Path, repo_id: str, *, private: bool | None = None, token: str | None = None) -> str:
    """Upload a comparison's output folder (:data:`SHARED_FILES`, card included) as a dataset repo.

    Args:
        folder: the output folder, with its card written (:func:`write_dataset_card`).
        repo_id: ``owner/name``.
        private: create the repo private (ignored if it exists).
        token: a Hub token; by default the stored one.

    Returns:
        The URL of the commit.
    """
    return upload_folder(
        folder,
        repo_id,
        private=private,
        token=token,
        repo_type="dataset",
        allow=SHARED_FILES,
        commit_message="Upload llmdisc comparison",
    )
