"""``llmdisc generate``: complete prompts with a causal LM, or write labelled synthetic data.

llmdisc generate "Write a haiku about rain."          # streams to the terminal
llmdisc generate --file prompts.txt --output out.jsonl --do-sample --temperature 0.8
echo "Tell me a joke." | llmdisc generate --no-chat-template
llmdisc generate --labels positive,negative --per-label 50 --output synthetic/train.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass
from typing import Any

from llmdisc.commands.inputs import read_inputs, write_jsonl
from llmdisc.lm.devices import check_placement, device_field, dtype_field
from llmdisc.lm.generation import SamplingConfig, generate, synthesize
from llmdisc.lm.loading import load_model
from llmdisc.plumbing.config import arg, parse_config
from llmdisc.plumbing.config import make_parser as _fields_parser

__all__ = ["GenerateConfig", "main", "make_parser"]


@dataclass
class GenerateConfig(SamplingConfig):
    model: str = arg("smollm2-135m", "causal LM: an alias, a folder, a .gguf file or a Hub id")
    file: str | None = arg(None, "prompts, one per line or JSONL with a 'prompt' field")
    output: str | None = arg(None, "write JSONL here (default: standard output)")
    labels: list[str] | None = arg(None, "make synthetic data for these labels instead of completing prompts")
    per_label: int = arg(20, "synthetic texts per label")
    template: str = arg(
        "Write a one-sentence {label} review of a film, a book or a restaurant.",
        "instruction for synthetic data, with a {label} slot",
    )
    device: str = device_field()
    dtype: str = dtype_field()


class _StderrStreamer:
    """Stream a single completion to the terminal (stderr), keeping stdout for the JSONL.

    Mixed into transformers' ``TextStreamer`` by :func:`_streamer` (imported only to generate).
    """

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        print(text, file=sys.stderr, flush=True, end="" if not stream_end else "\n")


def _streamer(tokenizer) -> _StderrStreamer:
    from transformers import TextStreamer

    return type("StderrStreamer", (_StderrStreamer, TextStreamer), {})(
        tokenizer, skip_prompt=True, skip_special_tokens=True
    )


def main(config: GenerateConfig, prompts: list[str] | None = None) -> list[dict[str, Any]]:
    """Generate (or synthesize), write JSONL; return the records."""
    sampling = SamplingConfig(**{f.name: getattr(config, f.name) for f in dataclasses.fields(SamplingConfig)})
    check_placement(config.device, config.dtype)
    model, tokenizer = load_model(config.model, task="causal-lm", device=config.device, dtype=config.dtype)
    if config.labels:
        # Synthetic data needs sampling; every other setting the user gave is kept.
        records = synthesize(
            model,
            tokenizer,
            config.labels,
            config.per_label,
            config.template,
            dataclasses.replace(sampling, do_sample=True),
        )
    else:
        prompts = read_inputs(prompts or [], config.file, field="prompt")
        streamer = (
            _streamer(tokenizer) if len(prompts) == 1 and sampling.num_samples == 1 and sys.stderr.isatty() else None
        )
        records = generate(model, tokenizer, prompts, sampling, streamer=streamer)
    write_jsonl(records, config.output)
    return records


def make_parser(subparsers: Any = None) -> argparse.ArgumentParser:
    kwargs = {"description": __doc__, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = (
        subparsers.add_parser("generate", help="generate text, or labelled synthetic data", **kwargs)
        if subparsers
        else argparse.ArgumentParser(**kwargs)
    )
    parser.add_argument("inputs", nargs="*", metavar="PROMPT", help="prompts (else --file, else stdin)")
    _fields_parser(GenerateConfig, parser)
    parser.set_defaults(func=lambda args: main(parse_config(GenerateConfig, args), args.inputs))
    return parser


if __name__ == "__main__":
    from llmdisc.plumbing.console import run

    sys.exit(run(make_parser()))
