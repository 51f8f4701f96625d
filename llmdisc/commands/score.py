"""``llmdisc score``: how likely is each text under a causal LM?

    llmdisc score "The cat sat on the mat." "Mat the on sat cat the."
    llmdisc score --file texts.txt --per-token
    llmdisc score --context "Review: great film\\nSentiment:" " positive" " negative"
    llmdisc score --file reviews.txt --rank          # most surprising (anomalous) first

One JSON line per text: ``text``, ``loglikelihood`` (natural log), ``num_tokens``,
``perplexity`` and, with ``--per-token``, ``tokens`` as ``[token, logprob]`` pairs.

Under ``accelerate launch`` the processes share the batches; the main one writes the records.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from typing import Any

from llmdisc.commands.inputs import read_inputs, write_jsonl
from llmdisc.lm.batch_sizes import check_batch_size
from llmdisc.lm.devices import check_placement, device_field, dtype_field
from llmdisc.lm.loading import load_model
from llmdisc.lm.loglikelihood import token_logprobs
from llmdisc.plumbing import distributed
from llmdisc.plumbing.config import arg, parse_config
from llmdisc.plumbing.config import make_parser as _fields_parser

__all__ = ["ScoreConfig", "main", "make_parser"]


@dataclass
class ScoreConfig:
    model: str = arg("smollm2-135m", "causal LM: an alias, a folder, a .gguf file or a Hub id")
    file: str | None = arg(None, "texts, one per line or JSONL with a 'text' field")
    context: str = arg("", "score each text as a continuation of this context")
    per_token: bool = arg(False, "add each token's log-prob")
    rank: bool = arg(False, "sort by perplexity, highest (most anomalous) first")
    batch_size: int | str = arg(16, "texts per forward pass, or auto: the largest that fits")
    output: str | None = arg(None, "write JSONL here (default: standard output)")
    device: str = device_field()
    dtype: str = dtype_field()


def main(config: ScoreConfig, texts: list[str] | None = None) -> list[dict[str, Any]]:
    """Score the texts, write JSONL; return the records."""
    check_placement(config.device, config.dtype)  # before reading anything
    batch_size = check_batch_size(config.batch_size)
    texts = read_inputs(texts or [], config.file)
    model, tokenizer = load_model(config.model, task="causal-lm", device=config.device, dtype=config.dtype)
    records = []
    for text, scores in zip(texts, token_logprobs(model, tokenizer, texts, batch_size, config.context)):
        record = {
            "text": text,
            "loglikelihood": scores.loglikelihood,
            "num_tokens": len(scores.logprobs),
            "perplexity": scores.perplexity if scores.logprobs else math.nan,
        }
        if config.per_token:
            record["tokens"] = [[t, lp] for t, lp in zip(scores.tokens, scores.logprobs)]
        records.append(record)
    if config.rank:
        records.sort(key=lambda r: -r["perplexity"])
    if distributed.is_main_process():  # every process holds all the scores; one writes them
        write_jsonl(records, config.output)
    return records


def make_parser(subparsers: Any = None) -> argparse.ArgumentParser:
    kwargs = {"description": __doc__, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = (
        subparsers.add_parser("score", help="log-likelihood and perplexity of texts", **kwargs)
        if subparsers
        else argparse.ArgumentParser(**kwargs)
    )
    parser.add_argument("inputs", nargs="*", metavar="TEXT", help="texts (else --file, else stdin)")
    _fields_parser(ScoreConfig, parser)
    parser.set_defaults(func=lambda args: main(parse_config(ScoreConfig, args), args.inputs))
    return parser


if __name__ == "__main__":
    from llmdisc.plumbing.console import run

    sys.exit(run(make_parser()))
