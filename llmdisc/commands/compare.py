"""``llmdisc compare``: run several approaches on the same splits; write the report.

    llmdisc compare                                   # the demo comparison
    llmdisc compare --config recipes/sst2-compare.yaml
    llmdisc compare --data ../shared/data/sst2 --label-names negative,positive \\
        --approaches naive_bayes,logistic_regression --sizes 8,32,128,all --seeds 3 --output-dir out
    llmdisc compare --config recipes/sst2-compare.yaml --resume   # after an interruption, or
                                                                  # with one more approach
    llmdisc compare --data my-reviews --verbalizers neg=negative,pos=positive --task sentiment

Several processes share the grid's cells through OUTPUT_DIR (each cell runs whole on one process):

    accelerate launch --multi_gpu --num_processes 8 -m llmdisc compare --config recipes/sst2-compare.yaml
    llmdisc compare --config recipes/sst2-compare.yaml --shard 2/4    # slice 2 of 4 (a job array's task)
    llmdisc compare --config recipes/sst2-compare.yaml --resume       # all slices done: the report

Share the comparison as a Hub dataset repo (report, results, per-example predictions, a card;
``load_dataset(ID)`` then gives the predictions); the token is checked before the grid runs:

    llmdisc compare --config recipes/sst2-compare.yaml --push-to-hub you/sst2-comparison [--hub-dry-run]

``--verbalizers`` (the words the LM scores for each label) and ``--task`` (which picks the
prompt) are given once for the data and reach zero-shot and every LoRA head; an approach's own
settings win. Label names unlikely to be scored as meant (digits, LABEL_0, ``neg``) get one
warning before the first run.

OUTPUT_DIR gets report.md, report.html (self-contained; the verdict at the top), plots/,
results.json (every run, with 95% intervals), analysis.json (the verdict, intervals, paired tests,
claims), results.csv, predictions.parquet (every run's per-example probabilities; load it with
datasets.load_dataset("parquet", data_files=...)), runs/ (one cached result per approach, size and
seed, its predictions beside it, and an approach's synthetic training texts), anomaly.json (the
anomaly-detection LM's surprisal scores) and comparison.json (what the cache was
made from: the data's fingerprint and the settings a resume must share). While it runs, it also
holds .llmdisc.lock (a second comparison on the folder is refused), claims/ (one lock per running
cell, so that processes and shards sharing the folder never run a cell twice) and tmp/
(checkpoints). With --push-to-hub it also gets README.md (the dataset card) and results.parquet.

Exit status: 0 when every run succeeded, 1 when any failed (the last line gives the count; the
report is written all the same), 2 for a problem found before running (one line).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from dataclasses import dataclass
from typing import Any

from llmdisc.analysis.analyse import analyse, failed_runs, report_split
from llmdisc.api.records import RunRecord
from llmdisc.comparison.anomaly import AnomalySettings, anomaly_model, check_anomaly_class, detect_anomalies
from llmdisc.comparison.grid import compare, normalise_approaches
from llmdisc.comparison.settings import CompareSettings
from llmdisc.comparison.shards import parse_shard
from llmdisc.data.loading import DataConfig, label_names
from llmdisc.errors import LlmdiscError
from llmdisc.hub.repos import check_push_access, check_repo_id
from llmdisc.lm.loading import check_model_available
from llmdisc.plumbing import distributed
from llmdisc.plumbing.config import arg, config_to_dict, parse_config
from llmdisc.plumbing.config import make_parser as _fields_parser
from llmdisc.reporting.report import markdown_table, report_tables, write_report

__all__ = ["DEFAULT_APPROACHES", "CompareConfig", "main", "make_parser"]

logger = logging.getLogger(__name__)

# What `llmdisc compare` (and `make demo`) runs when no approaches are named: every approach
# (LoRA with its verbalizer and channel heads), with settings that keep the demo within about ten
# minutes on 2 CPU cores. The cheap approaches draw a three-point learning curve (so the crossover
# points mean something, for a few seconds); the encoder trains once, on all (a small size cost
# it another two minutes on 2 busy cores), the LoRA heads on 32 and 128 examples.
DEFAULT_APPROACHES: dict[str, dict[str, Any]] = {
    "naive_bayes": {"sizes": [8, 32, "all"]},
    "logistic_regression": {"sizes": [8, 32, "all"]},
    # The few-shot discriminative baseline: frozen MiniLM embeddings, a learning curve for seconds.
    # SetFit is left out: 80 contrastive steps at 32 examples and 800 at all 320 take minutes on 2 cores.
    "embedding_lr": {"sizes": [8, 32, "all"]},
    # Epochs left to the schedule rule (training.plan_schedule): at least 200 optimizer steps.
    "encoder": {"model": "minilm-l6", "learning_rate": 1e-4, "batch_size": 16},
    "zeroshot_direct": {"approach": "zeroshot", "model": "smollm2-135m", "mode": "direct"},
    "zeroshot_calibrated": {"approach": "zeroshot", "model": "smollm2-135m", "mode": "direct", "calibrate": True},
    "zeroshot_channel": {"approach": "zeroshot", "model": "smollm2-135m", "mode": "channel"},
    # Two templates averaged: the report gives each one's accuracy, since the prompt moves zero-shot
    # accuracy about as much as the approach does.
    "zeroshot_two_templates": {
        "approach": "zeroshot",
        "model": "smollm2-135m",
        "mode": "direct",
        "templates": ["Text: {text}\nLabel: {label}", "Review: {text}\nSentiment: {label}"],
    },
    # One template and label words picked per training subset, by cross-validated accuracy on it
    # alone (true few-shot): a trained approach on the learning curve; the report names each choice.
    "zeroshot_select": {
        "approach": "zeroshot",
        "model": "smollm2-135m",
        "mode": "direct",
        "select": True,
        "sizes": [8, 32],
    },
    # The same prompt and scoring as zeroshot_direct, after LoRA training: a clean before/after. Its
    # generative sibling, the channel head, on the same sizes: the "generative models need fewer
    # examples" claim for LoRA (32 and 128 examples, 2 epochs: 4 and 16 steps each).
    "lora_verbalizer": {
        "approach": "lora",
        "model": "smollm2-135m",
        "head": "verbalizer",
        "epochs": 2,
        "batch_size": 16,
        "learning_rate": 3e-4,
        "sizes": [32, 128],
    },
    "lora_channel": {
        "approach": "lora",
        "model": "smollm2-135m",
        "head": "channel",
        "epochs": 2,
        "batch_size": 16,
        "learning_rate": 3e-4,
        "sizes": [32, 128],
    },
    # Logistic regression on 32 reviews SmolLM2 writes (16 per label), beside it on 32 real ones:
    # the "generative models can create new data" claim (generating them took 110 s on 2 busy shared cores).
    "logistic_regression_synthetic": {
        "approach": "logistic_regression",
        "sizes": [32],
        "synthetic": {"model": "smollm2-135m", "max_new_tokens": 30},
    },
}


#: Where ``llmdisc compare`` writes when no --output-dir is given (``llmdisc.compare`` keeps no cache then).
DEFAULT_OUTPUT_DIR = "outputs/compare-demo"


@dataclass
class CompareConfig(CompareSettings, AnomalySettings, DataConfig):
    """The grid's settings (:class:`~llmdisc.comparison.settings.CompareSettings`), the anomaly
    detector's, the data's, the approaches, and where the comparison is shared."""

    approaches: list[str] | dict[str, Any] = arg(
        DEFAULT_APPROACHES, "approaches, comma-separated (a YAML mapping may give each its settings)"
    )
    push_to_hub: str | None = arg(
        None, "share the report, results and predictions as this Hub dataset repo, owner/name"
    )
    hub_private: bool | None = arg(None, "create the Hub dataset repo private (default: the Hub's default, public)")
    hub_dry_run: bool = arg(
        False, "with --push-to-hub: write the dataset card and list what would be sent; no network"
    )
    hub_license: str | None = arg(
        None, "the dataset card's license: the data's, as the Hub spells it (mit, cc-by-4.0...)"
    )


def main(config: CompareConfig) -> list[RunRecord]:
    """Run the comparison, print the summary, write the report; return the records.

    With ``--shard``, or in a process other than the main one, the runs are cached and no report
    is written (the main process, or a later ``--resume``, writes it).
    """
    if config.output_dir is None:
        config = dataclasses.replace(config, output_dir=DEFAULT_OUTPUT_DIR)
    shard = parse_shard(config.shard)  # a bad one is one line, before the data loads
    token = _check_hub(config)
    data = config.load()
    check_anomaly_class(config.anomaly_class, label_names(data["train"]))  # before any run
    lm = anomaly_model(config.anomaly_model, normalise_approaches(config.approaches))
    if lm is not None:
        check_model_available(lm)
    records = compare(config.approaches, data, config)
    if not distributed.is_main_process():
        return records
    if shard:
        failed, total = failed_runs(records)
        print(
            f"shard {shard[0]}/{shard[1]}: {total - failed} of {total} runs done, cached in {config.output_dir}"
            + (f" ({failed} failed: a later --resume runs them again)" if failed else "")
        )
        print("when every shard is done, run the same command with --resume instead of --shard to write the report")
        return records
    _report(config, data, records, lm, token)
    return records


def _report(config: CompareConfig, data: Any, records: list[RunRecord], lm: str | None, token: str | None) -> None:
    """After the grid: the anomaly scores, the analysis, the report, the console summary, the upload."""
    notes = sorted({r.notes for r in records if r.notes})
    lead = report_split(records)
    scores = None
    if lm is not None and lead is not None:
        scores = detect_anomalies(data[lead], lead, lm, config, output_dir=config.output_dir, reuse=config.resume)
    texts = {name: list(split["text"]) for name, split in data.items()}
    analysis = analyse(records, texts=texts, anomaly=scores, settings=config)
    path = write_report(
        records,
        config.output_dir,
        title=f"llmdisc comparison: {config.describe()}",
        settings=config_to_dict(config),
        notes=notes,
        analysis=analysis,
    )
    tables = report_tables(records, analysis)
    print("Verdict:\n" + "\n".join(f"- {line}" for line in analysis.verdict) + "\n")
    for key in ("summary", "learning_curves", "failures"):
        if key in tables and (key != "learning_curves" or len(tables[key][0]) > 3):
            print(markdown_table(tables[key]) + "\n")
    print(f"report: {path} (and report.html)")
    if config.push_to_hub:
        _share(config, analysis, markdown_table(tables["summary"]) if "summary" in tables else None, token)
    failed, total = failed_runs(records)
    if failed:  # last, so that a script or a CI log shows it (and the exit status is 1)
        print(f"{failed} of {total} runs failed; see the Failed approaches table in {path}")


def _check_hub(config: CompareConfig) -> str | None:
    """Before the grid runs: the Hub settings make sense and an upload can work. Return the token."""
    if not config.push_to_hub:
        if config.hub_dry_run:
            raise LlmdiscError("--hub-dry-run needs --push-to-hub owner/name (the dataset repo it is for)")
        return None
    check_repo_id(config.push_to_hub, "dataset")
    if config.shard:
        raise LlmdiscError(
            "--push-to-hub with --shard: a shard writes no report; push from the run that merges "
            "the shards (--resume without --shard)"
        )
    if config.hub_dry_run or not distributed.is_main_process():
        return None  # no token, no network; under accelerate launch only the main process pushes
    return check_push_access(config.push_to_hub, kind="dataset")


def _share(config: CompareConfig, analysis: Any, summary: str | None, token: str | None) -> None:
    """Write the dataset card, then upload the comparison (or, for a dry run, list what would go)."""
    from llmdisc.reporting.hub_dataset import describe_comparison_upload, push_comparison, write_dataset_card

    write_dataset_card(
        config.output_dir, config.push_to_hub, analysis, config_to_dict(config), summary, license=config.hub_license
    )
    if config.hub_dry_run:
        print(describe_comparison_upload(config.output_dir, config.push_to_hub))
        return
    url = push_comparison(config.output_dir, config.push_to_hub, private=config.hub_private, token=token)
    print(f"pushed: {url}")


def _exit_status(records: list[RunRecord]) -> int:
    """The ``compare`` command's exit status: 1 when any run failed, else 0."""
    return 1 if failed_runs(records)[0] else 0


def make_parser(subparsers: Any = None) -> argparse.ArgumentParser:
    """The ``compare`` parser (a sub-command parser when ``subparsers`` is given)."""
    kwargs = {"description": __doc__, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = (
        subparsers.add_parser("compare", help="compare approaches on the same splits", **kwargs)
        if subparsers
        else argparse.ArgumentParser(**kwargs)
    )
    _fields_parser(CompareConfig, parser)
    parser.set_defaults(func=lambda args: _exit_status(main(parse_config(CompareConfig, args))))
    return parser


if __name__ == "__main__":
    from llmdisc.plumbing.console import run

    sys.exit(run(make_parser()))
