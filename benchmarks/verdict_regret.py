"""Is the verdict right? The regret of what it picks and recommends, on texts it never saw.

SST-2's 67,349 training sentences are shuffled once and cut into a **user part**, which plays the
data a user brings (a training pool, 500 validation and 1,000 test sentences), and a disjoint
**truth part** (5,000 sentences by default) that stands for the data the user will meet after.
The comparison runs on the user part as a user would run it (sizes 32 / 128 / 512, one seed, the
default approaches that fit 2 cores, no ``--task``), with the truth part as one more evaluated
split: every trained model is scored on it, through the public API (``splits`` names it; the
verdict reads the test split only). Then, per size:

* the truth's best: the approach (trained at that size, or zero-shot) best on the truth texts;
* the regret of the verdict's best pick, and of its recommendation: the truth's best minus the
  truth value of what was picked (target: at most 0.01 for both at every size);
* for each approach the verdict showed as good as the best: whether it is within the margin of the
  pick on the truth texts.

    python benchmarks/verdict_regret.py --output-dir outputs/verdict-regret           # about 30-40 min
    python benchmarks/verdict_regret.py --output-dir o --truth 2000 --approaches naive_bayes,logistic_regression

It writes OUTPUT_DIR/regret.json and prints one line per size; the comparison's own report is in
OUTPUT_DIR (report.md, analysis.json), its cells cached there (a re-run resumes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import llmdisc
from llmdisc.comparison.settings import CompareSettings

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"
# The default approaches that fit 2 cores (no LoRA: minutes per cell on CPU), each as the demo sets it,
# without --task: plain zero-shot then picks its prompt as a comparison lets it.
APPROACHES = {
    "naive_bayes": {},
    "logistic_regression": {},
    "embedding_lr": {},
    "encoder": {"model": "minilm-l6", "learning_rate": 1e-4, "batch_size": 16},
    "zeroshot_direct": {"approach": "zeroshot", "model": "smollm2-135m", "mode": "direct"},
    "zeroshot_calibrated": {"approach": "zeroshot", "model": "smollm2-135m", "mode": "direct", "calibrate": True},
}
LABELS = ["negative", "positive"]


def user_and_truth(sst2: Path, pool: int, validation: int, test: int, truth: int, seed: int):
    """The user's DatasetDict (train pool, validation, test) plus ``truth``, disjoint draws from SST-2's train."""
    import datasets

    table = datasets.load_dataset("csv", data_files=str(Path(sst2) / "train.tsv"), delimiter="\t", split="train")
    order = np.random.default_rng(seed).permutation(len(table))
    cuts = np.cumsum([pool, validation, test, truth])
    if cuts[-1] > len(table):
        raise SystemExit(f"asked for {cuts[-1]} sentences; SST-2's train has {len(table)}")
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=LABELS)})

    def part(idx: np.ndarray) -> datasets.Dataset:
        rows = table.select(idx)
        return datasets.Dataset.from_dict({"text": rows["sentence"], "label": rows["label"]}, features=features)

    starts = np.concatenate([[0], cuts[:-1]])
    names = ["train", "validation", "test", "truth"]
    return datasets.DatasetDict({n: part(order[a:b]) for n, a, b in zip(names, starts, cuts)})


def truth_values(records, metric: str) -> dict[tuple[str, int | None], float]:
    """(variant, size) -> the metric on the truth split, mean over seeds (size None: zero-shot)."""
    found: dict[tuple[str, int | None], list[float]] = {}
    for r in records:
        if r.ok and r.split == "truth":
            found.setdefault((r.variant, None if r.flat else r.train_examples), []).append(r.metrics[metric])
    return {k: float(np.mean(v)) for k, v in found.items()}


def regret(analysis, truth: dict[tuple[str, int | None], float]) -> list[dict]:
    """Per size of the verdict: the truth's best, the regret of the pick and of the recommendation."""
    out = []
    for d in analysis.decisions:
        at = {v: value for (v, n), value in truth.items() if n == d.size or n is None}
        value = at.__getitem__
        best_truth = max(at, key=at.get)
        out.append(
            {
                "size": d.size,
                "truth_best": best_truth,
                "truth_best_value": at[best_truth],
                "picked": d.best,
                "picked_truth": value(d.best),
                "regret_best": at[best_truth] - value(d.best),
                "recommended": d.recommended,
                "recommended_truth": value(d.recommended),
                "regret_recommended": at[best_truth] - value(d.recommended),
                "shown_as_good": {v: value(d.best) - value(v) <= analysis.margin for v in d.equivalent},
                "undecided": d.undecided,
                "truth": at,
            }
        )
    return out


def main(config: argparse.Namespace) -> int:
    data = user_and_truth(config.sst2, config.pool, config.validation, config.test, config.truth, config.seed)
    approaches = {k: v for k, v in APPROACHES.items() if k in config.approaches.split(",")}
    settings = CompareSettings(
        splits=["validation", "test", "truth"],
        sizes=[str(s) for s in config.sizes.split(",")],
        seeds=config.seeds,
        drop_rates=[],
        output_dir=config.output_dir,
        resume=True,
    )
    records = llmdisc.compare(approaches, data, settings)
    analysis = llmdisc.analyse(records, settings=settings)
    llmdisc.write_report(records, config.output_dir, title="verdict regret on SST-2", settings={}, analysis=analysis)
    rows = regret(analysis, truth_values(records, analysis.metric))
    result = {"metric": analysis.metric, "margin": analysis.margin, "verdict": analysis.verdict, "sizes": rows}
    (Path(config.output_dir) / "regret.json").write_text(json.dumps(result, indent=2))
    met = True
    for row in rows:
        met &= row["regret_best"] <= 0.01 and row["regret_recommended"] <= 0.01
        good = ", ".join(f"{v} {'within' if ok else 'NOT within'}" for v, ok in row["shown_as_good"].items()) or "-"
        print(
            f"size {row['size']}: truth best {row['truth_best']} {row['truth_best_value']:.4f}; "
            f"picked {row['picked']} (regret {row['regret_best']:.4f}); recommended {row['recommended']} "
            f"(regret {row['regret_recommended']:.4f}); shown as good: {good}; "
            f"undecided: {', '.join(row['undecided']) or '-'}"
        )
    print("target (regret <= 0.01 for both, every size):", "met" if met else "NOT met")
    return 0 if met else 1


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="outputs/verdict-regret")
    parser.add_argument("--sst2", default=str(SST2), help="the folder holding SST-2's train.tsv")
    parser.add_argument("--approaches", default=",".join(APPROACHES))
    parser.add_argument("--sizes", default="32,128,512")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--pool", type=int, default=4000, help="the user's training pool")
    parser.add_argument("--validation", type=int, default=500)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--truth", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0, help="the shuffle that cuts the user and truth parts")
    return parser


if __name__ == "__main__":
    sys.exit(main(make_parser().parse_args()))
