"""Benchmark: honest prompt selection on SST-2 at 32 training examples (issue 18, item 4).

    .venv/bin/python benchmarks/prompt_selection_sst2.py                      # every variant below
    .venv/bin/python benchmarks/prompt_selection_sst2.py --variants words     # one of them
    .venv/bin/python benchmarks/prompt_selection_sst2.py --timing             # selection's own cost

SST-2 is loaded with its labels left as ``0`` / ``1`` (no ``--label-names``). Each variant is
``zeroshot`` (SmolLM2-135M) with ``select: true``, run through ``llmdisc.compare`` (the product's
own code path: the same plan, checks and records as ``llmdisc compare``) at 32 training examples
and three seeds, evaluated on SST-2 validation (872 sentences). No temperature is fitted and no
selection split is used: the prompt is chosen on the 32 training examples alone.

* ``derived``: no word given; the candidates are only those llmdisc derives itself (the label
  names, which are digits). Target: >= 0.75, or a one-line refusal naming ``--verbalizers``.
* ``words``: ``candidate_words: [negative, positive]``, tried in both assignments to the labels.
  Target: >= 0.78.
* ``words_prior``: the same with ``prior: train`` (the class prior of the 32 examples, fitted on
  the training folds while selecting, then on all 32 for the winner).
* ``words_loglik`` / ``words_prior_loglik``: ``words`` / ``words_prior`` judged by the held-out
  mean log-probability of the gold label (``select_metric: log_likelihood``) instead of accuracy:
  a smoother criterion, less prone to a candidate that is right on a few more of 32 by luck.
* ``sentiment_words`` / ``sentiment_words_prior``: ``words`` / ``words_prior`` with
  ``task: sentiment`` (a user who knows the task says so): the candidates are then the review and
  the task-neutral template only.

Prints, per variant, the refusal or the mean accuracy over seeds and one line per seed with the
prompt that won; writes the same to OUTPUT/summary.json. ``--timing`` instead times
``select_prompt`` alone (wall and CPU seconds, model load excluded) on 32 training sentences with
3 templates and 3 label-word sets, without and with the fitted prior.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np

import llmdisc

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"
SELECT = {"approach": "zeroshot", "model": "smollm2-135m", "select": True}
WORDS = {**SELECT, "candidate_words": ["negative", "positive"]}
VARIANTS = {
    "derived": {"zeroshot_select": dict(SELECT)},
    "words": {"zeroshot_select_words": dict(WORDS)},
    "words_prior": {"zeroshot_select_words_prior": {**WORDS, "prior": "train"}},
    "words_loglik": {"zeroshot_select_words_loglik": {**WORDS, "select_metric": "log_likelihood"}},
    "words_prior_loglik": {
        "zeroshot_select_words_prior_loglik": {**WORDS, "prior": "train", "select_metric": "log_likelihood"}
    },
    "sentiment_words": {"zeroshot_select_sentiment_words": {**WORDS, "task": "sentiment"}},
    "sentiment_words_prior": {
        "zeroshot_select_sentiment_words_prior": {**WORDS, "task": "sentiment", "prior": "train"}
    },
}


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SST2))
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated: " + ", ".join(VARIANTS))
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--output-dir", default="outputs/bench-prompt-selection")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--timing", action="store_true", help="time select_prompt alone instead")
    return parser


def time_selection(config: argparse.Namespace) -> list[dict]:
    """Wall and CPU seconds of one selection: 32 sentences x 3 templates x 3 label-word sets."""
    from llmdisc.lm.loading import load_model
    from llmdisc.lm.prompt_selection import SelectionRule, candidate_verbalizers, select_prompt
    from llmdisc.lm.prompts import NEUTRAL_TEMPLATE, REVIEW_TEMPLATE, TASKS

    data = llmdisc.load_text_dataset(config.data, label_names=["negative", "positive"])
    train = llmdisc.stratified_subset(data["train"], config.size, 0)
    model, tokenizer = load_model("smollm2-135m", task="causal-lm")
    labels = ["negative", "positive"]
    word_sets = candidate_verbalizers(labels, None, ["bad", "good"])  # the names, and both assignments of bad/good
    templates = [REVIEW_TEMPLATE, NEUTRAL_TEMPLATE, TASKS["topic"][0]]
    rows = []
    for prior in (False, True):
        wall, cpu = time.perf_counter(), time.process_time()
        choice = select_prompt(
            model,
            tokenizer,
            labels,
            list(train["text"]),
            np.asarray(train["label"]),
            templates,
            word_sets,
            SelectionRule(prior=prior),
        )
        rows.append(
            {
                "prior": prior,
                "candidates": choice.candidates,
                "wall_seconds": round(time.perf_counter() - wall, 1),
                "cpu_seconds": round(time.process_time() - cpu, 1),
                "choice": choice.describe(),
            }
        )
        print(rows[-1], flush=True)
    return rows


def run_variant(name: str, data, config: argparse.Namespace) -> dict:
    """One variant's compare run: its refusal, or its accuracy per seed and the prompt each chose."""
    output = Path(config.output_dir) / name
    start = time.perf_counter()
    try:
        records = llmdisc.compare(
            VARIANTS[name],
            data,
            splits=["validation"],
            sizes=[config.size],
            seeds=config.seeds,
            selection_split=None,
            calibration="none",
            output_dir=output,
            resume=config.resume,
            overwrite=not config.resume,
        )
    except llmdisc.LlmdiscError as e:
        print(f"{name}: refused: {e}", flush=True)
        return {"variant": name, "refused": str(e)}
    failed = [r.error for r in records if not r.ok]
    runs = [
        {
            "seed": r.seed,
            "accuracy": round(r.metrics["accuracy"], 4),
            "macro_f1": round(r.metrics["macro_f1"], 4),
            "prompt": r.prompt,
            "train_seconds": r.costs.train_seconds,
        }
        for r in records
        if r.ok
    ]
    accuracy = [run["accuracy"] for run in runs]
    row = {
        "variant": name,
        "size": config.size,
        "accuracy_mean": round(float(np.mean(accuracy)), 4) if runs else None,
        "accuracy_std": round(float(np.std(accuracy, ddof=1)), 4) if len(runs) > 1 else 0.0,
        "runs": runs,
        "failed": failed,
        "wall_seconds": round(time.perf_counter() - start, 1),
    }
    print(
        f"{name}: n={config.size} accuracy {row['accuracy_mean']} ± {row['accuracy_std']} over {len(runs)} seeds "
        f"({row['wall_seconds']} s){' FAILED: ' + '; '.join(failed) if failed else ''}",
        flush=True,
    )
    for run in runs:
        print(
            f"  seed {run['seed']}: {run['accuracy']:.4f} (selection {run['train_seconds']:.0f} s) {run['prompt']}",
            flush=True,
        )
    return row


def main(config: argparse.Namespace) -> list[dict]:
    if config.timing:
        return time_selection(config)
    data = llmdisc.load_text_dataset(config.data)  # labels left as 0 / 1
    names = [v.strip() for v in config.variants.split(",") if v.strip()]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; use {', '.join(VARIANTS)}")
    rows = [run_variant(name, data, config) for name in names]
    summary = {
        "date": date.today().isoformat(),
        "machine": f"{platform.node()} ({platform.machine()})",
        "labels": data["train"].features["label"].names,
        "rows": rows,
    }
    Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(config.output_dir) / "summary.json").write_text(json.dumps(summary, indent=2))
    return rows


if __name__ == "__main__":
    main(make_parser().parse_args())
