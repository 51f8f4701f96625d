"""One likelihood cache per comparison: each prompt scored once, never a score for another model,
dtype, tokenizer or template, and bad cache files ignored with one warning."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3

import numpy as np
import pytest
import torch

import llmdisc
import llmdisc.comparison.costs as costs
import llmdisc.lm.loglikelihood as scoring
from llmdisc.lm.likelihood_cache import CACHE_FILE, LikelihoodCache, cache_path, shared_likelihoods
from llmdisc.lm.loading import load_model, load_tokenizer
from llmdisc.lm.loglikelihood import encode_pair, score_ids

REQUESTS = [
    ("Review: a fine film\nSentiment:", " good"),
    ("Review: a fine film\nSentiment:", " bad"),
    ("Label: bad\nText:", " a dull and lifeless mess"),
]


def _ids(tokenizer, requests=REQUESTS):
    return [encode_pair(tokenizer, c, x) for c, x in requests]


@pytest.fixture
def counted(monkeypatch):
    """Every request the model really scores (after the cache) for a result, in order.

    A comparison's cost timings score again on purpose, with the cache bypassed (a cached repeat
    would time nothing): those requests are left out.
    """
    asked: list[tuple] = []
    timing = [0]
    real_score, real_bypassed = scoring._score_ids, costs.bypassed

    def counting(model, requests, *args):
        if not timing[0]:
            asked.extend((tuple(c), tuple(x)) for c, x in requests)
        return real_score(model, requests, *args)

    @contextlib.contextmanager
    def timed():
        timing[0] += 1
        try:
            with real_bypassed():
                yield
        finally:
            timing[0] -= 1

    monkeypatch.setattr(scoring, "_score_ids", counting)
    monkeypatch.setattr(costs, "bypassed", timed)
    return asked


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "llmdisc.lm.likelihood_cache"]


def test_a_stored_score_is_the_computed_one_and_is_not_computed_again(tiny_lm, tmp_path, counted):
    model, tokenizer = tiny_lm
    ids = _ids(tokenizer)
    fresh = score_ids(model, ids)
    cache = LikelihoodCache(tmp_path / CACHE_FILE)
    store = cache.for_model(model, tokenizer)
    first = score_ids(model, ids, store=store)
    counted.clear()
    again = score_ids(model, ids + [ids[0]], store=cache.for_model(model, tokenizer))
    assert counted == []  # every request came from the file
    for a, b in zip(again, [*first, first[0]]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(first, fresh):
        np.testing.assert_array_equal(a, b)
    cache.close()
    # Another process (a --resume) reads the same file.
    reopened = LikelihoodCache(tmp_path / CACHE_FILE)
    assert all(s is not None for s in reopened.for_model(model, tokenizer).get(ids))


def _other_weights(folder, tmp_path):
    """The same model folder's name with other weights: the folder rewritten in place."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    model.save_pretrained(folder)


@pytest.mark.parametrize("change", ["weights", "dtype", "tokenizer", "template"])
def test_never_a_score_for_another_model_dtype_tokenizer_or_template(change, tiny_gpt2, tmp_path, caplog):
    folder = tmp_path / "model"
    shutil.copytree(tiny_gpt2, folder)
    model, tokenizer = load_model(str(folder))
    cache = LikelihoodCache(tmp_path / CACHE_FILE)
    ids = _ids(tokenizer)
    score_ids(model, ids, store=cache.for_model(model, tokenizer))
    requests = REQUESTS
    if change == "weights":
        _other_weights(folder, tmp_path)
        model, tokenizer = load_model(str(folder))
    elif change == "dtype":
        model, tokenizer = load_model(str(folder), dtype="bfloat16", device="cpu")
    elif change == "tokenizer":
        tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    else:  # another template: other ids
        requests = [(c.replace("Review:", "Text:"), x) for c, x in REQUESTS[:2]]
    ids = _ids(tokenizer, requests)
    with caplog.at_level("WARNING"):
        store = cache.for_model(model, tokenizer)
        assert all(s is None for s in store.get(ids))
        got = score_ids(model, ids, store=store)
    for a, b in zip(got, score_ids(model, ids)):
        np.testing.assert_array_equal(a, b)
    warnings = _warnings(caplog)
    if change in ("weights", "dtype", "tokenizer"):  # the same name, made otherwise: said once
        assert len(warnings) == 1 and "with other weights, another dtype or another tokenizer" in warnings[0]
        assert "they are not used" in warnings[0]
    else:
        assert warnings == []


