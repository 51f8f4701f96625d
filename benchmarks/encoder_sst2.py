"""Benchmark: MiniLM-L6 fine-tuned on SST-2 (encoder issue).

    .venv/bin/python benchmarks/encoder_sst2.py --part speed      # dynamic vs static padding
    .venv/bin/python benchmarks/encoder_sst2.py --part accuracy   # full SST-2 train, 1 epoch

speed: the same training (model, batch size 32, the same first batches' worth of steps) run twice
in one process: llmdisc's dynamic padding with length-grouped batches, and static padding of
every text to 128 tokens with random batches (transformers' run_classification.py default).
Reports training examples/s of each and the ratio (target >= 3x).

accuracy: fine-tunes on all 67,349 training examples, evaluates every --eval-steps on
validation keeping the best checkpoint, then reports validation and test accuracy (target >= 0.89
on validation) and predict_proba examples/s on validation at batch 64.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path

import datasets
import numpy as np
from transformers import DataCollatorWithPadding

import llmdisc
from llmdisc.classifiers.encoder import EncoderClassifier
from llmdisc.classifiers.logits import tokenize_texts
from llmdisc.lm.loading import load_model
from llmdisc.training.trainer import TrainerSettings, TrainingTask, train_model

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"


def speed(data, steps: int, batch_size: int) -> dict:
    """Training examples/s with dynamic padding + length grouping vs static padding to 128."""
    texts = data["train"]["text"]
    labels = np.asarray(data["train"]["label"])
    out = {}
    for mode in ("dynamic", "static128"):
        model, tokenizer = load_model("minilm-l6", task="sequence-classification", num_labels=2)
        enc, _ = tokenize_texts(tokenizer, list(texts), 128)
        ds = datasets.Dataset.from_dict(
            {**enc, "labels": labels.tolist(), "length": [len(i) for i in enc["input_ids"]]}
        )
        if mode == "dynamic":
            collator, group = DataCollatorWithPadding(tokenizer), True
        else:
            collator, group = DataCollatorWithPadding(tokenizer, padding="max_length", max_length=128), False
        settings = TrainerSettings(
            max_steps=steps,
            batch_size=batch_size,
            group_by_length=group,
            logging_steps=steps,
            seed=0,
            learning_rate=1e-4,
        )
        start = time.perf_counter()
        train_model(
            model, tokenizer, ds, None, settings, TrainingTask(collator, training_overrides={"save_strategy": "no"})
        )
        seconds = time.perf_counter() - start
        out[mode] = {
            "examples": steps * batch_size,
            "seconds": round(seconds, 1),
            "examples_per_second": round(steps * batch_size / seconds, 2),
        }
        print(mode, out[mode], flush=True)
    out["ratio"] = round(out["dynamic"]["examples_per_second"] / out["static128"]["examples_per_second"], 2)
    return out


def accuracy(data, args) -> dict:
    clf = EncoderClassifier(
        model="minilm-l6",
        epochs=args.epochs,
        learning_rate=args.lr,
        batch_size=32,
        eval_steps=args.eval_steps,
        logging_steps=50,
        checkpoint_dir=args.checkpoint_dir,
        resume=args.resume,
        seed=0,
    )
    clf.fit(data["train"], eval=data["validation"])
    metrics = {s: llmdisc.evaluate_classifier(clf, data[s]).metrics for s in ("validation", "test")}
    clf.info.metrics = metrics
    clf.save_pretrained(args.save_to)
    print(json.dumps(metrics, indent=2))
    return {"info": clf.info.to_dict(), "metrics": metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["speed", "accuracy", "all"], default="all")
    parser.add_argument("--data", default=str(SST2))
    parser.add_argument("--speed-steps", type=int, default=40)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--eval-steps", type=int, default=500)
    parser.add_argument("--checkpoint-dir", default="outputs/bench-encoder-sst2-checkpoints")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--save-to", default="outputs/bench-encoder-sst2")
    args = parser.parse_args()

    data = llmdisc.load_text_dataset(args.data, label_names=["negative", "positive"])
    print(f"{date.today()} | {platform.node()} | {platform.machine()} | llmdisc {llmdisc.__version__}", flush=True)
    result = {}
    if args.part in ("speed", "all"):
        result["speed"] = speed(data, args.speed_steps, 32)
    if args.part in ("accuracy", "all"):
        result["accuracy"] = accuracy(data, args)
    path = Path(f"outputs/bench-encoder-sst2-{args.part}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
