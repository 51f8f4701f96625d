"""Benchmark: llmdisc's direct and channel scoring beside llama.cpp on the same packaged GGUF (issue 15).

    pip install llama-cpp-python diskcache   # optional, benchmarks only (builds llama.cpp from source)
    .venv/bin/python benchmarks/llamacpp_sst2.py --examples 200

CPU users who score prompts with a small GGUF model reach for llama.cpp. This script scores the
same prompts both ways: zero-shot SST-2 with SmolLM2-135M-Instruct (the packaged Q4_1 GGUF),
the review template, the label words " negative" / " positive", on the first N validation
sentences; direct mode scores the label word after the text, channel mode the text after the
label (``--modes``).

* **llmdisc**: :func:`llmdisc.lm.loglikelihood.loglikelihood` on the GGUF de-quantized to float32 (what
  ``zeroshot`` runs), with the zero-shot classifier's batching defaults.
* **llama.cpp, per prompt**: one ``llama_decode`` of context + continuation per (text, label)
  pair, the KV cache cleared between pairs, logits read where the continuation is predicted:
  the plain loop.
* **llama.cpp, per text** (direct mode): one decode of the context per text; both label words
  read from its last position (they are one token each, so that is exact): what a careful user does.
* **llama.cpp, batched sequences**: as "per text", with many texts in one ``llama_batch`` under
  distinct sequence ids (up to ``--batch-tokens`` tokens), only the positions that predict a
  scored token marked for logits (direct mode: each text's last): llama.cpp's documented way to
  evaluate several independent sequences at once (its ``batched`` and ``perplexity --hellaswag``
  examples; llama-cpp-python's ``Llama.embed`` does the same).

Every path reads the same token ids (llmdisc's :func:`~llmdisc.lm.loglikelihood.encode_pair` of the HF
tokenizer), so the differences are the kernels: llama.cpp computes with the Q4_1 weights
directly, llmdisc with their float32 de-quantization. Prints examples/s per path, the ratio to
llmdisc, the largest absolute log-probability difference from llmdisc and the accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.special import log_softmax

import llmdisc
from llmdisc.lm.label_likelihood import REVIEW_TEMPLATE, Template
from llmdisc.lm.loading import _packaged_path, load_model
from llmdisc.lm.loglikelihood import encode_pair, loglikelihood

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"
WORDS = ("negative", "positive")


def gguf_path() -> Path:
    """The packaged GGUF file that ``smollm2-135m`` resolves to."""
    return _packaged_path("smollm2-135m")


class LlamaCppScorer:
    """llama.cpp's context and batch objects (through llama-cpp-python) for scoring token ids."""

    def __init__(self, path: Path, threads: int, batch_tokens: int, max_sequences: int):
        import llama_cpp
        from llama_cpp import _internals

        self.llm = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=batch_tokens,
            n_batch=batch_tokens,
            n_ubatch=batch_tokens,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
        # The high-level Llama keeps one sequence; several need their own context with n_seq_max
        # set (llama-cpp-python's embedding mode does the same) and a unified KV cache.
        params = self.llm.context_params
        params.n_seq_max = max_sequences
        params.kv_unified = True
        self.ctx = _internals.LlamaContext(model=self.llm._model, params=params, verbose=False)
        self.batch = _internals.LlamaBatch(n_tokens=batch_tokens, embd=0, n_seq_max=max_sequences, verbose=False)
        self.n_vocab = self.llm.n_vocab()
        self.batch_tokens, self.max_sequences = batch_tokens, max_sequences

    def _logits(self, i: int) -> np.ndarray:
        return np.ctypeslib.as_array(self.ctx.get_logits_ith(i), shape=(self.n_vocab,)).astype(np.float64)

    def continuation_logprobs(self, pairs: list[tuple[list[int], list[int]]], batched: bool = True) -> list[float]:
        """log P(continuation | context) of each (context ids, continuation ids) pair: the pair decoded
        as one sequence, logits read at the positions that predict the continuation's tokens. With
        ``batched``, as many pairs to a batch (distinct sequence ids) as fit; else one per decode."""
        out, start = [], 0
        while start < len(pairs):
            self.batch.reset()
            spans, used = [], 0  # (first logit index in the batch, continuation ids) per pair
            while start + len(spans) < len(pairs) and len(spans) < (self.max_sequences if batched else 1):
                ctx, cont = pairs[start + len(spans)]
                seq = ctx + cont
                if used + len(seq) > self.batch_tokens and spans:
                    break
                self.batch.add_sequence(seq, len(spans), False)
                self.batch.batch.logits[used + len(seq) - 1] = False
                for i in range(used + len(ctx) - 1, used + len(seq) - 1):
                    self.batch.batch.logits[i] = True
                spans.append((used + len(ctx) - 1, cont))
                used += len(seq)
            self.ctx.kv_cache_clear()
            self.ctx.decode(self.batch)
            out += [
                sum(float(log_softmax(self._logits(first + j))[t]) for j, t in enumerate(cont))
                for first, cont in spans
            ]
            start += len(spans)
        return out

    def last_logprobs(self, sequences: list[list[int]]) -> list[np.ndarray]:
        """log-softmax at the last position of each sequence, as many to a batch as fit."""
        out, start = [], 0
        while start < len(sequences):
            self.batch.reset()
            ends, used = [], 0
            while start + len(ends) < len(sequences) and len(ends) < self.max_sequences:
                seq = sequences[start + len(ends)]
                if used + len(seq) > self.batch_tokens and ends:
                    break
                self.batch.add_sequence(seq, len(ends), False)
                used += len(seq)
                ends.append(used - 1)
            self.ctx.kv_cache_clear()
            self.ctx.decode(self.batch)
            out += [log_softmax(self._logits(i)) for i in ends]
            start += len(ends)
        return out


