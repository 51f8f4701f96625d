"""Benchmark: SmolLM2-135M with rank-8 LoRA on SST-2, each head; LoRA vs full fine-tuning cost.

    .venv/bin/python benchmarks/lora_sst2.py --part accuracy [--heads verbalizer,sequence,channel]
    .venv/bin/python benchmarks/lora_sst2.py --part cost

accuracy: a stratified 4,000-example subset of SST-2 train (seed 0), one epoch, batch 16,
lr 2e-4, r=8, alpha 16; SST-2 validation accuracy of each head (target: the best >= 0.88) and the
trainable fraction. Each head's result is written as soon as it is done.

cost: the same batches (verbalizer head, 20 steps of 16) with LoRA and with full fine-tuning,
each in its own process: training examples/s and peak RSS while training (sampled every 20 ms;
the process's own peak, which includes loading the model, is reported too).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

import llmdisc

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"
OUT = Path("outputs")


def accuracy(heads: list[str], n: int, epochs: int) -> None:
    data = llmdisc.load_text_dataset(str(SST2), label_names=["negative", "positive"])
    train = llmdisc.stratified_subset(data["train"], n, seed=0)
    for head in heads:
        clf = llmdisc.get_classifier("lora", model="smollm2-135m", task="sentiment", head=head, r=8, lora_alpha=16, epochs=epochs,
                                     batch_size=16, learning_rate=2e-4, max_length=128, seed=0)
        start = time.perf_counter()
        clf.fit(train, eval=data["validation"])
        metrics = llmdisc.evaluate_classifier(clf, data["validation"]).metrics
        counts = clf.num_parameters()
        result = {"head": head, "train_examples": n, "epochs": epochs, "validation": metrics, "parameters": counts,
                  "trainable_fraction": counts["trainable"] / counts["total"],
                  "train_seconds": clf.info.train_seconds, "total_seconds": time.perf_counter() - start,
                  "best_metric": clf.info.trainer.best_metric}
        suffix = "" if (n, epochs) == (4000, 1) else f"-{n}x{epochs}"
        (OUT / f"bench-lora-{head}{suffix}.json").write_text(json.dumps(result, indent=2))
        print(json.dumps(result), flush=True)


def one_cost_run(mode: str, steps: int, lora_dropout: float) -> None:
    """Train `steps` batches of 16 with LoRA or all weights; print ex/s and peak RSS (this process)."""
    import torch

    data = llmdisc.load_text_dataset(str(SST2), label_names=["negative", "positive"])
    train = llmdisc.stratified_subset(data["train"], steps * 16, seed=0)
    clf = llmdisc.get_classifier("lora", model="smollm2-135m", task="sentiment", head="verbalizer", max_steps=steps, batch_size=16,
                                 group_by_length=False, seed=0, logging_steps=steps)
    if mode == "full":
        # Full fine-tuning of the same model on the same batches: every weight trainable, no adapters.
        from llmdisc.classifiers import lora as lora_module

        lora_module.get_peft_model = lambda base, config: base
        clf.num_parameters = lambda: {"total": sum(p.numel() for p in clf.model.parameters()),
                                      "trainable": sum(p.numel() for p in clf.model.parameters() if p.requires_grad)}
    # Peak RSS while Trainer.train runs, sampled every 20 ms: model loading and tokenisation
    # happen before it inside fit, and the process peak (which includes them) is reported apart.
    import transformers

    process, peak, training, done = psutil.Process(), [0], threading.Event(), threading.Event()
    window = {}
    original_train = transformers.Trainer.train

    def timed_train(self, *args, **kwargs):
        window["rss_before"] = process.memory_info().rss
        training.set()
        window["start"] = time.perf_counter()
        try:
            return original_train(self, *args, **kwargs)
        finally:
            window["seconds"] = time.perf_counter() - window["start"]
            training.clear()
            # The persistent training state, counted tensor by tensor: trainable weights' gradients
            # (as left after the last step) and AdamW's two moments per trainable weight.
            states = [t for st in self.optimizer.state.values() for t in st.values() if torch.is_tensor(t)]
            window["optimizer_state_mib"] = sum(t.numel() * t.element_size() for t in states) / 2**20
            window["trainable_weights_mib"] = sum(p.numel() * p.element_size() for p in self.model.parameters()
                                                  if p.requires_grad) / 2**20

    transformers.Trainer.train = timed_train

    def sample() -> None:
        while not done.is_set():
            if training.is_set():
                peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    clf.fit(train)
    done.set()
    sampler.join()
    print(json.dumps({"mode": mode, "examples_per_second": steps * 16 / window["seconds"],
                      "rss_before_training_mib": window["rss_before"] / 2**20, "peak_rss_training_mib": peak[0] / 2**20,
                      "training_increase_mib": (peak[0] - window["rss_before"]) / 2**20,
                      "optimizer_state_mib": window["optimizer_state_mib"], "trainable_weights_mib": window["trainable_weights_mib"],
                      "lora_dropout": lora_dropout,
                      "process_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "parameters": clf.num_parameters(), "torch_threads": torch.get_num_threads()}), flush=True)


def cost(steps: int, lora_dropout: float) -> None:
    results = {}
    for mode in ("lora", "full"):
        out = subprocess.run([sys.executable, __file__, "--part", "cost-run", "--mode", mode, "--steps", str(steps),
                              "--lora-dropout", str(lora_dropout)],
                             capture_output=True, text=True, check=True)
        results[mode] = json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])
        print(json.dumps(results[mode]), flush=True)
    results["memory_ratio_full_over_lora"] = results["full"]["peak_rss_training_mib"] / results["lora"]["peak_rss_training_mib"]
    results["increase_ratio_full_over_lora"] = results["full"]["training_increase_mib"] / results["lora"]["training_increase_mib"]
    results["speed_ratio_lora_over_full"] = results["lora"]["examples_per_second"] / results["full"]["examples_per_second"]
    (OUT / f"bench-lora-cost-dropout{lora_dropout:g}.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["accuracy", "cost", "cost-run"], required=True)
    parser.add_argument("--heads", default="verbalizer,sequence,channel")
    parser.add_argument("--train-examples", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--mode", choices=["lora", "full"], default="lora")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--lora-dropout", type=float, default=0.05, help="cost: LoRA dropout (0: no copies of layer inputs)")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    if args.part == "accuracy":
        accuracy(args.heads.split(","), args.train_examples, args.epochs)
    elif args.part == "cost":
        cost(args.steps, args.lora_dropout)
    else:
        one_cost_run(args.mode, args.steps, args.lora_dropout)


if __name__ == "__main__":
    main()
