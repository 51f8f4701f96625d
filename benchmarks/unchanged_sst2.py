"""Benchmark (a check): every zero-shot mode and every LoRA head predicts the same probabilities on
two trees of llmdisc, in float32, with the same seeds (issue 30, item 4).

Run it once per tree (only the public API is used, so an older tree runs it too), then compare:

    PYTHONPATH=/path/to/before .venv/bin/python benchmarks/unchanged_sst2.py --out outputs/unchanged-before
    PYTHONPATH=. .venv/bin/python benchmarks/unchanged_sst2.py --out outputs/unchanged-after
    .venv/bin/python benchmarks/unchanged_sst2.py --compare outputs/unchanged-before outputs/unchanged-after

Each setting's probabilities on the first ``--examples`` SST-2 validation sentences go to
``OUT/SETTING.npy``; the comparison prints each setting's largest absolute difference.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"
LM = {"model": "smollm2-135m", "device": "cpu", "dtype": "float32"}
ZERO_SHOT = {
    "direct": {},
    "channel": {"mode": "channel"},
    "calibrated": {"calibrate": True},
    "pmi": {"pmi": True},
    "length_normalize": {"length_normalize": True},
    "prior_train": {"prior": "train"},
    "two_templates": {"templates": ["Text: {text}\nLabel: {label}", "Review: {text}\nSentiment: {label}"]},
    "4_shot_direct": {"task": "sentiment", "k_shot": 4},
    "4_shot_channel": {"task": "sentiment", "k_shot": 4, "mode": "channel"},
    "4_shot_calibrated": {"task": "sentiment", "k_shot": 4, "calibrate": True},
    "chat_template": {"task": "sentiment", "chat_template": True},
    "chat_template_channel": {"task": "sentiment", "chat_template": True, "mode": "channel"},
    "select": {"select": True, "candidate_words": ["negative", "positive"]},
}
LORA = {
    head: {"head": head, "epochs": 1, "batch_size": 16, "learning_rate": 3e-4, "seed": 0}
    for head in ("verbalizer", "channel", "sequence")
}


def run(out: Path, examples: int, data_dir: str, only: list[str] | None) -> None:
    import llmdisc

    data = llmdisc.load_text_dataset(data_dir, label_names=["negative", "positive"])
    train = llmdisc.stratified_subset(data["train"], 32, 0)
    texts = list(data["validation"]["text"][:examples])
    out.mkdir(parents=True, exist_ok=True)
    settings = {f"zeroshot_{k}": ("zeroshot", v) for k, v in ZERO_SHOT.items()}
    settings |= {f"lora_{k}": ("lora", v) for k, v in LORA.items()}
    for name, (approach, config) in settings.items():
        if only and name not in only:
            continue
        clf = llmdisc.get_classifier(approach, **LM, **config).fit(train)
        np.save(out / f"{name}.npy", clf.predict_proba(texts))
        print(name, flush=True)


def compare(before: Path, after: Path) -> dict:
    result = {}
    for path in sorted(before.glob("*.npy")):
        other = after / path.name
        if other.is_file():
            a, b = np.load(path), np.load(other)
            result[path.stem] = {
                "max_abs_diff": float(np.abs(a - b).max()),
                "same_predictions": bool((a.argmax(1) == b.argmax(1)).all()),
            }
    print(json.dumps(result, indent=1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write each setting's probabilities here")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--only", default="", help="settings to run, comma-separated (default: all)")
    parser.add_argument("--data", default=str(SST2))
    args = parser.parse_args()
    if args.compare:
        compare(Path(args.compare[0]), Path(args.compare[1]))
    else:
        run(Path(args.out), args.examples, args.data, [s for s in args.only.split(",") if s] or None)


if __name__ == "__main__":
    main()
