"""``llmdisc evaluate MODEL``: score a saved classifier on labelled data.

    llmdisc evaluate outputs/nb                                   # the demo's test split
    llmdisc evaluate outputs/enc --data reviews.csv --text-column review --output-dir outputs/enc-eval
    llmdisc evaluate you/minilm-demo --data ../shared/data/sst2 --splits validation,test

The data options are ``train``'s. A single file is evaluated whole; a folder, ``split=PATH``
pairs or a Hub data set are evaluated on ``--splits`` (default: test). Labels are read as the
model's label names (integer labels 0..k-1 name them in order; ``--label-names`` overrides).

Prints the metrics table ``train`` prints. With ``--output-dir``: ``metrics.json`` (with the
reliability bins and the confusion matrix, rows = gold labels), ``predictions.parquet`` (split,
index, text, gold, predicted, ``prob_LABEL`` per label) and ``report.md`` / ``report.html`` with
a reliability diagram and a confusion matrix per split.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmdisc.api.records import Evaluation
from llmdisc.data.files import parse_data_source
from llmdisc.data.loading import DataConfig
from llmdisc.errors import LlmdiscError
from llmdisc.plumbing import distributed
from llmdisc.plumbing.config import arg, parse_config
from llmdisc.plumbing.config import make_parser as _fields_parser

__all__ = ["EvaluateConfig", "main", "make_parser"]


@dataclass
class EvaluateConfig(DataConfig):
    splits: list[str] = arg(["test"], "splits to evaluate (a single --data file is evaluated whole)")
    output_dir: str | None = arg(None, "write metrics.json, predictions.parquet and a report here")
    revision: str | None = arg(None, "for a Hub id: the branch, tag or commit to load")
    device: str | None = arg(None, "where the model runs: auto, cuda, cuda:N, mps, cpu (default: as saved)")
    dtype: str | None = arg(None, "its precision: auto, float32, bfloat16, float16 (default: as saved)")


def _model_folder(model: str, revision: str | None) -> Path:
    """The local folder of ``model`` (a Hub repo is downloaded, or read from the cache offline),
    checked to hold an llmdisc classifier: no torch, so a wrong path is reported at once."""
    from llmdisc.classifiers.base import CONFIG_FILE, not_a_classifier
    from llmdisc.hub.repos import download_folder
    from llmdisc.lm.loading import is_repo_id

    if is_repo_id(model):
        try:
            folder = download_folder(model, revision=revision)
        except LlmdiscError as e:
            raise LlmdiscError(f"{model} is not a local folder, and as a Hub repo: {e}") from None
    else:
        folder = Path(model).expanduser()
    if not (folder / CONFIG_FILE).is_file():
        raise LlmdiscError(not_a_classifier(folder))
    return folder


def _load_splits(config: EvaluateConfig, labels: list[str]) -> dict[str, Any]:
    """The data sets to evaluate, by name, labelled with ``labels``' indices."""
    from llmdisc.data.files import parse_splits_map, source_files
    from llmdisc.data.loading import load_text_dataset

    source = parse_data_source(config.data)
    files = source_files(source, parse_splits_map(config.splits_map))
    whole_file = (
        isinstance(source, str) and files is not None and list(files) == ["train"] and files["train"].is_file()
    )
    data = load_text_dataset(
        source,
        config,
        label_names=config.label_names or labels,
        validation_size=0 if whole_file else config.validation_size,
    )
    if whole_file:
        return {files["train"].name: data["train"]}
    missing = [s for s in config.splits if s not in data]
    if missing:
        raise LlmdiscError(f"the data has no {', '.join(missing)} split (it has: {', '.join(data)}); pass --splits")
    return {s: data[s] for s in config.splits}


def main(model: str, config: EvaluateConfig) -> dict[str, Evaluation]:
    """Evaluate the classifier saved at ``model``; print the table, write the files; return the metrics by split."""
    from llmdisc.api.records import RunRecord
    from llmdisc.classifiers import TextClassifier
    from llmdisc.comparison.evaluation import evaluate_classifier
    from llmdisc.reporting.evaluation_folder import write_evaluation
    from llmdisc.reporting.report import format_table

    output_dir = Path(config.output_dir) if config.output_dir else None
    if output_dir is not None and output_dir.exists() and not output_dir.is_dir():
        raise LlmdiscError(f"--output-dir {output_dir} is a file; pass a folder")
    folder = _model_folder(model, config.revision)
    meta = json.loads((folder / "llmdisc_config.json").read_text(encoding="utf-8"))
    splits = _load_splits(config, list(meta["labels"]))  # column and label errors before the model loads
    clf = TextClassifier.from_pretrained(folder, device=config.device, dtype=config.dtype)
    results = {name: evaluate_classifier(clf, ds) for name, ds in splits.items()}
    if not distributed.is_main_process():
        return results
    print(
        format_table(
            [RunRecord.of_model(clf.name, clf.paradigm, clf.labels, name, e, clf.info) for name, e in results.items()]
        )
    )
    if output_dir is not None:
        path = write_evaluation(clf, model, config.describe(), splits, results, output_dir)
        print(f"\nreport: {path} (and report.html, metrics.json, predictions.parquet)")
    return results


def make_parser(subparsers: Any = None) -> argparse.ArgumentParser:
    kwargs = {"description": __doc__, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = (
        subparsers.add_parser("evaluate", help="score a saved classifier on labelled data", **kwargs)
        if subparsers
        else argparse.ArgumentParser(**kwargs)
    )
    parser.add_argument("model", metavar="MODEL", help="a folder saved by llmdisc train, or a Hub id owner/name")
    _fields_parser(EvaluateConfig, parser)
    parser.set_defaults(
        func=lambda args: main(
            args.model,
            parse_config(EvaluateConfig, argparse.Namespace(**{k: v for k, v in vars(args).items() if k != "model"})),
        )
    )
    return parser


if __name__ == "__main__":
    from llmdisc.plumbing.console import run

    sys.exit(run(make_parser()))
