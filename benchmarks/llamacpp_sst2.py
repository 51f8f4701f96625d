"""Benchmark: llmdisc's direct scoring beside llama.cpp on the same packaged GGUF (issue 15, item 3).

    pip install llama-cpp-python diskcache   # optional, benchmarks only (builds llama.cpp from source)
    .venv/bin/python benchmarks/llamacpp_sst2.py --examples 200

CPU users who score prompts with a small GGUF model reach for llama.cpp. This script scores the
same prompts both ways: zero-shot SST-2 with SmolLM2-135M-Instruct (the packaged Q4_1 GGUF),
the review template, the label words " negative" / " positive", on the first N validation
sentences.

* **llmdisc**: :func:`llmdisc.scoring.loglikelihood` on the GGUF de-quantized to float32 (what
  ``zeroshot`` runs), default token-budget batches.
* **llama.cpp, per prompt**: one ``llama_decode`` of context + label word per (text, label)
  pair, the KV cache cleared between pairs: the plain loop.
* **llama.cpp, per text**: one decode of the context per text; both label words read from its
  last position (the label words are one token each, so that is exact): what a careful user does.
* **llama.cpp, batched sequences**: as "per text", with many texts in one ``llama_batch`` under
  distinct sequence ids (up to ``--batch-tokens`` tokens), only each text's last position
  marked for logits: llama.cpp's documented way to evaluate several independent sequences at
  once (its ``batched`` and ``perplexity --hellaswag`` examples; llama-cpp-python's
  ``Llama.embed`` does the same).

Every path reads the same token ids (llmdisc's :func:`~llmdisc.scoring.encode_pair` of the HF
tokenizer), so the differences are the kernels: llama.cpp computes with the Q4_1 weights
directly, llmdisc with their float32 de-quantization. Prints examples/s per path, the ratio to
llmdisc, the largest absolute log-probability difference from llmdisc and the accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from scipy.special import log_softmax

import llmdisc
from llmdisc.likelihood import REVIEW_TEMPLATE, Template
from llmdisc.models import _packaged_path, load_model
from llmdisc.scoring import encode_pair, loglikelihood

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

        self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=batch_tokens, n_batch=batch_tokens,
                                   n_ubatch=batch_tokens, n_threads=threads, n_threads_batch=threads, verbose=False)
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

    def logprob_of_last(self, sequence: list[int]) -> float:
        """log P(last token | the ones before), from one decode of the whole sequence."""
        self.batch.reset()
        self.batch.add_sequence(sequence, 0, False)
        self.batch.batch.logits[len(sequence) - 2] = True  # the position that predicts the last token
        self.ctx.kv_cache_clear()
        self.ctx.decode(self.batch)
        return float(log_softmax(self._logits(len(sequence) - 2))[sequence[-1]])

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


def main(config: argparse.Namespace) -> dict:
    data = llmdisc.load_text_dataset(config.data, label_names=list(WORDS))
    texts = list(data["validation"]["text"][: config.examples])
    gold = np.asarray(data["validation"]["label"][: config.examples])
    template = Template(REVIEW_TEMPLATE)
    pairs = [template.direct(t, w) for t in texts for w in WORDS]
    model, tokenizer = load_model("smollm2-135m")
    encoded = [encode_pair(tokenizer, *p) for p in pairs]
    assert all(len(cont) == 1 for _, cont in encoded), "the label words must be one token each"
    contexts = [encoded[2 * i][0] for i in range(len(texts))]
    label_ids = [encoded[j][1][0] for j in range(2)]

    results: dict = {"examples": len(texts), "threads": config.threads, "batch_tokens": config.batch_tokens}
    logprobs: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}

    start = time.perf_counter()
    logprobs["llmdisc"] = np.array(loglikelihood(model, tokenizer, pairs)).reshape(-1, 2)
    seconds["llmdisc"] = time.perf_counter() - start

    scorer = LlamaCppScorer(gguf_path(), config.threads, config.batch_tokens, config.max_sequences)
    scorer.last_logprobs([contexts[0] + [label_ids[0]]])  # warm-up: first decode allocates buffers

    start = time.perf_counter()  # per prompt: context + word decoded, one pair at a time
    per_prompt = [scorer.logprob_of_last(ctx + cont) for ctx, cont in encoded]
    seconds["llamacpp_per_prompt"] = time.perf_counter() - start
    logprobs["llamacpp_per_prompt"] = np.array(per_prompt).reshape(-1, 2)

    start = time.perf_counter()
    one = [scorer.last_logprobs([ctx])[0][label_ids] for ctx in contexts]
    seconds["llamacpp_per_text"] = time.perf_counter() - start
    logprobs["llamacpp_per_text"] = np.array(one)

    start = time.perf_counter()
    batched = [lp[label_ids] for lp in scorer.last_logprobs(contexts)]
    seconds["llamacpp_batched"] = time.perf_counter() - start
    logprobs["llamacpp_batched"] = np.array(batched)

    for name, lp in logprobs.items():
        results[name] = {"ex_s": round(len(texts) / seconds[name], 2), "seconds": round(seconds[name], 2),
                         "vs_llmdisc": round(seconds["llmdisc"] / seconds[name], 2),
                         "max_abs_logprob_diff": float(np.abs(lp - logprobs["llmdisc"]).max()),
                         "accuracy": round(float((lp.argmax(1) == gold).mean()), 4)}
        print(json.dumps({name: results[name]}), flush=True)
    return results


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SST2))
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-tokens", type=int, default=2048, help="llama.cpp: tokens per batch (and context size)")
    parser.add_argument("--max-sequences", type=int, default=64, help="llama.cpp: sequences per batch")
    return parser


if __name__ == "__main__":
    main(make_parser().parse_args())
