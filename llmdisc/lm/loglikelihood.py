"""Score text with a causal LM: token log-probs, log-likelihoods, perplexity.

One implementation, used by the zero-shot classifier, the LoRA verbalizer head and ``llmdisc
score``. The conventions follow lm-evaluation-harness (``lm_eval/api/model.py``):

* ``loglikelihood(context, continuation)`` is log P(continuation | context), natural log.
  Trailing whitespace of the context belongs to the continuation: ``("A", " great")`` and
  ``("A ", "great")`` are the same request. The continuation's tokens are
  ``tokens(context + continuation)[len(tokens(context)):]``, so a word split differently at the
  boundary is still scored whole.
* Special tokens are added the way the tokenizer adds them by default, so BOS appears exactly
  once where the model expects it (Llama-2 style tokenizers add it; GPT-2 and SmolLM2 add none).
* An empty context is scored from a *document-start* token: ``<|endoftext|>`` where the
  vocabulary has it, else BOS, else EOS. Why: GPT-2 and SmolLM2 were pre-trained on documents
  separated by ``<|endoftext|>``. SmolLM2-Instruct's tokenizer calls ``<|im_start|>`` its BOS
  token, but that token opens chat turns in fine-tuning and never starts a plain document.
* Log-softmax runs in float32, and only at the positions being scored. A half-precision
  (bfloat16) model computes its output layer there in float32 too
  (:mod:`llmdisc.lm.head_precision`): its body runs in bfloat16, the logits read do not.
* A chat prompt (``chat=True``: a context rendered by the model's chat template, as
  lm-evaluation-harness's ``--apply_chat_template`` builds it) is tokenized whole, with no
  special tokens added; the continuation starts the assistant's answer (:func:`encode_pair`).

Batching: requests are grouped by context; each context is run once and its KV cache reused for
all of its continuations (one prompt scored against several labels, or one label prompt scored
against many texts). With a token budget (``max_tokens``, :data:`DEFAULT_MAX_TOKENS` by
default) the requests are sorted by their whole length, longest first, and each batch holds as
many as keep rows x longest within the budget, ``batch_size`` capping the rows; with
``max_tokens=None`` batches are ``batch_size`` requests sorted by context length (the path before
token budgets, kept for comparison). Prefixes are left-padded and continuations right-padded, with explicit
position ids, so a result does not depend on the batch it was computed in (tested to 1e-4).

A shared prefix runs once (``shared_prefix=True``, the default): the tokens that every context of
a request set starts with (k demonstrations, an instruction, a chat template's system turn) are
run through the model once, and their key/value cache is copied into every batch, which then
runs only what follows them. Each context keeps at least its last token (it predicts the first
continuation token); a set of one distinct context shares nothing (it runs once per batch
anyway), nor does a prefix under :data:`MIN_SHARED_PREFIX` tokens (a template's first word: it
measured slower than running it with every text, and the scores stay bit-for-bit those of the
whole prompts). The log-probs are today's within 1e-4 (tested, direct and channel, on GPT-2 and Llama);
``shared_prefix=False`` runs every context whole, the path before, kept for comparison and as a
fallback. Models whose cache is not a plain per-layer key/value list (sliding-window layers)
run whole.

Several processes (``accelerate launch``): every process makes the same call; the batches are
shared out among them and the scores gathered back in request order (see
:mod:`llmdisc.plumbing.distributed`), identical to a single process's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from llmdisc.errors import LlmdiscError
from llmdisc.lm.batch_sizes import (
    AUTO,
    DISTRIBUTED_AUTO_BATCH,
    check_batch_size,
    check_max_tokens,
    rows_within,
    run_in_batches,
)
from llmdisc.lm.head_precision import float32_head
from llmdisc.plumbing.distributed import map_batches, world_size
from llmdisc.plumbing.no_grad import no_grad

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "MIN_SHARED_PREFIX",
    "context_window",
    "document_start_id",
    "encode_pair",
    "move_trailing_space",
    "loglikelihood",
    "reduce_scores",
    "score_ids",
    "sequence_loglikelihood",
    "token_logprobs",
    "perplexity",
    "surprisal",
    "TokenScores",
]

logger = logging.getLogger(__name__)

#: The scorer's token budget per batch (rows x the longest request): short texts run many to a
#: batch, long ones few; ``batch_size`` still caps the rows.
DEFAULT_MAX_TOKENS = 4096
#: The fewest tokens a shared prefix must hold to run once: on SmolLM2-135M (CPU, 200 SST-2
#: sentences) a 2-token prefix ran at 0.78-1.04x the speed of whole prompts, an 11-token one at
#: 1.40-1.51x, 28 tokens at 1.9-2.8x and 4 demonstrations (66 tokens) at 3.2-3.6x (RESULTS.md).
MIN_SHARED_PREFIX = 8


class ScoreStore(Protocol):
    """Where :func:`score_ids` finds scores already computed and keeps new ones
    (:class:`llmdisc.lm.likelihood_cache.ModelLikelihoods`: a cache bound to one model)."""

    def get(self, requests: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[np.ndarray | None]: ...

    def put(self, requests: Sequence[tuple[Sequence[int], Sequence[int]]], scores: Sequence[np.ndarray]) -> None: ...


@dataclass
class TokenScores:
    """Per-token scores of one text: ``tokens[i]`` has natural-log probability ``logprobs[i]``."""

    tokens: list[str]
    logprobs: list[float]

    @property
    def loglikelihood(self) -> float:
        return float(sum(self.logprobs))

    @property
    def perplexity(self) -> float:
        return math.exp(-self.loglikelihood / max(len(self.logprobs), 1))


def document_start_id(tokenizer) -> int:
    """The token an empty context starts from: ``<|endoftext|>``, else BOS, else EOS."""
    vocab = tokenizer.get_vocab()
    if "<|endoftext|>" in vocab:
        return vocab["<|endoftext|>"]
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return token_id
    raise LlmdiscError(
        "the tokenizer has no <|endoftext|>, BOS or EOS token to start an empty context from; give a non-empty context"
    )


def context_window(model) -> int:
    """The most tokens ``model`` takes at once (its position embeddings)."""
    config = model.config
    return int(getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 2048))


def move_trailing_space(context: str, continuation: str) -> tuple[str, str]:
    """``("It was ", "great")`` -> ``("It was", " great")``: the space belongs to the continuation."""
    stripped = context.rstrip()
    return stripped, context[len(stripped) :] + continuation


def encode_pair(tokenizer, context: str, continuation: str, chat: bool = False) -> tuple[list[int], list[int]]:
    """Token ids of (context, continuation), by the conventions in the module docstring.

    The LoRA heads train on exactly these ids, so training and scoring see the same tokens.

    Args:
        chat: the context is a prompt rendered by the tokenizer's chat template, ending with the
            assistant's turn opening (:func:`llmdisc.lm.label_likelihood.chat_request`). It is then
            tokenized whole: no special tokens are added (the template writes them, as
            ``apply_chat_template(tokenize=True)`` does) and its trailing newline stays in the
            context, as in generation; the newline and the special tokens before it are split
            off before any merge, so the context's tokens are a prefix of the whole's.
    """
    if chat:
        context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
        whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
        return context_ids, whole[len(context_ids) :]
    context, continuation = move_trailing_space(context, continuation)
    if not context:
        return [document_start_id(tokenizer)], tokenizer(continuation, add_special_tokens=False)["input_ids"]
    whole = tokenizer(context + continuation)["input_ids"]
    context_ids = tokenizer(context)["input_ids"]
    # A tokenizer that appends EOS (rare for causal LMs) would break the prefix property.
    if whole[: len(context_ids)] != context_ids and context_ids and context_ids[-1] == tokenizer.eos_token_id:
        context_ids = context_ids[:-1]
    return context_ids, whole[len(context_ids) :]


def score_ids(
    model,
    requests: Sequence[tuple[Sequence[int], Sequence[int]]],
    batch_size: int | str = 16,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
    shared_prefix: bool = True,
    store: ScoreStore | None = None,
) -> list[np.ndarray]:
    """Per-token log-probs of each continuation given its context (both as token ids).

    Requests sharing a context share one forward pass over it (the KV cache is reused), and the
    prefix all contexts share runs once (``shared_prefix``; see the module docstring).
    ``max_tokens`` sizes the batches by tokens (None: by ``batch_size`` rows alone); a batch's
    size counts the whole requests, shared prefix included (it holds their key/value cache).

    Args:
        store: scores computed before, for this model (a comparison's likelihood cache): the
            requests it holds are not run again, and the others are added to it.
    """
    requests = [(list(c), list(x)) for c, x in requests]
    if store is None:
        return _score_ids(model, requests, batch_size, max_tokens, shared_prefix)
    found = store.get(requests)
    missing = [i for i, scores in enumerate(found) if scores is None]
    logger.debug("likelihood cache: %d of %d requests found", len(requests) - len(missing), len(requests))
    if missing:
        asked = [requests[i] for i in missing]
        # Scored as a set of their own: the cut to the window must not touch the keys.
        scored = _score_ids(model, list(asked), batch_size, max_tokens, shared_prefix)
        store.put(asked, scored)
        for i, scores in zip(missing, scored):
            found[i] = scores
    return found  # type: ignore[return-value]


def reduce_scores(scores: Sequence[np.ndarray], reduce: str = "sum") -> list[float]:
    """Each request's score from its per-token log-probs: ``sum`` (the log-likelihood) or ``mean``
    (per token; 0 for no tokens)."""
    if reduce == "mean":
        return [float(s.mean()) if len(s) else 0.0 for s in scores]
    return [float(s.sum()) for s in scores]


@no_grad
def _score_ids(
    model,
    requests: list[tuple[list[int], list[int]]],
    batch_size: int | str,
    max_tokens: int | None,
    shared_prefix: bool,
) -> list[np.ndarray]:
    """:func:`score_ids` without a store (``requests`` is changed in place: contexts cut to the window)."""
    batch_size = check_batch_size(batch_size)
    max_tokens = check_max_tokens(max_tokens)
    limit = context_window(model)
    results: list[np.ndarray | None] = [None] * len(requests)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (ctx, cont) in enumerate(requests):
        if not cont:
            results[i] = np.zeros(0, dtype=np.float32)
            continue
        if len(cont) >= limit:
            raise LlmdiscError(
                f"a continuation of {len(cont)} tokens does not fit the model's {limit}; "
                "score long texts with perplexity() (a sliding window) or shorten them"
            )
        if len(ctx) + len(cont) > limit:
            keep = limit - len(cont)
            logger.warning(
                "a request of %d tokens exceeds the model's %d; its context is cut to the last %d",
                len(ctx) + len(cont),
                limit,
                keep,
            )
            ctx = ctx[-keep:]
        groups.setdefault(tuple(ctx), []).append(i)
        requests[i] = (ctx, cont)

    # Longest first: the first batch fails fast on memory, and lengths in a batch are similar.
    # A token budget sorts by the whole request (what its padded size counts); the contexts
    # break ties, so that the requests sharing one stay together.
    def key(item: tuple[tuple[int, ...], int]) -> tuple:
        ctx, cont = item[0], requests[item[1]][1]
        return (-len(ctx), ctx, -len(cont)) if max_tokens is None else (-len(ctx) - len(cont), ctx)

    items = sorted(((ctx, i) for ctx, members in groups.items() for i in members), key=key)
    flat = [(ctx, requests[i][1], i) for ctx, i in items]
    lengths = [len(ctx) + len(cont) for ctx, cont, _ in flat]
    shared = _SharedPrefix(model, _common_prefix(list(groups)) if shared_prefix else [])

    def score(batch):
        return _score_chunk(model, batch, limit, shared)

    # Once for every batch: a half-precision model's logits and log-softmax in float32.
    with float32_head(model):
        if world_size() > 1:
            # Several processes share fixed batches (each computes the same batches as one process
            # would); a batch that runs out of memory is halved where it runs.
            size = DISTRIBUTED_AUTO_BATCH if batch_size == AUTO else batch_size
            chunks, start = [], 0
            while start < len(flat):
                rows = size if max_tokens is None else rows_within(lengths, start, max_tokens, size)
                chunks.append(flat[start : start + rows])
                start += rows
            scored = [s for part in map_batches(lambda c: run_in_batches(score, c, len(c)), chunks) for s in part]
        else:
            scored = run_in_batches(
                score, flat, batch_size, length=lambda item: len(item[0]) + len(item[1]), max_tokens=max_tokens
            )
    for (_, _, i), scores in zip(flat, scored):
        results[i] = scores
    return results  # type: ignore[return-value]


def _common_prefix(contexts: list[tuple[int, ...]]) -> list[int]:
    """The tokens every context starts with, each context keeping at least its last token.

    Empty for fewer than two distinct contexts (one context runs once per batch whole, and a
    prefix of its own would only add a forward pass) and under :data:`MIN_SHARED_PREFIX` tokens.
    """
    if len(contexts) < 2:
        return []
    # The lexicographically first and last contexts share no more than all of them do.
    first, last, shortest = min(contexts), max(contexts), min(len(c) for c in contexts)
    n = 0
    while n < shortest - 1 and first[n] == last[n]:
        n += 1
    return list(first[:n]) if n >= MIN_SHARED_PREFIX else []


class _SharedPrefix:
    """The shared prefix's token ids and, once a batch asks for it, its key/value cache (batch 1).

    Computed lazily: under several processes only those that score a batch run it.
    """

    def __init__(self, model, ids: list[int]) -> None:
        self.model, self.ids, self._layers = model, ids, None

    def cache(self, rows: int):
        """A fresh cache holding the prefix's keys and values for ``rows`` rows, or None when the
        prefix is empty or the model's cache is not plain key/value layers (it then runs whole)."""
        import torch
        from transformers import DynamicCache

        if not self.ids:
            return None
        if self._layers is None:
            ids = torch.tensor([self.ids], device=self.model.device)
            out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1)
            layers = list(out.cache)
            # A sliding-window layer keeps only its window: it cannot be expanded and extended here.
            plain = all(len(layer) == 2 or layer[2] is None for layer in layers)
            self._layers = [layer[:2] for layer in layers] if plain else []
            if not plain:
                logger.info("the model's cache has sliding-window layers: shared prefixes run with every text")
        if not self._layers:
            self.ids = []
            return None
        # expand() is a view; each layer copies it once into the batch's own cache.
        return DynamicCache([(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in self._layers])


def _left_padded(rows: list[list[int]], device, after: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids, attention mask, position ids) of token lists, left-padded to the longest.

    ``after``: the tokens of a shared prefix already in the cache before them (their mask is
    ones and their positions come first); the padding then sits between that prefix and each row.
    """
    import torch

    width = max(len(r) for r in rows)
    ids = torch.tensor([[0] * (width - len(r)) + r for r in rows], device=device)
    mask = torch.tensor([[1] * after + [0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
    return ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)[:, after:]


def _score_chunk(
    model, chunk: list[tuple[tuple[int, ...], list[int], int]], limit: int, shared: _SharedPrefix | None = None
) -> list[np.ndarray]:
    """Per-token log-probs for one batch of (context, continuation, index) items.

    ``shared``: the prefix every context starts with, whose cache is reused (its tokens are not run).
    """
    import torch

    device = model.device
    contexts = list(dict.fromkeys(ctx for ctx, _, _ in chunk))
    row_of = {ctx: r for r, ctx in enumerate(contexts)}
    rows = torch.tensor([row_of[ctx] for ctx, _, _ in chunk], device=device)
    cache = shared.cache(len(contexts)) if shared is not None else None
    skip = len(shared.ids) if cache is not None else 0  # the tokens the cache already holds

    if all(len(cont) == 1 for _, cont, _ in chunk):
        # Every continuation is one token (a label word, usually): the distribution after each
        # context's last token scores them all, so one pass over the contexts is enough.
        # logits_to_keep=1 skips the vocabulary projection everywhere else.
        ids, mask, positions = _left_padded([list(c[skip:]) for c in contexts], device, skip)
        last = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=cache is not None,
            logits_to_keep=1,
        ).logits[:, -1]
        logprobs = torch.log_softmax(last.float(), dim=-1)[rows]
        targets = torch.tensor([cont[0] for _, cont, _ in chunk], device=device)
        return list(logprobs.gather(-1, targets[:, None]).cpu().numpy())

    # 1. Each distinct context minus its last token (and minus the shared prefix, already in the
    # cache), run once; only its KV cache is kept.
    remainders = [list(ctx[skip:-1]) for ctx in contexts]
    prefix_mask = torch.ones((len(contexts), skip), dtype=torch.long, device=device)
    if any(remainders):
        ids, prefix_mask, positions = _left_padded(remainders, device, skip)
        # transformers 5 names the KV cache `cache` (input and output); `past_key_values` is its
        # deprecated alias, which warned once per process and will go.
        cache = model(
            input_ids=ids,
            attention_mask=prefix_mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        ).cache
    if cache is not None:
        cache.batch_select_indices(rows)  # one copy of its context's cache per continuation
    # 2. Each continuation, fed after its context's last token, right-padded.
    inputs = [[ctx[-1]] + cont[:-1] for ctx, cont, _ in chunk]
    width = max(len(x) for x in inputs)
    ids = torch.tensor([x + [0] * (width - len(x)) for x in inputs], device=device)
    cont_mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in inputs], device=device)
    start_pos = torch.tensor([len(ctx) - 1 for ctx, _, _ in chunk], device=device)
    # Right padding may run past the model's last position; those slots are masked, so clamp.
    positions = (start_pos[:, None] + torch.arange(width, device=device)[None, :]).clamp(max=limit - 1)
    logits = model(
        input_ids=ids,
        attention_mask=torch.cat([prefix_mask[rows], cont_mask], dim=1),
        position_ids=positions,
        cache=cache,
        use_cache=cache is not None,
    ).logits
    out = []
    for r, (_, cont, _) in enumerate(chunk):
        target = torch.tensor(cont, device=device)
        scored = logits[r, : len(cont)].float()  # log-softmax only at the scored positions
        out.append(torch.log_softmax(scored, dim=-1).gather(-1, target[:, None])[:, 0].cpu().numpy())
    return out


def loglikelihood(
    model,
    tokenizer,
    requests: Sequence[tuple[str, str]],
    batch_size: int | str = 16,
    reduce: str = "sum",
    chat: bool = False,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
    shared_prefix: bool = True,
) -> list[float]:
    """log P(continuation | context) for each ``(context, continuation)`` pair.

    Args:
        model: a causal LM (``AutoModelForCausalLM``), in eval mode.
        tokenizer: its tokenizer.
        requests: ``(context, continuation)`` pairs; see the module docstring for the conventions.
        batch_size: continuations per forward pass, or ``"auto"``: the largest that fits (see
            :mod:`llmdisc.lm.batch_sizes`; a batch that runs out of memory is halved either way).
        reduce: ``"sum"`` (the log-likelihood) or ``"mean"`` (per token).
        chat: the contexts are rendered chat prompts (see :func:`encode_pair`).
        max_tokens: the token budget per batch (rows x longest request; see the module
            docstring), ``batch_size`` capping its rows; None: batches of ``batch_size`` rows.
        shared_prefix: run the prefix every context shares once (see the module docstring);
            False: every context whole, the path before.

    Returns:
        One natural-log score per request, in the order given.
    """
    ids = [encode_pair(tokenizer, c, x, chat) for c, x in requests]
    return reduce_scores(score_ids(model, ids, batch_size, max_tokens, shared_prefix), reduce)


def token_logprobs(
    model,
    tokenizer,
    texts: Sequence[str],
    batch_size: int | str = 16,
    context: str = "",
    store: ScoreStore | None = None,
) -> list[TokenScores]:
    """Per-token log-probs of each text (given ``context``; by default from the document start).

    A text too long for the model's window is scored with :func:`perplexity`'s sliding window
    (without ``context``), so every one of its tokens is scored once, with a warning.
    ``store``: scores computed before, for this model (see :func:`score_ids`).
    """
    pairs = [encode_pair(tokenizer, context, t) for t in texts]
    limit = context_window(model)
    fits = [len(x) < limit for _, x in pairs]
    scores = iter(score_ids(model, [p for p, ok in zip(pairs, fits) if ok], batch_size, store=store))
    out = []
    for text, (_, cont), ok in zip(texts, pairs, fits):
        if ok:
            out.append(TokenScores(tokenizer.convert_ids_to_tokens(cont), next(scores).tolist()))
        else:
            logger.warning(
                "a text of %d tokens exceeds the model's %d: scored with a sliding window", len(cont), limit
            )
            out.append(perplexity(model, tokenizer, text, batch_size=batch_size))
    return out


def sequence_loglikelihood(model, tokenizer, texts: Sequence[str], batch_size: int | str = 16) -> list[float]:
    """log P(text) of each text, from the document start."""
    return loglikelihood(model, tokenizer, [("", t) for t in texts], batch_size)


def surprisal(
    model, tokenizer, texts: Sequence[str], batch_size: int | str = 16, store: ScoreStore | None = None
) -> np.ndarray:
    """Each text's mean per-token surprisal, -log P(token | the tokens before it) in nats, from the
    document start: how unexpected the LM finds the text, independent of its length.

    Args:
        store: scores computed before, for this model (see :func:`score_ids`).

    Returns:
        A ``(len(texts),)`` float64 array (0 for a text of no tokens).
    """
    scores = token_logprobs(model, tokenizer, texts, batch_size, store=store)
    return np.array([-float(np.mean(s.logprobs)) if s.logprobs else 0.0 for s in scores], dtype=np.float64)


def perplexity(
    model, tokenizer, text: str, window: int | None = None, stride: int | None = None, batch_size: int | str = 8
) -> TokenScores:
    """Per-token scores of a long text with a sliding window: each token scored once, with context.

    The text is cut into spans of ``stride`` tokens; each span is scored given the up to
    ``window - stride`` tokens before it (the first from the document start).

    Args:
        text: the text.
        window: tokens the model sees at once (default: its maximum length).
        stride: new tokens scored per window (default: half the window).

    Returns:
        ``TokenScores`` whose ``perplexity`` is exp(-mean log-prob).
    """
    window = min(window or context_window(model), context_window(model))
    stride = stride or max(window // 2, 1)
    if not 0 < stride < window:
        raise LlmdiscError(f"stride must be in [1, window - 1], got {stride} for window {window}")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    requests = []
    for begin in range(0, len(ids), stride):
        span = ids[begin : begin + stride]
        context = ids[max(0, begin - (window - len(span))) : begin] or [document_start_id(tokenizer)]
        requests.append((context, span))
    scores = score_ids(model, requests, batch_size)
    return TokenScores(tokenizer.convert_ids_to_tokens(ids), np.concatenate(scores).tolist() if scores else [])
