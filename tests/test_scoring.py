"""Scoring: lm-eval conventions, batch independence, prefix reuse, shared prefixes, sliding-window perplexity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_models import save_tiny_decoder

from llmdisc.lm.loading import load_model
from llmdisc.lm.loglikelihood import (
    MIN_SHARED_PREFIX,
    _common_prefix,
    document_start_id,
    encode_pair,
    loglikelihood,
    perplexity,
    sequence_loglikelihood,
    token_logprobs,
)

REQUESTS = [
    ("the film was wonderful . It was", " great"),
    ("the film was wonderful . It was", " terrible"),
    ("a dull , lifeless mess . It was", " great"),
    ("a dull , lifeless mess . It was", " terrible"),
    ("", "hello there"),
    ("Review: fine\nSentiment: ", "negative"),
    ("A terrible one .", " a long review of a film that goes on and on about the acting"),
    ("short", " x"),
]


def naive(model, tokenizer, context, continuation):
    """One unpadded forward pass over context + continuation, no cache: the reference."""
    ctx, cont = encode_pair(tokenizer, context, continuation)
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([ctx + cont])).logits[0].float(), -1)
    return sum(logprobs[len(ctx) - 1 + j, t].item() for j, t in enumerate(cont))


def test_matches_a_plain_forward_pass(tiny_lm):
    model, tokenizer = tiny_lm
    got = loglikelihood(model, tokenizer, REQUESTS, batch_size=4)
    np.testing.assert_allclose(got, [naive(model, tokenizer, *r) for r in REQUESTS], atol=1e-4)


def test_batch_size_does_not_change_results(tiny_lm):
    model, tokenizer = tiny_lm
    one = token_logprobs(model, tokenizer, [c + x for c, x in REQUESTS], batch_size=1)
    many = token_logprobs(model, tokenizer, [c + x for c, x in REQUESTS], batch_size=16)
    for a, b in zip(one, many):
        np.testing.assert_allclose(a.logprobs, b.logprobs, atol=1e-4)
    np.testing.assert_allclose(
        loglikelihood(model, tokenizer, REQUESTS, 1), loglikelihood(model, tokenizer, REQUESTS, 16), atol=1e-4
    )


def test_space_belongs_to_the_continuation(tiny_lm):
    model, tokenizer = tiny_lm
    assert encode_pair(tokenizer, "It was ", "great") == encode_pair(tokenizer, "It was", " great")
    ctx, cont = encode_pair(tokenizer, "It was", " great")
    assert tokenizer.decode(cont) == " great" and tokenizer.decode(ctx) == "It was"


def test_continuation_is_whole_minus_context(tiny_lm):
    _, tokenizer = tiny_lm
    # A boundary inside a word: the continuation's tokens come from tokenizing the whole string.
    ctx, cont = encode_pair(tokenizer, "wonder", "ful film")
    whole = tokenizer("wonderful film")["input_ids"]
    assert ctx + cont == whole[: len(ctx)] + whole[len(ctx) :] and ctx == tokenizer("wonder")["input_ids"]


def test_empty_context_scores_from_the_document_start(tiny_lm):
    model, tokenizer = tiny_lm
    ctx, cont = encode_pair(tokenizer, "", "hello")
    assert ctx == [tokenizer.convert_tokens_to_ids("<|endoftext|>")]
    assert sequence_loglikelihood(model, tokenizer, ["hello"])[0] == pytest.approx(
        naive(model, tokenizer, "", "hello"), abs=1e-5
    )


def test_bos_is_added_exactly_once(tiny_gpt2):
    from tokenizers import processors
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2)
    bos = tokenizer.bos_token_id
    # Make it add BOS the way Llama-2's tokenizer does.
    tokenizer._tokenizer.post_processor = processors.TemplateProcessing(
        single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", bos)]
    )
    assert tokenizer("It was")["input_ids"][0] == bos
    ctx, cont = encode_pair(tokenizer, "It was", " great")
    assert ctx.count(tokenizer.bos_token_id) == 1 and ctx[0] == tokenizer.bos_token_id
    assert tokenizer.bos_token_id not in cont


def test_a_shared_context_runs_once(tiny_lm):
    model, tokenizer = tiny_lm
    calls = []
    handle = model.register_forward_hook(lambda m, args, kwargs_out: calls.append(1))
    try:
        loglikelihood(model, tokenizer, [("one shared context here", f" label{i}") for i in range(6)], batch_size=16)
    finally:
        handle.remove()
    assert len(calls) == 2  # the context once, then all six continuations in one batch


DEMOS = "Review: a fine film\nSentiment: positive\n\nReview: dull and long\nSentiment: negative\n\n"
TEXTS = [f"text number {i} {'very ' * (i % 5)}good" for i in range(12)]
SHARED = {
    # The shared part left of what varies (k demonstrations before every prompt): it runs once.
    "direct, shared part left": [(DEMOS + f"Review: {t}\nSentiment:", w) for t in TEXTS for w in (" good", " bad")],
    "channel, shared part left": [
        (DEMOS + f"Sentiment: {w}\nReview:", " " + t) for t in TEXTS for w in ("good", "bad")
    ],
    # Right of it (the text or the label first): only what every context starts with is shared.
    "direct, shared part right": [(f"{t}\n" + DEMOS + "Sentiment:", w) for t in TEXTS for w in (" good", " bad")],
    "channel, shared part right": [
        (f"Sentiment: {w}\n" + DEMOS + "Review:", " " + t) for t in TEXTS for w in ("good", "bad")
    ],
}


def _scored_with_and_without_the_prefix(model, tokenizer, requests):
    """({shared_prefix: input shapes of every forward pass}, {shared_prefix: scores}), both ways.

    batch_size 6: several batches, so a prefix is reused across them.
    """
    fed, scores = {}, {}
    for on in (False, True):
        shapes = fed[on] = []
        hook = model.register_forward_pre_hook(
            lambda m, args, kwargs, shapes=shapes: shapes.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
        )
        try:
            scores[on] = loglikelihood(model, tokenizer, requests, batch_size=6, shared_prefix=on)
        finally:
            hook.remove()
    return fed, scores


@pytest.mark.parametrize("case", list(SHARED))
def test_a_shared_prefix_runs_once_and_scores_as_every_prompt_whole(tiny_lm, case):
    model, tokenizer = tiny_lm
    requests = SHARED[case]
    contexts = list(dict.fromkeys(tuple(encode_pair(tokenizer, c, x)[0]) for c, x in requests))
    shared = len(_common_prefix(contexts))
    if "left" in case:  # the demonstrations, at least
        assert shared >= len(tokenizer(DEMOS.rstrip())["input_ids"]) - 1
    fed, scores = _scored_with_and_without_the_prefix(model, tokenizer, requests)
    np.testing.assert_allclose(scores[True], scores[False], atol=1e-4)
    whole = scores[False]
    np.testing.assert_allclose(whole, [naive(model, tokenizer, *r) for r in requests], atol=1e-4)
    if not shared:  # nothing long enough to share: every prompt ran whole, as before
        assert fed[True] == fed[False]
        return
    # The prefix ran once, alone, and the batches fed only what follows it.
    assert fed[True].count((1, shared)) == 1 and (1, shared) not in fed[False]
    tokens = {on: sum(rows * width for rows, width in shapes) for on, shapes in fed.items()}
    assert tokens[True] < tokens[False] - (len(fed[False]) // 2 - 1) * shared


def test_the_shared_prefix_leaves_each_context_its_last_token_and_is_long_enough_to_pay():
    head = tuple(range(100, 100 + MIN_SHARED_PREFIX))
    assert _common_prefix([head + (1, 2, 3), head + (1, 2, 3, 4)]) == [*head, 1, 2]
    assert _common_prefix([head + (6, 7), head + (6, 9), head + (8,)]) == list(head)
    assert _common_prefix([head + (6,), head + (6, 9)]) == list(head)  # the shorter keeps its last token
    assert _common_prefix([head + (1, 2, 3)]) == []  # one context: it runs whole, once a batch
    assert _common_prefix([head[:-1] + (1,), head[:-1] + (2,)]) == []  # too short to pay for itself
    assert _common_prefix([(1, 2), (3, 4)]) == []


def test_a_template_sharing_only_its_first_word_runs_every_prompt_whole(tiny_lm):
    model, tokenizer = tiny_lm
    openings = ["great", "boring", "fine", "weak", "cold", "a joy", "slow", "dull", "witty", "long", "moving", "odd"]
    requests = [(f"R: {t} film\nSentiment:", " good") for t in openings]  # only "R: " is shared
    fed, scores = _scored_with_and_without_the_prefix(model, tokenizer, requests)
    assert fed[True] == fed[False]
    np.testing.assert_array_equal(scores[True], scores[False])  # the same path: the same numbers to the last bit


def test_sliding_window_models_run_every_prompt_whole(tiny_gpt2, tmp_path, caplog):
    save_tiny_decoder(tmp_path, tiny_gpt2, "mistral", sliding_window=16)
    model, tokenizer = load_model(str(tmp_path))
    requests = SHARED["direct, shared part left"]
    with caplog.at_level("INFO", logger="llmdisc.lm.loglikelihood"):
        shared = loglikelihood(model, tokenizer, requests, batch_size=6)
    assert "sliding-window layers: shared prefixes run with every text" in caplog.text
    whole = loglikelihood(model, tokenizer, requests, batch_size=6, shared_prefix=False)
    np.testing.assert_allclose(shared, whole, atol=1e-4)


def test_perplexity_sliding_window_scores_each_token_once(tiny_lm):
    model, tokenizer = tiny_lm
    text = " ".join(["the cat sat on the mat and looked at the dog ."] * 8)
    n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    full = perplexity(model, tokenizer, text, window=128, stride=127)
    windowed = perplexity(model, tokenizer, text, window=32, stride=16)
    assert len(full.logprobs) == len(windowed.logprobs) == n
    # Tokens in the first window see the same context either way.
    np.testing.assert_allclose(full.logprobs[:16], windowed.logprobs[:16], atol=1e-4)
    if n <= 127:
        assert full.loglikelihood == pytest.approx(sequence_loglikelihood(model, tokenizer, [text])[0], abs=1e-3)
    assert windowed.perplexity > 0 and np.isfinite(windowed.perplexity)


def test_longer_than_the_window_is_cut_with_a_warning(tiny_lm, caplog):
    model, tokenizer = tiny_lm
    with caplog.at_level("WARNING"):
        (score,) = loglikelihood(model, tokenizer, [("word " * 300, " end")])
    assert np.isfinite(score) and "exceeds the model's 128" in caplog.text


@pytest.mark.slow
def test_smollm2_batch_independence_and_document_start():
    model, tokenizer = load_model("smollm2-135m")
    assert document_start_id(tokenizer) == tokenizer.convert_tokens_to_ids("<|endoftext|>") == 0
    assert tokenizer.bos_token == "<|im_start|>"  # what the instruct tokenizer calls BOS; not used
    one = token_logprobs(model, tokenizer, [c + x for c, x in REQUESTS], batch_size=1)
    many = token_logprobs(model, tokenizer, [c + x for c, x in REQUESTS], batch_size=16)
    # The tiny models above agree to 1e-4 absolute. Through SmolLM2's 30 float32 layers, CPU
    # GEMM kernels round differently for a 3-token and a 16-token (padded) batch: one 576x1536
    # linear layer alone differs by ~4e-5 between M=2 and M=16 rows. Log-probs of about -10
    # then differ by ~1.4e-4, i.e. 1e-5 relative, so the check is 1e-4 plus 1e-5 relative.
    for a, b in zip(one, many):
        np.testing.assert_allclose(a.logprobs, b.logprobs, rtol=1e-5, atol=1e-4)


def test_equal_to_lm_evaluation_harness(tiny_lm):
    """The peer check: lm-eval's HF backend on the same model and pairs, to 1e-3."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    model, tokenizer = tiny_lm
    # lm-eval starts an empty context from BOS when there is one; we use <|endoftext|> (see
    # llmdisc.lm.loglikelihood), which is also this tokenizer's BOS, so the two agree here.
    peer = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=4)
    instances = [Instance(request_type="loglikelihood", doc={}, arguments=r, idx=i) for i, r in enumerate(REQUESTS)]
    theirs = [ll for ll, _ in peer.loglikelihood(instances, disable_tqdm=True)]
    np.testing.assert_allclose(loglikelihood(model, tokenizer, REQUESTS, batch_size=4), theirs, atol=1e-3)


def test_single_token_continuations_take_one_pass(tiny_lm):
    model, tokenizer = tiny_lm
    words = [
        w
        for w in (" the", " a", " and", " is", " was")
        if len(tokenizer(w, add_special_tokens=False)["input_ids"]) == 1
    ]
    assert len(words) >= 2
    requests = [(ctx, w) for ctx in ("the food was", "a long and dull film") for w in words]
    calls = []
    handle = model.register_forward_hook(lambda m, args, out: calls.append(1))
    try:
        got = loglikelihood(model, tokenizer, requests, batch_size=32)
    finally:
        handle.remove()
    assert len(calls) == 1
    np.testing.assert_allclose(got, [naive(model, tokenizer, *r) for r in requests], atol=1e-5)
