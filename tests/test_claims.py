"""The claims about synthetic data, anomaly detection, LoRA's heads and the zero-shot templates'
spread: statistics on constructed cases with known answers, sentences that follow the numbers, and
the pieces of the comparison that measure them (on tiny models)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_analysis import GOLD, record

import llmdisc
from llmdisc.analysis.analyse import analyse
from llmdisc.analysis.claims import CONTRADICTED, INCONCLUSIVE, NOT_TESTED, SUPPORTED, SYNTHETIC_MARGIN
from llmdisc.api.records import RunRecord
from llmdisc.comparison.anomaly import (
    SHUFFLED,
    AnomalyScores,
    anomaly_auroc,
    detect_anomalies,
    rank_auroc,
    shuffle_words,
)
from llmdisc.errors import LlmdiscError
from llmdisc.reporting.report import report_tables


def scores(normal, anomalous) -> AnomalyScores:
    s = np.concatenate([normal, anomalous]).astype(float)
    return AnomalyScores("lm", "test", SHUFFLED, s, np.repeat([False, True], [len(normal), len(anomalous)]))


def claim_of(analysis, start: str):
    (claim,) = [c for c in analysis.claims if c.claim.startswith(start)]
    return claim


def test_auroc_is_1_for_separated_surprisals_and_one_half_for_identical_ones():
    separated = anomaly_auroc(scores(np.linspace(1, 2, 50), np.linspace(3, 4, 50)))
    assert (separated.low, separated.value, separated.high) == pytest.approx((1.0, 1.0, 1.0))
    assert anomaly_auroc(scores(np.full(50, 2.0), np.full(50, 2.0))).value == 0.5
    rng = np.random.default_rng(0)
    same = anomaly_auroc(scores(rng.normal(size=200), rng.normal(size=200)))
    assert same.low < 0.5 < same.high and same.high - same.low < 0.25
    reversed_ = anomaly_auroc(scores(np.linspace(3, 4, 50), np.linspace(1, 2, 50)))
    assert reversed_.value == 0.0
    with pytest.raises(LlmdiscError, match="normal and anomalous"):
        anomaly_auroc(scores(np.ones(5), []))


def test_the_rank_auroc_is_scikit_learns():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    rows = np.round(rng.normal(size=(20, 30)), 1)  # rounded: ties too
    expected = [roc_auc_score(np.arange(30) < 12, row) for row in rows]
    assert rank_auroc(rows, 12) == pytest.approx(expected)


def test_the_anomaly_claim_follows_the_auroc():
    records = [record("a", np.arange(100) < 90, GOLD)]
    rng = np.random.default_rng(0)
    cases = {
        SUPPORTED: (np.linspace(1, 2, 50), np.linspace(3, 4, 50)),
        CONTRADICTED: (np.linspace(3, 4, 50), np.linspace(1, 2, 50)),
        INCONCLUSIVE: (rng.normal(size=100), rng.normal(size=100)),
    }
    for outcome, (normal, anomalous) in cases.items():
        analysis = analyse(records, anomaly=scores(normal, anomalous))
        claim = claim_of(analysis, "Generative models detect anomalies")
        assert claim.outcome == outcome
        assert f"AUROC {analysis.anomaly.auroc.format()}" in claim.evidence
        assert f"{len(normal)} normal and {len(anomalous)} anomalous" in claim.evidence
    assert claim_of(analyse(records), "Generative models detect anomalies").outcome == NOT_TESTED
    table = report_tables(records, analysis)["anomaly"]
    assert table[1][0][-1] == analysis.anomaly.auroc.format()


def synthetic_records(wrong_more: int, size: int = 100) -> list:
    """lr on 100 real examples (10 errors) and lr_synthetic on 100 generated ones (``wrong_more`` more)."""
    real = np.arange(100) >= 10
    synthetic = np.arange(100) >= 10 + wrong_more
    out = [
        record("lr", real, GOLD, size, approach="logistic_regression"),
        record("lr_synthetic", synthetic, GOLD, size, approach="logistic_regression"),
    ]
    out[1].generator = "smollm2-135m"
    return out


def test_the_synthetic_data_claim_follows_the_paired_difference():
    start = "Generative models can create new data"
    equal = claim_of(analyse(synthetic_records(0)), start)
    assert equal.outcome == SUPPORTED and "100 texts written by smollm2-135m train logistic_regression" in equal.claim
    assert "difference 0.0000 [0.0000, 0.0000]" in equal.evidence
    far = claim_of(analyse(synthetic_records(40)), start)
    assert far.outcome == CONTRADICTED and "difference -0.4000" in far.evidence and "McNemar p" in far.evidence
    # 5 points worse, with an interval straddling the margin: not decided at 100 examples.
    near = analyse(synthetic_records(5))
    claim = claim_of(near, start)
    low, high = (float(x) for x in claim.evidence.split("[")[1].split("]")[0].split(", "))
    assert low < -SYNTHETIC_MARGIN < high and claim.outcome == INCONCLUSIVE
    # Without the real approach at that size, it says what it needs.
    alone = synthetic_records(0)
    alone[0].train_examples = alone[0].size = 50
    assert claim_of(analyse(alone), start).outcome == NOT_TESTED
    # The cost claim leaves out the run on generated texts (its cost is the generator's): with it, the
    # discriminative median would be 50.5 s against the generative 1 s.
    costly = synthetic_records(0) + [
        record("nb", np.arange(100) >= 10, GOLD, 100, paradigm="generative", approach="naive_bayes")
    ]
    costly[1].costs.train_seconds = 100.0
    cost = claim_of(analyse(costly), "Discriminative models are cheaper")
    assert cost.outcome == INCONCLUSIVE and "discriminative 1.00 s (of 1)" in cost.evidence
    # The Naive Bayes / logistic regression claim does not take the synthetic variant for the real one.
    assert all(
        "lr_synthetic" not in c.evidence
        for c in analyse(synthetic_records(0)).claims
        if c.claim.startswith("Generative models need fewer")
    )


def test_the_lora_heads_claim_compares_channel_with_verbalizer():
    records = []
    for n, (channel, verbalizer) in {10: (0.9, 0.6), 100: (0.9, 0.95)}.items():
        records.append(
            record("lora_channel", np.arange(100) % 20 < 20 * channel, GOLD, n, paradigm="generative", approach="lora")
        )
        records.append(record("lora_verbalizer", np.arange(100) % 20 < 20 * verbalizer, GOLD, n, approach="lora"))
    claim = claim_of(analyse(records), "Generative models need fewer examples to reach their best (LoRA")
    assert claim.outcome == SUPPORTED
    assert claim.evidence.startswith(
        "lora_channel is within noise of its best (0.9000) from 10 examples, lora_verbalizer (best 0.9500) from 100"
    )
    one_size = [r for r in records if r.size == 100]
    assert (
        claim_of(analyse(one_size), "Generative models need fewer examples to reach their best (LoRA").outcome
        == NOT_TESTED
    )


def test_the_template_spread_is_each_templates_accuracy_min_to_max():
    records = [record("zs", np.arange(100) < 70, GOLD, None, None, "generative", "zeroshot")]
    records[0].template_accuracy = {"A: {text} {label}": 0.6, "B: {text} {label}": 0.75, "C: {text} {label}": 0.7}
    analysis = analyse(records)
    (spread,) = analysis.template_spreads
    assert (spread.variant, spread.lowest, spread.highest) == ("zs", 0.6, 0.75)
    headers, rows = report_tables(records, analysis)["templates"]
    assert len(rows) == 3 and rows[0][-1] == "0.6000 to 0.7500"
    assert analysis.to_dict()["template_spreads"][0]["templates"] == records[0].template_accuracy


def test_zero_shot_templates_are_each_scored_once_and_averaged(demo, tiny_gpt2, tmp_path):
    templates = ["Review: {text}\nSentiment: {label}", "Text: {text}\nLabel: {label}"]
    clf = llmdisc.get_classifier("zeroshot", model=str(tiny_gpt2), templates=templates).fit(demo["train"])
    texts = list(demo["test"]["text"][:6])
    probs = clf.predict_proba(texts)
    parts = clf.template_probabilities(texts)
    assert list(parts) == templates and np.allclose(np.mean(list(parts.values()), axis=0), probs)
    assert (
        llmdisc.get_classifier("zeroshot", model=str(tiny_gpt2)).fit(demo["train"]).template_probabilities(texts)
        is None
    )
    small = llmdisc.stratified_subset(demo["test"], 20, seed=0)
    data = type(demo)({"train": demo["train"], "test": small})
    records = llmdisc.compare(
        {"zs": {"approach": "zeroshot", "model": str(tiny_gpt2), "templates": templates}},
        data,
        splits=["test"],
        selection_split=None,
        baseline=False,
    )
    (r,) = records
    alone = {
        t: float((p.argmax(1) == np.asarray(small["label"])).mean())
        for t, p in llmdisc.get_classifier("zeroshot", model=str(tiny_gpt2), templates=templates)
        .fit(demo["train"])
        .template_probabilities(list(small["text"]))
        .items()
    }
    assert r.template_accuracy == pytest.approx(alone)
    assert RunRecord.from_dict(r.to_dict()).template_accuracy == r.template_accuracy


def test_surprisal_is_the_mean_negative_token_log_prob(tiny_gpt2):
    from llmdisc.lm.loading import load_model
    from llmdisc.lm.loglikelihood import surprisal, token_logprobs

    model, tokenizer = load_model(str(tiny_gpt2), device="cpu")
    texts = ["The pizza was great.", "great was pizza The."]
    expected = [-np.mean(s.logprobs) for s in token_logprobs(model, tokenizer, texts)]
    assert surprisal(model, tokenizer, texts) == pytest.approx(expected)


def test_detect_anomalies_names_a_class_or_shuffles_words_and_caches(demo, tiny_gpt2, tmp_path, monkeypatch):
    split = llmdisc.stratified_subset(demo["test"], 10, seed=0)
    by_class = detect_anomalies(split, "test", str(tiny_gpt2), anomaly_class="negative")
    assert by_class.anomaly == "negative" and by_class.is_anomaly.tolist() == [y == 0 for y in split["label"]]
    shuffled = detect_anomalies(split, "test", str(tiny_gpt2), output_dir=tmp_path)
    assert shuffled.anomaly == SHUFFLED and len(shuffled.surprisal) == 20 and shuffled.is_anomaly.sum() == 10
    assert sorted(shuffle_words(["a b c d"], 0)[0].split()) == ["a", "b", "c", "d"]
    # Resumed, the cached scores come back without loading the LM.
    monkeypatch.setattr("llmdisc.lm.loading.load_model", lambda *a, **k: pytest.fail("scored again"))
    again = detect_anomalies(split, "test", str(tiny_gpt2), output_dir=tmp_path, reuse=True)
    assert np.array_equal(again.surprisal, shuffled.surprisal)
    with pytest.raises(LlmdiscError, match="anomaly_class 'spam' is not a label"):
        detect_anomalies(split, "test", str(tiny_gpt2), anomaly_class="spam")


def test_synthetic_training_data_in_a_comparison_is_cached_and_resumed(demo, tiny_gpt2, tmp_path, monkeypatch):
    small = llmdisc.stratified_subset(demo["test"], 20, seed=0)
    data = type(demo)({"train": demo["train"], "test": small})
    approaches = {
        "logistic_regression": {"sizes": [4, 8]},
        "lr_synthetic": {
            "approach": "logistic_regression",
            "sizes": [4, 8],
            "synthetic": {"model": str(tiny_gpt2), "max_new_tokens": 8},
        },
    }
    records = llmdisc.compare(approaches, data, splits=["test"], selection_split=None, output_dir=tmp_path)
    synthetic = [r for r in records if r.variant == "lr_synthetic"]
    real = {r.size: r for r in records if r.variant == "logistic_regression"}
    assert [r.generator for r in synthetic] == [str(tiny_gpt2)] * 2
    assert [r.train_examples for r in synthetic] == [4, 8] and all(r.generator is None for r in real.values())
    assert all(r.train_subset != real[r.size].train_subset for r in synthetic)
    saved = json.loads((tmp_path / "runs" / "lr_synthetic" / "synthetic-seed0.json").read_text())
    assert [len(t) for t in saved["texts"]] == [4, 4] and saved["words"] == ["negative", "positive"]
    # Generating the texts counts as training time: the size 4 run gets half the generation's time.
    fit = {r.size: r.costs.train_seconds for r in synthetic}
    assert fit[4] >= saved["seconds"] / 2 and fit[8] >= saved["seconds"] > 0
    # Resumed with one cell lost, the saved texts are reused: nothing is generated again.
    (tmp_path / "runs" / "lr_synthetic" / "n4-seed0.json").unlink()
    monkeypatch.setattr("llmdisc.comparison.synthetic_data._generate", lambda *a, **k: pytest.fail("generated again"))
    again = llmdisc.compare(approaches, data, splits=["test"], selection_split=None, output_dir=tmp_path, resume=True)
    assert [r.train_subset for r in again if r.variant == "lr_synthetic"] == [r.train_subset for r in synthetic]
    claim = claim_of(analyse(records), "Generative models can create new data")
    assert "(lr_synthetic vs logistic_regression)" in claim.claim and claim.outcome in (
        SUPPORTED,
        CONTRADICTED,
        INCONCLUSIVE,
    )


@pytest.mark.parametrize(
    "synthetic, message",
    [
        ({"model": "smollm2-135m", "temprature": 1}, "unknown synthetic key"),
        ({"template": "Write a review."}, "needs a {label} slot"),
        ("smollm2-135m", "synthetic must be a mapping"),
    ],
)
def test_bad_synthetic_settings_are_one_line_errors_before_any_run(demo, synthetic, message):
    with pytest.raises(LlmdiscError, match=message) as e:
        llmdisc.compare({"lr": {"approach": "logistic_regression", "synthetic": synthetic}}, demo, splits=["test"])
    assert "approach 'lr'" in str(e.value) and "\n" not in str(e.value)
