"""``llmdisc compare``: run several approaches on the same splits; print and save the table.

    llmdisc compare                                   # the demo comparison
    llmdisc compare --config recipes/sst2-compare.yaml
    llmdisc compare --data ../shared/data/sst2 --label-names negative,positive \\
        --approaches naive_bayes,logistic_regression --output-dir out
"""

from __future__ import annotations

import argparse
import sys
import logging
from dataclasses import dataclass
from typing import Any

from ..config import arg, config_to_dict, make_parser as _fields_parser, parse_config
from ..data import DataConfig
from ..evaluation import compare
from ..report import format_table, write_report

__all__ = ["DEFAULT_APPROACHES", "CompareConfig", "main", "make_parser"]

logger = logging.getLogger(__name__)

# What `llmdisc compare` (and `make demo`) runs when no approaches are named: every approach,
# with settings that keep the demo within a few minutes on 2 CPU cores.
DEFAULT_APPROACHES: dict[str, dict[str, Any]] = {
    "naive_bayes": {},
    "logistic_regression": {},
    "encoder": {"model": "minilm-l6", "epochs": 3, "learning_rate": 1e-4, "batch_size": 16},
    "zeroshot_direct": {"approach": "zeroshot", "model": "smollm2-135m", "mode": "direct"},
    "zeroshot_calibrated": {"approach": "zeroshot", "model": "smollm2-135m", "mode": "direct", "calibrate": True},
    "zeroshot_channel": {"approach": "zeroshot", "model": "smollm2-135m", "mode": "channel"},
    # The same prompt and scoring as zeroshot_direct, after LoRA training: a clean before/after.
    "lora_verbalizer": {"approach": "lora", "model": "smollm2-135m", "head": "verbalizer", "epochs": 2,
                        "batch_size": 16, "learning_rate": 3e-4},
}


@dataclass
class CompareConfig(DataConfig):
    approaches: list[str] | dict[str, Any] = arg(
        DEFAULT_APPROACHES, "approaches, comma-separated (a YAML mapping may give each its settings)")
    splits: list[str] = arg(["validation", "test"], "splits to evaluate on")
    max_train_samples: int | None = arg(None, "train on a stratified subset of this many examples")
    output_dir: str = arg("outputs/compare-demo", "where report.md, results.json and results.csv go")


def main(config: CompareConfig) -> list[dict[str, Any]]:
    """Run the comparison, print the table, write the report; return the records."""
    data = config.load()
    records = compare(config.approaches, data, splits=config.splits,
                      max_train_samples=config.max_train_samples, seed=config.seed)
    path = write_report(records, config.output_dir, title=f"llmdisc comparison: {config.describe()}",
                        settings=config_to_dict(config))
    print(format_table(records))
    print(f"\nreport: {path}")
    return records


def make_parser(subparsers: Any = None) -> argparse.ArgumentParser:
    """The ``compare`` parser (a sub-command parser when ``subparsers`` is given)."""
    kwargs = {"description": __doc__, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = (subparsers.add_parser("compare", help="compare approaches on the same splits", **kwargs)
              if subparsers else argparse.ArgumentParser(**kwargs))
    _fields_parser(CompareConfig, parser)
    parser.set_defaults(func=lambda args: main(parse_config(CompareConfig, args)))
    return parser


if __name__ == "__main__":
    from ..cli import run

    sys.exit(run(make_parser()))
