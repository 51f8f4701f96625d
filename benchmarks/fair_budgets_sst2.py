"""Benchmark: fair training budgets on SST-2 (issue: a fair fight at every budget).

    .venv/bin/python benchmarks/fair_budgets_sst2.py --part encoder   # MiniLM at 128 / 512 / 2048
    .venv/bin/python benchmarks/fair_budgets_sst2.py --part fewshot   # embedding_lr, setfit at 32
    .venv/bin/python benchmarks/fair_budgets_sst2.py --part lora      # LoRA sequence head at 512

Each part is one ``llmdisc.compare`` run (the product's own code path, cached, so ``--resume``
continues an interrupted part) with every setting at its default: the schedule rule picks the
epochs (training.plan_schedule), and a temperature is fitted per run on 500 training examples
held out from every subset (never on validation, the split reported). Three seeds per size;
the numbers are on SST-2 validation (872 sentences). Targets:

* encoder >= 0.72 at 128 examples and >= 0.82 at 512; temperature scaling at least halves its
  ECE at 2,048;
* the best of embedding_lr / setfit >= 0.75 at 32;
* LoRA sequence head >= 0.82 at 512.

Prints one line per (approach, size): mean and sample standard deviation over seeds of
accuracy, the optimizer steps taken, and ECE before -> after the temperature; writes the same
to OUTPUT/summary.json.
"""

from __future__ import annotations

import argparse
import json
import platform
from datetime import date
from pathlib import Path

import numpy as np

import llmdisc
from llmdisc.data.subsets import hold_out

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"

PARTS = {
    "encoder": ({"encoder": {"model": "minilm-l6", "learning_rate": 1e-4, "batch_size": 16}}, [128, 512, 2048]),
    "fewshot": ({"embedding_lr": {}, "setfit": {}}, [32]),
    "lora": (
        {
            "lora_sequence": {
                "approach": "lora",
                "model": "smollm2-135m",
                "head": "sequence",
                "batch_size": 16,
                "learning_rate": 3e-4,
            }
        },
        [512],
    ),
}


def summarise(records: list[llmdisc.RunRecord]) -> list[dict]:
    """Mean and sample standard deviation over seeds per (variant, size)."""
    groups: dict[tuple[str, int], list] = {}
    for r in records:
        if r.ok:
            groups.setdefault((r.variant, r.size), []).append(r)
    out = []
    for (variant, size), rs in groups.items():
        acc = [r.metrics["accuracy"] for r in rs]
        row = {
            "approach": variant,
            "size": size,
            "seeds": len(rs),
            "accuracy_mean": round(float(np.mean(acc)), 4),
            "accuracy_std": round(float(np.std(acc, ddof=1)) if len(acc) > 1 else 0.0, 4),
            "accuracy_per_seed": [round(a, 4) for a in acc],
            "train_steps": [r.train_steps for r in rs],
            "ece_after": round(float(np.mean([r.metrics["ece"] for r in rs])), 4),
        }
        if all(r.uncalibrated for r in rs):
            row["ece_before"] = round(float(np.mean([r.uncalibrated["ece"] for r in rs])), 4)
            row["temperature"] = [round(r.temperature, 3) for r in rs]
        out.append(row)
    return out


def parse_setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` -> ``(key, value)``, the value read as YAML (numbers, booleans, lists)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"--set takes KEY=VALUE, got '{text}'")
    return key.strip(), yaml.safe_load(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=sorted(PARTS), required=True)
    parser.add_argument("--data", default=str(SST2))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for every approach of the part (YAML value), e.g. pooling=cls; repeatable",
    )
    parser.add_argument("--sizes", default=None, help="override the part's sizes, e.g. 128,512")
    parser.add_argument("--holdout", type=int, default=500, help="training examples held out for the temperature")
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    approaches, sizes = PARTS[args.part]
    overrides = dict(parse_setting(s) for s in args.set)
    approaches = {name: {**config, **overrides} for name, config in approaches.items()}
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    output = Path(args.output_dir or f"outputs/fair-budgets-{args.part}")
    data = hold_out(llmdisc.load_text_dataset(args.data, label_names=["negative", "positive"]), args.holdout)
    records = llmdisc.compare(
        approaches,
        data,
        splits=["validation"],
        sizes=sizes,
        seeds=args.seeds,
        seed=args.seed,
        selection_split="holdout",
        output_dir=output,
        resume=args.resume,
        overwrite=not args.resume,
    )
    rows = summarise(records)
    for row in rows:
        ece = (
            f"ECE {row['ece_before']:.4f} -> {row['ece_after']:.4f}"
            if "ece_before" in row
            else f"ECE {row['ece_after']:.4f}"
        )
        print(
            f"{row['approach']:>14} n={row['size']:<5} acc {row['accuracy_mean']:.4f} ± {row['accuracy_std']:.4f} "
            f"{row['accuracy_per_seed']} steps {row['train_steps']} {ece}",
            flush=True,
        )
    summary = {
        "date": date.today().isoformat(),
        "machine": f"{platform.node()} ({platform.processor() or platform.machine()})",
        "command": f"benchmarks/fair_budgets_sst2.py --part {args.part}",
        "settings": overrides,
        "rows": rows,
        "failed": [r.error for r in records if not r.ok],
    }
    (output / "summary.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
