"""Benchmark: Naive Bayes vs logistic regression on all of SST-2 (foundation issue).

    .venv/bin/python benchmarks/classical_sst2.py [--data ../shared/data/sst2]

Trains both baselines on the full SST-2 train split (67,349 phrases and sentences), evaluates on
validation (872) and test (1,821), prints the table and checks the targets: validation accuracy
>= 0.80 for Naive Bayes and >= 0.81 for logistic regression. Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import date
from pathlib import Path

import llmdisc
from llmdisc.reporting.report import format_table

TARGETS = {"naive_bayes": 0.80, "logistic_regression": 0.81}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"))
    parser.add_argument("--output", default="outputs/bench-classical-sst2.json")
    args = parser.parse_args()

    data = llmdisc.load_text_dataset(args.data, label_names=["negative", "positive"])
    records = llmdisc.compare(list(TARGETS), data, splits=["validation", "test"])
    print(
        f"{date.today()} | {platform.node()} | {platform.processor() or platform.machine()} | "
        f"python {platform.python_version()} | llmdisc {llmdisc.__version__}"
    )
    print(format_table(records))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(records, indent=2))

    ok = True
    for r in records:
        if r["split"] == "validation":
            target = TARGETS[r["approach"]]
            met = r["accuracy"] >= target
            ok &= met
            print(
                f"{r['approach']}: validation accuracy {r['accuracy']:.4f} (target >= {target}) "
                f"{'met' if met else 'MISSED'}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