def _mode_runs(mode, texts, model, tokenizer, scorer, template, defaults) -> dict[str, Callable[[], np.ndarray]]:
    """Each path that scores ``mode``'s requests, as a function to time (the requests built once)."""
    pairs = [getattr(template, mode)(t, w) for t in texts for w in WORDS]
    encoded = [encode_pair(tokenizer, *p) for p in pairs]
    scorer.continuation_logprobs(encoded[:2])  # warm-up: the first decode allocates buffers
    runs: dict[str, Callable[[], np.ndarray]] = {
        "llmdisc": lambda: np.array(
            loglikelihood(model, tokenizer, pairs, batch_size=defaults.batch_size, max_tokens=defaults.max_tokens)
        ),
        # per prompt: each (context, continuation) decoded alone, the KV cache cleared between
        "llamacpp_per_prompt": lambda: np.array(scorer.continuation_logprobs(encoded, batched=False)),
    }
    if mode == "direct":
        assert all(len(cont) == 1 for _, cont in encoded), "the label words must be one token each"
        contexts = [encoded[2 * i][0] for i in range(len(texts))]
        label_ids = [encoded[j][1][0] for j in range(2)]
        # batched sequences, each text's context once (both one-token label words read from its
        # end); per text: the same, one context per decode
        runs["llamacpp_batched"] = lambda: np.array([lp[label_ids] for lp in scorer.last_logprobs(contexts)])
        runs["llamacpp_per_text"] = lambda: np.array([scorer.last_logprobs([c])[0][label_ids] for c in contexts])
    else:
        # batched sequences: many (label prompt, text) pairs in one llama_batch, distinct sequence ids
        runs["llamacpp_batched"] = lambda: np.array(scorer.continuation_logprobs(encoded))
    return runs


def main(config: argparse.Namespace) -> dict:
    data = llmdisc.load_text_dataset(config.data, label_names=list(WORDS))
    texts = list(data["validation"]["text"][: config.examples])
    gold = np.asarray(data["validation"]["label"][: config.examples])
    template = Template(REVIEW_TEMPLATE)
    model, tokenizer = load_model("smollm2-135m")
    defaults = llmdisc.get_classifier("zeroshot").config  # llmdisc as zero-shot runs it
    scorer = LlamaCppScorer(gguf_path(), config.threads, config.batch_tokens, config.max_sequences)
    results: dict = {"examples": len(texts), "threads": config.threads, "batch_tokens": config.batch_tokens}
    for mode in config.modes.split(","):
        runs = _mode_runs(mode, texts, model, tokenizer, scorer, template, defaults)
        logprobs, seconds = {}, {}
        for name, run in runs.items():
            start = time.perf_counter()
            logprobs[name] = run().reshape(-1, 2)
            seconds[name] = time.perf_counter() - start
        results[mode] = {}
        for name, lp in logprobs.items():
            results[mode][name] = {
                "ex_s": round(len(texts) / seconds[name], 2),
                "seconds": round(seconds[name], 2),
                "vs_llmdisc": round(seconds["llmdisc"] / seconds[name], 2),
                "max_abs_logprob_diff": float(np.abs(lp - logprobs["llmdisc"]).max()),
                "accuracy": round(float((lp.argmax(1) == gold).mean()), 4),
            }
            print(json.dumps({mode: {name: results[mode][name]}}), flush=True)
    return results


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SST2))
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--batch-tokens", type=int, default=2048, help="llama.cpp: tokens per batch (and context size)"
    )
    parser.add_argument("--max-sequences", type=int, default=64, help="llama.cpp: sequences per batch")
    parser.add_argument("--modes", default="direct,channel", help="direct, channel or both (comma-separated)")
    return parser


if __name__ == "__main__":
    main(make_parser().parse_args())