def test_weights_changed_in_place_are_a_new_model(tiny_gpt2, tmp_path):
    model, tokenizer = load_model(str(tiny_gpt2))
    cache = LikelihoodCache(tmp_path / CACHE_FILE)
    ids = _ids(tokenizer)
    before = score_ids(model, ids, store=cache.for_model(model, tokenizer))
    with torch.no_grad():
        next(model.parameters()).mul_(1.5)  # as a training step would
    after = score_ids(model, ids, store=cache.for_model(model, tokenizer))
    np.testing.assert_allclose(after[0], score_ids(model, ids)[0])
    assert not np.allclose(after[0], before[0])


def test_a_cache_from_another_version_is_dropped_with_one_warning(tiny_gpt2, tmp_path, caplog, counted):
    model, tokenizer = load_model(str(tiny_gpt2))
    path = tmp_path / CACHE_FILE
    ids = _ids(tokenizer)
    cache = LikelihoodCache(path)
    score_ids(model, ids, store=cache.for_model(model, tokenizer))
    cache.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '0.0.1' WHERE key = 'llmdisc'")
        # A damaged score of the right key: were the file read, it would be returned.
        db.execute("UPDATE scores SET logprobs = ?", (np.full(1, 9.0, dtype="<f4").tobytes(),))
    counted.clear()
    with caplog.at_level("WARNING"):
        got = score_ids(model, ids, store=LikelihoodCache(path).for_model(model, tokenizer))
    assert len(counted) == len(ids)  # all scored again
    for a, b in zip(got, score_ids(model, ids)):
        np.testing.assert_array_equal(a, b)
    (warning,) = _warnings(caplog)
    assert "made by llmdisc 0.0.1" in warning and "not used" in warning
    with sqlite3.connect(path) as db:  # it started again, under this version
        assert dict(db.execute("SELECT key, value FROM meta"))["llmdisc"] == llmdisc.__version__


@pytest.mark.parametrize("keep", [0.5, 0.02, "garbage"])
def test_a_truncated_or_damaged_file_is_never_used(keep, tiny_gpt2, tmp_path, caplog):
    model, tokenizer = load_model(str(tiny_gpt2))
    path = tmp_path / CACHE_FILE
    ids = _ids(tokenizer)
    cache = LikelihoodCache(path)
    # Enough entries that the file spans many pages.
    many = ids + [encode_pair(tokenizer, f"Review: film {i}\nSentiment:", " good") for i in range(300)]
    score_ids(model, many, store=cache.for_model(model, tokenizer))
    cache.close()
    data = path.read_bytes()
    path.write_bytes(b"this is not a database" * 50 if keep == "garbage" else data[: int(len(data) * keep)])
    with caplog.at_level("WARNING"):
        store = LikelihoodCache(path).for_model(model, tokenizer)
        got = score_ids(model, ids, store=store)
        again = score_ids(model, ids, store=store)
    expected = score_ids(model, ids)
    for a, b, c in zip(got, again, expected):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, c)
    warnings = _warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "not a readable cache" in warnings[0] or "cannot be used" in warnings[0]


def test_a_stored_entry_of_the_wrong_length_is_not_a_score(tiny_gpt2, tmp_path):
    model, tokenizer = load_model(str(tiny_gpt2))
    cache = LikelihoodCache(tmp_path / CACHE_FILE)
    store = cache.for_model(model, tokenizer)
    ids = _ids(tokenizer)[2:]  # a multi-token continuation
    store.put(ids, [np.zeros(1, dtype=np.float32)])
    assert store.get(ids)[0] is None


# ---- in a comparison ---------------------------------------------------------------------------


def _demo_small():
    # 24 test examples: a comparison refuses a split below MIN_TEST_EXAMPLES (20), too few for its verdict.
    data = llmdisc.load_text_dataset("demo")
    return type(data)({"train": data["train"], "test": llmdisc.stratified_subset(data["test"], 24, seed=0)})


def _approaches(model):
    # pick_prompt: false keeps the default prompt: a comparison's pick could choose another
    # template for each of them, and what they share is then a matter of the tiny model's weights.
    keep = {"approach": "zeroshot", "model": model, "mode": "direct", "pick_prompt": False}
    return {
        "zeroshot_direct": keep,
        "zeroshot_calibrated": {**keep, "calibrate": True},
        "zeroshot_two_templates": {
            "approach": "zeroshot",
            "model": model,
            "mode": "direct",
            "templates": ["Text: {text}\nLabel: {label}", "Review: {text}\nSentiment: {label}"],
        },
    }


def _probabilities(records, name):
    (record,) = [r for r in records if r.variant == name]
    return record.per_example.probabilities


