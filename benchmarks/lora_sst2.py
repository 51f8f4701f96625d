"""Benchmark: SmolLM2-135M with rank-8 LoRA on SST-2, each head; LoRA vs full fine-tuning cost.

    .venv/bin/python benchmarks/lora_sst2.py --part accuracy [--heads verbalizer,sequence,channel]
    .venv/bin/python benchmarks/lora_sst2.py --part cost

accuracy: a stratified 4,000-example subset of SST-2 train (seed 0), one epoch, batch 16,
lr 2e-4, r=8, alpha 16; SST-2 validation accuracy of each head (target: the best >= 0.88) and the
trainable fraction. Each head's result is written as soon as it is done.

cost: the same batches (verbalizer head, 20 steps of 16) with LoRA and with full fine-tuning,
each with the vocabulary logits at the labelled positions only (``sparse_logits``, the default)
and at every position (the old path), each of the four in its own process (so that one run's
freed memory cannot hide another's peak): training examples/s and peak RSS while training
(sampled every 20 ms; the process's own peak, which includes loading the model, is reported too),
and the ratios issue 15 sets targets for.
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


def accuracy(heads: list[str], n: int, epochs: int, max_batch_tokens: str = "default", logits: str = "sparse") -> None:
    data = llmdisc.load_text_dataset(str(SST2), label_names=["negative", "positive"])
    train = llmdisc.stratified_subset(data["train"], n, seed=0)
    for head in heads:
        clf = llmdisc.get_classifier(
            "lora",
            model="smollm2-135m",
            task="sentiment",
            head=head,
            r=8,
            lora_alpha=16,
            epochs=epochs,
            batch_size=16,
            learning_rate=2e-4,
            max_length=128,
            seed=0,
            sparse_logits=logits == "sparse",
            **budget_setting(max_batch_tokens),
        )
        start = time.perf_counter()
        clf.fit(train, eval=data["validation"])
        metrics = llmdisc.evaluate_classifier(clf, data["validation"]).metrics
        counts = clf.num_parameters()
        result = {
            "head": head,
            "train_examples": n,
            "epochs": epochs,
            "validation": metrics,
            "parameters": counts,
            "trainable_fraction": counts["trainable"] / counts["total"],
            "train_seconds": clf.info.train_seconds,
            "total_seconds": time.perf_counter() - start,
            "best_metric": clf.info.trainer.best_metric,
            "max_batch_tokens": clf.config.max_batch_tokens,
            "sparse_logits": clf.config.sparse_logits,
        }
        suffix = (
            ("" if (n, epochs) == (4000, 1) else f"-{n}x{epochs}")
            + ("" if max_batch_tokens == "default" else f"-tokens{max_batch_tokens}")
            + ("" if logits == "sparse" else "-full-logits")
        )
        (OUT / f"bench-lora-{head}{suffix}.json").write_text(json.dumps(result, indent=2))
        print(json.dumps(result), flush=True)


def long_texts(train, tokens: int):
    """``train`` with each text lengthened to at least ``tokens`` tokens by appending the sentences
    after it (its label kept): texts as long as other data sets' reviews, from SST-2's words."""
    from llmdisc.lm.loading import load_tokenizer

    tokenizer = load_tokenizer("smollm2-135m")
    texts = list(train["text"])
    out = []
    for i, text in enumerate(texts):
        j = i + 1
        while len(tokenizer(text)["input_ids"]) < tokens:
            text += " " + texts[j % len(texts)]
            j += 1
        out.append(text)
    return train.remove_columns("text").add_column("text", out)


def budget_setting(max_batch_tokens: str) -> dict:
    """The classifier setting for ``--max-batch-tokens``: default (llmdisc's), none or a number."""
    from llmdisc.lm.batch_sizes import check_max_tokens

    if max_batch_tokens == "default":
        return {}
    return {"max_batch_tokens": check_max_tokens(max_batch_tokens, "--max-batch-tokens")}


def glibc_heap() -> dict[str, float]:
    """glibc's ``mallinfo2()`` in MiB: the main heap's size, the bytes in use in it and the bytes
    free in it (held by the allocator, not returned to the OS), and the mmapped chunks'."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            )
        ]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    return {
        "heap_mib": info.arena / 2**20,
        "in_use_mib": info.uordblks / 2**20,
        "free_mib": info.fordblks / 2**20,
        "mmapped_mib": info.hblkhd / 2**20,
    }


def one_cost_run(
    mode: str,
    steps: int,
    lora_dropout: float,
    logits: str = "sparse",
    gradient_checkpointing: bool = False,
    tokens: int = 0,
    max_batch_tokens: str = "default",
    heap_stats: bool = False,
) -> None:
    """Train `steps` batches of 16 with LoRA or all weights, the logits at the labelled positions
    (sparse) or everywhere (full); print ex/s and peak RSS (this process). ``tokens`` > 0: texts
    lengthened to that many tokens and ``max_length`` set to it (0: SST-2's sentences, max_length 128).
    ``heap_stats``: glibc's heap (:func:`glibc_heap`) before training and after each step, printed too."""
    import torch

    data = llmdisc.load_text_dataset(str(SST2), label_names=["negative", "positive"])
    train = llmdisc.stratified_subset(data["train"], steps * 16, seed=0)
    if tokens:
        train = long_texts(train, tokens)
    clf = llmdisc.get_classifier(
        "lora",
        model="smollm2-135m",
        task="sentiment",
        head="verbalizer",
        max_steps=steps,
        batch_size=16,
        group_by_length=False,
        seed=0,
        logging_steps=steps,
        lora_dropout=lora_dropout,
        sparse_logits=logits == "sparse",
        gradient_checkpointing=gradient_checkpointing,
        **({"max_length": tokens} if tokens else {}),
        **budget_setting(max_batch_tokens),
    )
    if mode == "full":
        # Full fine-tuning of the same model on the same batches: every weight trainable, no adapters.
        # LoraClassifier._fit imports get_peft_model from peft when it runs, so patch it there.
        import peft

        peft.get_peft_model = lambda base, config: base
        clf.num_parameters = lambda: {
            "total": sum(p.numel() for p in clf.model.parameters()),
            "trainable": sum(p.numel() for p in clf.model.parameters() if p.requires_grad),
        }
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
            window["trainable_weights_mib"] = (
                sum(p.numel() * p.element_size() for p in self.model.parameters() if p.requires_grad) / 2**20
            )

    transformers.Trainer.train = timed_train
    heap = []
    if heap_stats:
        original_step = transformers.Trainer.training_step

        def step_with_heap(self, *args, **kwargs):
            if not heap:
                heap.append(glibc_heap())
            loss = original_step(self, *args, **kwargs)
            heap.append(glibc_heap())
            return loss

        transformers.Trainer.training_step = step_with_heap

    def sample() -> None:
        while not done.is_set():
            if training.is_set():
                peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    clf.fit(train)
    done.set()
    if mode == "full" and clf.num_parameters()["trainable"] != clf.num_parameters()["total"]:
        raise SystemExit("full fine-tuning trained adapters, not every weight: the patch above missed")
    sampler.join()
    print(
        json.dumps(
            {
                "mode": mode,
                "logits": logits,
                "gradient_checkpointing": gradient_checkpointing,
                "max_batch_tokens": clf.config.max_batch_tokens,
                "examples_per_second": steps * 16 / window["seconds"],
                "rss_before_training_mib": window["rss_before"] / 2**20,
                "peak_rss_training_mib": peak[0] / 2**20,
                "training_increase_mib": (peak[0] - window["rss_before"]) / 2**20,
                "optimizer_state_mib": window["optimizer_state_mib"],
                "trainable_weights_mib": window["trainable_weights_mib"],
                "lora_dropout": lora_dropout,
                "tokens": tokens,
                "process_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "parameters": clf.num_parameters(),
                "torch_threads": torch.get_num_threads(),
                **(
                    {"glibc_heap_before_and_after_each_pass": [{k: round(v, 1) for k, v in h.items()} for h in heap]}
                    if heap_stats
                    else {}
                ),
            }
        ),
        flush=True,
    )


def cost(
    steps: int,
    lora_dropout: float,
    gradient_checkpointing: bool,
    paths: list[str],
    tokens: int = 0,
    modes: tuple[str, ...] = ("lora", "full"),
    max_batch_tokens: str = "default",
) -> None:
    results = {}
    # LoRA and full fine-tuning alternate, so that a change in the machine's load hits both alike.
    for logits, mode in ((logits, mode) for logits in paths for mode in modes):
        command = [
            sys.executable,
            __file__,
            "--part",
            "cost-run",
            "--mode",
            mode,
            "--steps",
            str(steps),
            "--lora-dropout",
            str(lora_dropout),
            "--logits",
            logits,
            "--tokens",
            str(tokens),
            "--max-batch-tokens",
            max_batch_tokens,
        ]
        out = subprocess.run(
            command + (["--gradient-checkpointing"] if gradient_checkpointing else []),
            capture_output=True,
            text=True,
            check=True,
        )
        results[f"{mode}-{logits}"] = json.loads(
            [line for line in out.stdout.splitlines() if line.startswith("{")][-1]
        )
        print(json.dumps(results[f"{mode}-{logits}"]), flush=True)

    if set(modes) != {"lora", "full"}:  # one mode: no ratios to take
        print(json.dumps(results), flush=True)
        return

    def ratio(a: str, b: str, key: str) -> float:
        return results[a][key] / results[b][key]

    targets = {}  # issue 15: LoRA's peak <= 0.5x full fine-tuning's, and >= 1.5x today's LoRA speed
    for logits in paths:  # LoRA against full fine-tuning on the same logits path
        results[f"{logits}_logits_memory_ratio_lora_over_full"] = ratio(
            f"lora-{logits}", f"full-{logits}", "peak_rss_training_mib"
        )
        results[f"{logits}_logits_speed_ratio_lora_over_full"] = ratio(
            f"lora-{logits}", f"full-{logits}", "examples_per_second"
        )
    if "sparse" in paths:
        targets["lora_peak_rss_at_most_half_of_full_fine_tuning"] = (
            results["sparse_logits_memory_ratio_lora_over_full"] <= 0.5
        )
    if {"full", "sparse"} <= set(paths):
        for mode in ("lora", "full"):  # the new path against the old one
            results[f"{mode}_speed_ratio_sparse_over_full_logits"] = ratio(
                f"{mode}-sparse", f"{mode}-full", "examples_per_second"
            )
            results[f"{mode}_memory_ratio_sparse_over_full_logits"] = ratio(
                f"{mode}-sparse", f"{mode}-full", "peak_rss_training_mib"
            )
        targets["lora_speed_at_least_1.5x_today"] = results["lora_speed_ratio_sparse_over_full_logits"] >= 1.5
    results["targets"] = targets
    suffix = ("-checkpointing" if gradient_checkpointing else "") + (
        "" if paths == ["full", "sparse"] else "-" + "-".join(paths)
    )
    (OUT / f"bench-lora-cost-dropout{lora_dropout:g}{suffix}.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["accuracy", "cost", "cost-run"], required=True)
    parser.add_argument("--heads", default="verbalizer,sequence,channel")
    parser.add_argument("--train-examples", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--mode", choices=["lora", "full"], default="lora")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument(
        "--lora-dropout", type=float, default=0.05, help="cost: LoRA dropout (0: no copies of layer inputs)"
    )
    parser.add_argument(
        "--logits",
        choices=["sparse", "full"],
        default="sparse",
        help="accuracy, cost-run: vocabulary logits at the labelled positions only, or at every position",
    )
    parser.add_argument(
        "--gradient-checkpointing", action="store_true", help="cost: activation checkpointing in every run"
    )
    parser.add_argument(
        "--logits-paths", default="full,sparse", help="cost: the logits paths to run (full: the old one)"
    )
    parser.add_argument("--modes", default="lora,full", help="cost: lora, full or both (the ratios need both)")
    parser.add_argument(
        "--tokens",
        type=int,
        default=0,
        help="cost: lengthen every text to this many tokens and train with max_length = it (0: SST-2 as is)",
    )
    parser.add_argument(
        "--heap-stats",
        action="store_true",
        help="cost-run: glibc's heap (size, in use, free) before training and after each pass (mallinfo2)",
    )
    parser.add_argument(
        "--max-batch-tokens",
        default="default",
        help="accuracy, cost: the training passes' token budget: default (llmdisc's), none (one pass a batch) or N",
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    if args.part == "accuracy":
        accuracy(args.heads.split(","), args.train_examples, args.epochs, args.max_batch_tokens, args.logits)
    elif args.part == "cost":
        cost(
            args.steps,
            args.lora_dropout,
            args.gradient_checkpointing,
            args.logits_paths.split(","),
            args.tokens,
            tuple(args.modes.split(",")),
            args.max_batch_tokens,
        )
    else:
        one_cost_run(
            args.mode,
            args.steps,
            args.lora_dropout,
            args.logits,
            args.gradient_checkpointing,
            args.tokens,
            args.max_batch_tokens,
            args.heap_stats,
        )


if __name__ == "__main__":
    main()
