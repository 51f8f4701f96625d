"""The one table of approach cases that the contract tests and the Hub tests share (as peft keeps
one table of model cases): every registered approach, each LoRA head and each zero-shot mode, at
its cheapest settings on the tiny random models. A newly registered approach must add itself
here, or ``test_every_approach_is_covered`` fails in both files.
"""

from __future__ import annotations

from pathlib import Path

from llmdisc import TextClassifier, get_classifier

# name -> (registered approach, config); "TINY_BERT" / "TINY_GPT2" stand for the fixtures' paths.
CASES: dict[str, tuple[str, dict]] = {
    "naive_bayes": ("naive_bayes", {}),
    "majority": ("majority", {}),
    "logistic_regression": ("logistic_regression", {"C": 0.5}),
    "linear_svm": ("linear_svm", {"C": 0.5, "class_weight": "balanced"}),
    "random_forest": ("random_forest", {"n_estimators": 10, "max_depth": 8, "seed": 1}),
    "embedding_lr": ("embedding_lr", {"model": "TINY_BERT", "C": 2.0, "batch_size": 16}),
    "setfit": ("setfit", {"model": "TINY_BERT", "num_iterations": 1, "batch_size": 16, "seed": 1}),
    "encoder": ("encoder", {"model": "TINY_BERT", "max_steps": 4, "batch_size": 8, "eval_steps": 2}),
    "zeroshot_direct": ("zeroshot", {"model": "TINY_GPT2", "calibrate": True, "k_shot": 1}),
    "zeroshot_channel": ("zeroshot", {"model": "TINY_GPT2", "mode": "channel"}),
    "lora_verbalizer": ("lora", {"model": "TINY_GPT2", "head": "verbalizer", "max_steps": 2, "batch_size": 4}),
    "lora_sequence": ("lora", {"model": "TINY_GPT2", "head": "sequence", "max_steps": 2, "batch_size": 4}),
    "lora_channel": (
        "lora",
        {"model": "TINY_GPT2", "head": "channel", "max_steps": 2, "batch_size": 4, "eval_steps": 1},
    ),
}


def build_case(name: str, tiny_bert: Path, tiny_gpt2: Path) -> TextClassifier:
    """The untrained classifier of case ``name``, its tiny-model placeholders filled in."""
    approach, config = CASES[name]
    paths = {"TINY_BERT": str(tiny_bert), "TINY_GPT2": str(tiny_gpt2)}
    return get_classifier(approach, **{k: paths.get(v, v) if isinstance(v, str) else v for k, v in config.items()})
