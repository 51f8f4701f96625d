"""Generate text with a causal LM, and make labelled synthetic data with it.

``generate`` batches prompts with left padding (a decoder continues from the right edge, so the
padding must be on the left), applies the model's chat template when it has one, and returns one
record per completion: ``prompt``, ``completion``, ``tokens`` (generated, up to and including
EOS) and ``seconds`` (wall time of the batch that produced it).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmdisc.errors import LlmdiscError
from llmdisc.plumbing.config import DEFAULT_SEED, arg
from llmdisc.plumbing.no_grad import no_grad

__all__ = ["SamplingConfig", "generate", "synthesize"]

logger = logging.getLogger(__name__)


@dataclass
class SamplingConfig:
    """Decoding settings; the defaults decode greedily."""

    max_new_tokens: int = arg(64, "tokens to generate at most")
    do_sample: bool = arg(False, "sample instead of greedy decoding")
    temperature: float = arg(1.0, "sampling temperature (> 0)")
    top_p: float = arg(1.0, "nucleus sampling: keep the smallest set of tokens with this much probability, in (0, 1]")
    top_k: int = arg(0, "sample among the k most likely tokens (0: no limit)")
    repetition_penalty: float = arg(1.0, "penalise tokens already generated (1: none)")
    stop: list[str] | None = arg(None, "stop strings, comma-separated; the completion ends before them")
    num_samples: int = arg(1, "completions per prompt")
    seed: int | None = arg(DEFAULT_SEED, "random seed for sampling (none: a fresh draw each run)")
    chat_template: bool = arg(True, "wrap prompts in the model's chat template, when it has one")
    batch_size: int = arg(8, "prompts per batch")

    def check(self) -> None:
        """One-line errors for settings that make no sense."""
        if self.do_sample and self.temperature <= 0:
            raise LlmdiscError(
                f"temperature must be > 0 when sampling (got {self.temperature}); use --no-do-sample for greedy"
            )
        if not 0 < self.top_p <= 1:
            raise LlmdiscError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0 or self.max_new_tokens < 1 or self.num_samples < 1 or self.batch_size < 1:
            raise LlmdiscError("top_k must be >= 0, and max_new_tokens, num_samples and batch_size >= 1")
        if self.num_samples > 1 and not self.do_sample:
            raise LlmdiscError("several samples per prompt need sampling: add --do-sample")


def _format(tokenizer, prompt: str, chat_template: bool) -> str:
    if chat_template and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    return prompt


def _cut_at_stop(text: str, stop: Sequence[str] | None) -> str:
    cuts = [text.find(s) for s in (stop or []) if s and s in text]
    return text[: min(cuts)] if cuts else text


@no_grad
def generate(
    model, tokenizer, prompts: Sequence[str], config: SamplingConfig | None = None, streamer: Any = None
) -> list[dict[str, Any]]:
    """Complete each prompt.

    Args:
        model: a causal LM.
        tokenizer: its tokenizer.
        prompts: the prompts.
        config: decoding settings (greedy by default).
        streamer: a transformers streamer (``TextStreamer``), used only for a single prompt.

    Returns:
        One record per completion (``num_samples`` per prompt, in prompt order): ``prompt``,
        ``completion``, ``tokens``, ``seconds``.
    """
    from transformers import set_seed

    config = config or SamplingConfig()
    config.check()
    if not prompts:
        return []
    if config.seed is not None:
        set_seed(config.seed)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    sampling = (
        {"temperature": config.temperature, "top_p": config.top_p, "top_k": config.top_k} if config.do_sample else {}
    )
    eos_ids = model.generation_config.eos_token_id
    eos = set(eos_ids if isinstance(eos_ids, list) else [eos_ids]) | {tokenizer.eos_token_id}
    records = []
    for start in range(0, len(prompts), config.batch_size):
        batch = list(prompts[start : start + config.batch_size])
        texts = [_format(tokenizer, p, config.chat_template) for p in batch]
        # A chat template already writes the special tokens it needs.
        add_special = not (config.chat_template and getattr(tokenizer, "chat_template", None))
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=add_special).to(model.device)
        began = time.perf_counter()
        out = model.generate(
            **enc,
            max_new_tokens=config.max_new_tokens,
            do_sample=config.do_sample,
            repetition_penalty=config.repetition_penalty,
            num_return_sequences=config.num_samples,
            pad_token_id=tokenizer.pad_token_id,
            stop_strings=config.stop or None,
            tokenizer=tokenizer if config.stop else None,
            streamer=streamer if len(prompts) == 1 else None,
            **sampling,
        )
        seconds = time.perf_counter() - began
        new = out[:, enc["input_ids"].shape[1] :]
        for row, ids in enumerate(new):
            ids = ids.tolist()
            # Generated tokens: up to and including the first EOS. A row that ended early on a stop
            # string is padded after it; the padding is not counted either.
            n = next(
                (i + 1 if t in eos else i for i, t in enumerate(ids) if t in eos or t == tokenizer.pad_token_id),
                len(ids),
            )
            completion = _cut_at_stop(tokenizer.decode(ids[:n], skip_special_tokens=True), config.stop)
            records.append(
                {
                    "prompt": batch[row // config.num_samples],
                    "completion": completion,
                    "tokens": n,
                    "seconds": round(seconds, 3),
                }
            )
    return records


def synthesize(
    model,
    tokenizer,
    labels: Sequence[str],
    per_label: int,
    template: str = "Write a one-sentence {label} review of a film, a book or a restaurant.",
    config: SamplingConfig | None = None,
) -> list[dict[str, str]]:
    """Class-conditional synthetic data: ``per_label`` generated texts for each label.

    Args:
        labels: label names; each fills ``{label}`` in ``template``.
        per_label: texts per label.
        template: the instruction, with a ``{label}`` slot.
        config: decoding settings (default: sampling at temperature 0.9, top-p 0.95, 48 tokens).

    Returns:
        Records ``{"text", "label"}``, in label order: the format ``load_text_dataset`` reads as jsonl.
    """
    if "{label}" not in template:
        raise LlmdiscError(f"the template needs a {{label}} slot: {template!r}")
    config = config or SamplingConfig(do_sample=True, temperature=0.9, top_p=0.95, max_new_tokens=48, seed=0)
    if not config.do_sample:
        raise LlmdiscError("synthetic data needs sampling (--do-sample), or every text would be the same")
    rows = []
    for label in labels:
        # The same prompt per_label times, one sample each: generate() batches them by batch_size.
        prompts = [template.replace("{label}", label)] * per_label
        for r in generate(model, tokenizer, prompts, dataclasses.replace(config, num_samples=1)):
            text = r["completion"].strip().split("\n")[0].strip().strip('"').strip()
            if text:
                rows.append({"text": text, "label": label})
            else:
                logger.warning("an empty %s sample was dropped", label)
    return rows