def test_a_comparison_scores_each_prompt_once_and_changes_no_result(tiny_gpt2, tmp_path, counted):
    data = _demo_small()
    approaches = _approaches(str(tiny_gpt2))
    settings = dict(splits=["test"], drop_rates=[0.0, 0.5], robustness_split="test", selection_split=None)
    alone = {}
    for name, config in approaches.items():  # each in a comparison of its own: nothing shared
        counted.clear()
        alone[name] = (llmdisc.compare({name: config}, data, **settings), len(counted))
    counted.clear()
    records = llmdisc.compare(approaches, data, output_dir=tmp_path / "o", **settings)
    for name in approaches:
        np.testing.assert_array_equal(_probabilities(records, name), _probabilities(alone[name][0], name))
        (shared,) = [r for r in records if r.variant == name]
        (own,) = [r for r in alone[name][0] if r.variant == name]
        assert shared.metrics == own.metrics and shared.robustness == own.robustness
    # Each distinct request once: the calibrated approach added only its content-free prompts,
    # the two templates only the second template's prompts.
    assert len(counted) == len(set(counted))
    assert len(counted) < sum(n for _, n in alone.values()) * 0.6
    assert cache_path(tmp_path / "o").is_file()


def test_resume_and_an_added_approach_reuse_the_file(tiny_gpt2, tmp_path, counted):
    data = _demo_small()
    approaches = _approaches(str(tiny_gpt2))
    first = {"zeroshot_direct": approaches["zeroshot_direct"]}
    settings = dict(splits=["test"], drop_rates=[0.0], selection_split=None, output_dir=tmp_path / "o")
    counted.clear()
    llmdisc.compare(first, data, **settings)
    scored = len(counted)
    counted.clear()
    records = llmdisc.compare(
        {**first, "zeroshot_calibrated": approaches["zeroshot_calibrated"]}, data, resume=True, **settings
    )
    # The added approach scored only the prompts zeroshot_direct had not: its content-free ones.
    tokenizer = load_tokenizer(str(tiny_gpt2))
    assert len(counted) == 2 and all("N/A" in tokenizer.decode(c) for c, _ in counted)
    assert {r.variant for r in records} == {"zeroshot_direct", "zeroshot_calibrated", "majority"}  # and the floor
    # --overwrite starts again: the file goes with the cached runs.
    counted.clear()
    llmdisc.compare(first, data, overwrite=True, **settings)
    assert len(counted) == scored


def test_outside_a_comparison_nothing_is_cached(tiny_gpt2, counted):
    clf = llmdisc.get_classifier("zeroshot", model=str(tiny_gpt2)).fit(_demo_small()["train"])
    texts = ["a fine film", "a dull one"]
    clf.predict_proba(texts)
    n = len(counted)
    clf.predict_proba(texts)
    assert len(counted) == 2 * n
    with shared_likelihoods(None):  # a comparison without an output folder: in memory
        clf.predict_proba(texts)
        clf.predict_proba(texts)
    assert len(counted) == 3 * n


def test_lora_heads_do_not_use_the_cache(tiny_gpt2, tmp_path):
    data = _demo_small()
    llmdisc.compare(
        {"lora_verbalizer": {"approach": "lora", "model": str(tiny_gpt2), "epochs": 1, "sizes": [8]}},
        data,
        splits=["test"],
        drop_rates=[],
        selection_split=None,
        output_dir=tmp_path / "o",
    )
    assert not cache_path(tmp_path / "o").exists()  # nothing bound to it: no file


def test_the_file_holds_no_pickle(tiny_gpt2, tmp_path):
    model, tokenizer = load_model(str(tiny_gpt2))
    cache = LikelihoodCache(tmp_path / CACHE_FILE)
    score_ids(model, _ids(tokenizer), store=cache.for_model(model, tokenizer))
    cache.close()
    with sqlite3.connect(tmp_path / CACHE_FILE) as db:
        (description,) = [json.loads(d) for (d,) in db.execute("SELECT description FROM models")]
        blobs = [b for (b,) in db.execute("SELECT logprobs FROM scores")]
    assert set(description) == {"name", "weights", "dtype", "device", "tokenizer", "scoring"}
    assert description["dtype"] == "float32" and len(description["weights"]) == 64
    assert all(len(b) % 4 == 0 and not b.startswith(b"\x80") for b in blobs)  # float32 bytes, not a pickle


def test_selection_scores_the_examples_of_a_smaller_size_once(tiny_gpt2, counted):
    data = _demo_small()
    select = {"approach": "zeroshot", "model": str(tiny_gpt2), "select": True, "select_folds": 2}
    settings = dict(splits=["test"], drop_rates=[], selection_split=None)
    apart = 0
    for size in (8, 16):  # each size in a comparison of its own
        counted.clear()
        llmdisc.compare({"sel": {**select, "sizes": [size]}}, data, **settings)
        apart += len(counted)
    counted.clear()
    llmdisc.compare({"sel": {**select, "sizes": [8, 16]}}, data, **settings)
    assert len(counted) == len(set(counted))  # no request twice
    # The 8 examples of the first size are inside the second's (nested subsets): scored once,
    # for every candidate template and word; the test split's prompts too.
    assert len(counted) <= apart - 8 * 2
