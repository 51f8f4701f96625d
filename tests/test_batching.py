"""Batches that fit: batch_size auto and halving on out-of-memory, with the error simulated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import llmdisc
import llmdisc.lm.loglikelihood
from llmdisc import LlmdiscError
from llmdisc.lm.batch_sizes import AUTO_START, check_batch_size, run_in_batches


def oom() -> torch.cuda.OutOfMemoryError:
    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def limited(fn, max_items: int, seen: list[int]):
    """``fn`` as if the device held at most ``max_items`` per batch; records the batch sizes tried."""

    def run(batch):
        seen.append(len(batch))
        if len(batch) > max_items:
            raise oom()
        return fn(batch)

    return run


def test_a_fixed_batch_that_runs_out_of_memory_is_halved_and_the_smaller_size_kept(caplog):
    seen: list[int] = []
    out = run_in_batches(limited(lambda b: [x * 2 for x in b], 5, seen), list(range(40)), 16)
    assert out == [x * 2 for x in range(40)]
    assert seen[:3] == [16, 8, 4] and set(seen[3:]) == {4}
    assert "out of memory with a batch of 16: continuing with batches of 8" in caplog.text


def test_auto_starts_large_and_finds_what_fits():
    seen: list[int] = []
    out = run_in_batches(limited(lambda b: list(b), 50, seen), list(range(300)), "auto")
    assert out == list(range(300))
    assert seen[0] == AUTO_START and max(s for s in seen if s <= 50) == 32
    assert all(s <= 32 for s in seen[seen.index(32) :])  # no retry of a size that failed


def test_auto_fits_more_short_items_than_long_ones():
    # 100 items of 64 tokens, then 100 of 8; the device holds 1024 tokens per batch.
    lengths = [64] * 100 + [8] * 100
    seen: list[tuple[int, int]] = []

    def run(batch):
        tokens = len(batch) * lengths[batch[0]]
        seen.append((len(batch), lengths[batch[0]]))
        if tokens > 1024:
            raise oom()
        return list(batch)

    assert run_in_batches(run, list(range(200)), "auto", length=lambda i: lengths[i]) == list(range(200))
    long_ok = max(n for n, length in seen if length == 64 and n * 64 <= 1024)
    short_ok = max(n for n, length in seen if length == 8 and n * 8 <= 1024)
    # Halving finds at least half the 16 that fit; the short items get the same tokens per batch.
    assert 8 < long_ok <= 16 and short_ok > 4 * long_ok


def test_out_of_memory_with_one_item_is_one_line():
    with pytest.raises(LlmdiscError, match="out of memory with a batch of one item"):
        run_in_batches(limited(list, 0, []), [1, 2, 3], 2)


def test_other_errors_are_not_mistaken_for_memory():
    def broken(batch):
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        run_in_batches(broken, [1, 2], 2)


@pytest.mark.parametrize("value, expected", [(8, 8), ("8", 8), ("auto", "auto"), ("AUTO", "auto")])
def test_batch_size_values(value, expected):
    assert check_batch_size(value) == expected


@pytest.mark.parametrize("value", [0, -1, "many", 2.5, True])
def test_bad_batch_sizes_are_one_line(value):
    with pytest.raises(LlmdiscError, match="positive integer or 'auto'"):
        check_batch_size(value)


def test_scoring_recovers_from_out_of_memory_with_the_same_scores(tiny_gpt2, monkeypatch):
    model, tokenizer = llmdisc.load_model(str(tiny_gpt2))
    requests = [(f"Review {i}: a {'long ' * (i % 5)}text.", " great") for i in range(20)]
    expected = llmdisc.loglikelihood(model, tokenizer, requests, batch_size=4)
    seen: list[int] = []
    monkeypatch.setattr(
        llmdisc.lm.loglikelihood, "_score_chunk", _limited_chunk(llmdisc.lm.loglikelihood._score_chunk, 3, seen)
    )
    for batch_size in (16, "auto"):
        seen.clear()
        got = llmdisc.loglikelihood(model, tokenizer, requests, batch_size=batch_size)
        np.testing.assert_allclose(got, expected, atol=1e-4)
        assert max(seen) > 3 and any(s <= 3 for s in seen)


def _limited_chunk(real, max_items: int, seen: list[int]):
    def run(model, chunk, limit, *shared):
        seen.append(len(chunk))
        if len(chunk) > max_items:
            raise oom()
        return real(model, chunk, limit, *shared)

    return run


def test_encoder_prediction_recovers_from_out_of_memory(tiny_bert, demo):
    from llmdisc.classifiers.logits import predict_logits

    model, tokenizer = llmdisc.load_model(str(tiny_bert), task="sequence-classification", num_labels=2)
    texts = list(demo["test"]["text"][:20])
    expected, _ = predict_logits(model, tokenizer, texts, 64, 4)
    real_forward, seen = model.forward, []

    def forward(**batch):
        seen.append(len(batch["input_ids"]))
        if len(batch["input_ids"]) > 5:
            raise oom()
        return real_forward(**batch)

    model.forward = forward
    for batch_size in (16, "auto"):
        got, _ = predict_logits(model, tokenizer, texts, 64, batch_size)
        np.testing.assert_allclose(got, expected, atol=1e-4)
    assert max(seen) > 5


# ---- token budgets (issue 15, item 2) ------------------------------------------------------------


def test_token_budget_batches_never_exceed_it_and_batch_size_caps_the_rows():
    from llmdisc.lm.batch_sizes import padded_tokens

    rng = np.random.default_rng(0)
    lengths = sorted(rng.integers(1, 120, size=300).tolist(), reverse=True) + [1200]  # one item over the budget
    lengths.sort(reverse=True)
    seen: list[list[int]] = []
    out = run_in_batches(
        lambda b: seen.append(b) or list(b),
        list(range(len(lengths))),
        32,
        length=lambda i: lengths[i],
        max_tokens=1000,
    )
    assert out == list(range(len(lengths)))
    for batch in seen:
        assert len(batch) <= 32
        assert len(batch) == 1 or padded_tokens([lengths[i] for i in batch]) <= 1000
    assert [len(b) for b in seen[:1]] == [1]  # the 1200-token item runs alone
    # Short items run many to a batch, long ones few; the cap binds on the shortest.
    assert len(seen[1]) < len(seen[-2]) and max(len(b) for b in seen) == 32


def test_token_budget_halves_on_out_of_memory():
    lengths = [10] * 200
    seen: list[int] = []

    def run(batch):
        seen.append(len(batch))
        if len(batch) * 10 > 300:  # the device holds 300 tokens
            raise oom()
        return list(batch)

    assert run_in_batches(run, list(range(200)), 64, length=lambda i: lengths[i], max_tokens=1000) == list(range(200))
    # 640 tokens fail, then 320 (half the failed batch's 640); 160 fit and are kept.
    assert seen[:3] == [64, 32, 16] and set(seen[3:-1]) == {16} and sum(seen[2:]) == 200


@pytest.mark.parametrize("value, expected", [(None, None), ("none", None), (512, 512), ("512", 512)])
def test_max_tokens_values(value, expected):
    from llmdisc.lm.batch_sizes import check_max_tokens

    assert check_max_tokens(value) == expected


def test_bad_max_tokens_is_one_line():
    from llmdisc.lm.batch_sizes import check_max_tokens

    with pytest.raises(LlmdiscError, match="max_tokens must be a positive integer or none"):
        check_max_tokens(0)
    with pytest.raises(LlmdiscError, match="zeroshot.max_tokens must be a positive integer or none"):
        llmdisc.get_classifier("zeroshot", max_tokens=0)


def test_token_budget_scores_equal_the_fixed_batches_and_stay_within_it(tiny_lm, monkeypatch):
    """The new path (sorted by length, sized by tokens) against the old (batch_size rows), to 1e-5."""
    model, tokenizer = tiny_lm
    words = [" great", " terrible", " not bad at all"]
    texts = [f"Review {i}: a {'very long and winding ' * (i % 7)}text." for i in range(30)]
    requests = [(f"{t}\nSentiment:", w) for t in texts for w in words]  # direct: one context, several words
    requests += [(f"Sentiment:{w}\nReview:", " " + t) for t in texts for w in words]  # channel: texts scored
    old = llmdisc.loglikelihood(model, tokenizer, requests, batch_size=16, max_tokens=None)
    seen: list[int] = []
    real = llmdisc.lm.loglikelihood._score_chunk

    def recording(model, chunk, limit, *shared):
        seen.append(len(chunk) * max(len(ctx) + len(cont) for ctx, cont, _ in chunk))
        return real(model, chunk, limit, *shared)

    monkeypatch.setattr(llmdisc.lm.loglikelihood, "_score_chunk", recording)
    new = llmdisc.loglikelihood(model, tokenizer, requests, batch_size=64, max_tokens=300)
    np.testing.assert_allclose(new, old, atol=1e-5)
    assert max(seen) <= 300 and len(seen) < len(requests) / 4
