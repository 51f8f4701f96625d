"""The analysis: intervals, paired tests, crossovers, verdict and claims on cases with known answers,
and the per-example predictions a comparison keeps."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import llmdisc
from llmdisc.analysis.analyse import _macro_f1_resampled, analyse, bootstrap_metrics, crossover_size, paired_test
from llmdisc.analysis.claims import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from llmdisc.api.records import Costs, Predictions, RunRecord
from llmdisc.metrics.classification import macro_f1
from llmdisc.reporting.report import write_report

LABELS = ["negative", "positive"]


def probs_of(gold: np.ndarray, correct: np.ndarray, confidence: float = 0.8) -> np.ndarray:
    """Two-class probabilities that put ``confidence`` on the gold label where ``correct``, else on the other."""
    top = np.where(correct, gold, 1 - gold)
    p = np.full((len(gold), 2), 1 - confidence, dtype=np.float32)
    p[np.arange(len(gold)), top] = confidence
    return p


def record(
    variant: str,
    correct,
    gold,
    size: int | None = 100,
    seed: int | None = 0,
    paradigm="discriminative",
    approach: str | None = None,
    seconds: float = 1.0,
    confidence: float = 0.8,
    split="test",
) -> RunRecord:
    correct, gold = np.asarray(correct, bool), np.asarray(gold)
    p = probs_of(gold, correct, confidence)
    metrics = llmdisc.classification_metrics(p, gold)
    return RunRecord(
        approach=approach or variant,
        variant=variant,
        paradigm=paradigm,
        size=size,
        seed=seed,
        split=split,
        labels=LABELS,
        train_examples=size or 0,
        examples=len(gold),
        metrics=metrics,
        costs=Costs(
            train_seconds=seconds,
            predict_seconds=0.0,
            peak_rss_mib=100.0,
            train_warm_seconds=seconds,
            predict_ms=seconds,
            predict_spread_ms=0.0,
        ),
        per_example=Predictions(np.arange(len(gold)), gold, p),
    )


GOLD = np.array([0, 1] * 50)


def test_identical_classifiers_have_p_1_and_a_dominating_one_p_below_0_001():
    rng = np.random.default_rng(1)
    a = rng.random(100) < 0.7
    assert paired_test(a, a) == (0, 0, 1.0)
    b = np.ones(100, bool)
    worse = b.copy()
    worse[:20] = False  # right wherever the other is, and wrong on 20 more
    only_a, only_b, p = paired_test(b, worse)
    assert (only_a, only_b) == (20, 0) and p < 0.001
    assert p == pytest.approx(2 * 0.5**20)


def test_bootstrap_interval_of_a_perfect_classifier_is_a_point_and_widens_with_errors():
    draws = np.random.default_rng(0).integers(0, 100, size=(500, 100))
    perfect, _ = bootstrap_metrics([probs_of(GOLD, np.ones(100, bool))], GOLD, draws)
    assert (perfect["accuracy"].low, perfect["accuracy"].value, perfect["accuracy"].high) == (1.0, 1.0, 1.0)
    half, resampled = bootstrap_metrics([probs_of(GOLD, np.arange(100) % 4 < 2)], GOLD, draws)
    acc = half["accuracy"]
    assert acc.value == 0.5 and 0.38 < acc.low < 0.45 and 0.55 < acc.high < 0.62  # about ±1.96 * 0.05
    assert resampled["accuracy"].shape == (500,)
    for name in ("macro_f1", "ece", "log_loss", "brier"):
        assert half[name].low <= half[name].value <= half[name].high


def test_the_ece_interval_of_a_calibrated_model_holds_its_estimate():
    # Exactly calibrated: 100 texts at confidence 0.7 with 70 right, 100 at 0.9 with 90 right (ECE 0).
    # A resample repeats some texts and drops others, so its bins are off and its ECE above 0: the
    # raw percentile interval lies wholly above the estimate, the shifted one holds it.
    confidence = np.repeat([0.7, 0.9], 100)
    correct = np.concatenate([np.arange(100) < 70, np.arange(100) < 90])
    gold = np.arange(200) % 2
    probs = probs_of(gold, correct).astype(np.float64)
    probs[np.arange(200), np.where(correct, gold, 1 - gold)] = confidence
    probs[np.arange(200), np.where(correct, 1 - gold, gold)] = 1 - confidence
    draws = np.random.default_rng(3).integers(0, 200, size=(500, 200))
    ece = bootstrap_metrics([probs], gold, draws)[0]["ece"]
    raw = np.array([llmdisc.classification_metrics(probs[d], gold[d])["ece"] for d in draws])
    assert ece.value == pytest.approx(0.0, abs=1e-9) and np.quantile(raw, 0.025) > 0.001
    assert ece.low == 0.0 <= ece.value <= ece.high
    assert ece.high == pytest.approx(np.quantile(raw, 0.975) - raw.mean())  # moved by the bias, width kept


def test_two_seeds_are_pooled_on_the_same_drawn_examples():
    draws = np.random.default_rng(0).integers(0, 100, size=(300, 100))
    right, wrong = probs_of(GOLD, np.ones(100, bool)), probs_of(GOLD, np.zeros(100, bool))
    pooled, resampled = bootstrap_metrics([right, wrong], GOLD, draws)
    # Each drawn example is right in one seed and wrong in the other: exactly 0.5 in every resample.
    assert pooled["accuracy"].value == 0.5 and np.all(resampled["accuracy"] == 0.5)


def test_seeds_resampled_as_well_as_examples_widen_the_interval_of_a_seed_dependent_approach():
    # Two seeds: one right everywhere, one wrong everywhere. Pooled, every resample is 0.5; with the
    # seeds resampled too, a resample may draw the good seed twice (1.0) or the bad one twice (0.0).
    draws = np.random.default_rng(0).integers(0, 100, size=(400, 100))
    seeds = np.random.default_rng(1).integers(0, 2, size=(400, 2))
    right, wrong = probs_of(GOLD, np.ones(100, bool)), probs_of(GOLD, np.zeros(100, bool))
    pooled, resampled = bootstrap_metrics([right, wrong], GOLD, draws, seed_draws=seeds)
    assert pooled["accuracy"].value == 0.5
    assert set(np.unique(resampled["accuracy"])) == {0.0, 0.5, 1.0}
    assert pooled["accuracy"].low == 0.0 and pooled["accuracy"].high == 1.0
    # The same draws of one seed change nothing: the hierarchical bootstrap of one seed is the plain one.
    one, plain = (
        bootstrap_metrics([right], GOLD, draws, seed_draws=np.zeros((400, 1), int)),
        bootstrap_metrics([right], GOLD, draws),
    )
    assert np.array_equal(one[1]["accuracy"], plain[1]["accuracy"])


def test_the_batched_macro_f1_is_the_metrics_macro_f1():
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 3, size=(50, 40))
    predicted = np.where(rng.random((50, 40)) < 0.6, gold, rng.integers(0, 3, size=(50, 40)))
    predicted[0] = 0  # a resample that predicts one class only
    gold[1] = 2  # and one whose gold labels are all one class
    fast = _macro_f1_resampled(predicted, gold, 3)
    slow = [macro_f1(np.eye(3)[p], g) for p, g in zip(predicted, gold)]
    assert np.allclose(fast, slow)


def test_crossover_is_interpolated_in_log_size():
    assert crossover_size([10, 100], [0.5, 0.7], 0.6) == (pytest.approx(math.sqrt(1000)), False)
    assert crossover_size([10, 100], [0.8, 0.9], 0.6) == (10.0, True)
    assert crossover_size([10, 100], [0.5, 0.55], 0.6) == (None, False)


def two_sizes(
    b_wrong_at_100: int = 30, a_seconds: float = 1.0, b_seconds: float = 5.0, zero_shot: float | None = None
):
    """a: 60% right at size 10, 95% at 100; b: 60% at 10, 100 - b_wrong_at_100 % at 100; optionally a zero-shot z."""
    at10 = np.arange(100) % 10 < 6
    a100 = np.arange(100) % 20 != 0
    b100 = np.ones(100, bool)
    b100[:b_wrong_at_100] = False
    records = [
        record("a", at10, GOLD, 10, seconds=a_seconds),
        record("a", a100, GOLD, 100, seconds=a_seconds),
        record("b", at10, GOLD, 10, seconds=b_seconds, paradigm="generative"),
        record("b", b100, GOLD, 100, seconds=b_seconds, paradigm="generative"),
    ]
    if zero_shot is not None:
        records.append(record("z", np.arange(100) < 100 * zero_shot, GOLD, None, None, "generative", "zeroshot", 0.5))
    return records


def test_the_verdict_follows_the_numbers():
    analysis = analyse(two_sizes(b_wrong_at_100=30))
    first, at10, at100 = analysis.verdict[:3]
    assert first.startswith("The verdict ranks by accuracy since the classes are balanced")
    assert "training variance is not measured" in first
    # At 10 a and b predict alike on every example: b is shown as good, and the cheaper a is recommended.
    assert at10.startswith("With 10 training examples, the best by accuracy is a (0.6000 [")
    assert "Shown as good (within ±0.01): b (0.6000)" in at10
    assert "Recommended: a, the cheapest to predict of the best and those shown as good (1 ms per example" in at10
    # At 100, a (95%) beats b (70%): b is shown worse, and a is the only one left to recommend.
    assert at100.startswith("With 100 training examples, the best by accuracy is a (0.9500 [")
    assert "Shown worse: b." in at100 and "Recommended: a, the only one shown as good as the best" in at100
    (d10, d100) = analysis.decisions
    assert d100.worse == ["b"] and d100.versus[0].p_difference_holm < 0.05 and d100.versus[0].advantage.low > 0

    # Change the numbers: b 96%, a 95%, differing on 7 of 100 examples: neither shown worse nor as good.
    analysis = analyse(two_sizes(b_wrong_at_100=4, a_seconds=3.0, b_seconds=0.5))
    at10, at100 = analysis.verdict[1:3]
    assert at100.startswith("With 100 training examples, the best by accuracy is b (0.9600")
    (v,) = analysis.decisions[1].versus
    assert v.decision == "undecided" and v.examples_needed > 100
    assert f"Undecided at this test size (100 examples): a (0.9500; about {v.examples_needed:,} test examples" in at100
    assert "Recommended: b, the only one shown as good as the best" in at100  # never the undecided a
    assert "Recommended: b, the cheapest to predict" in at10  # b is now the cheaper at 10


def test_crossover_and_calibration_sentences():
    analysis = analyse(two_sizes(zero_shot=0.8))
    lines = [s for s in analysis.verdict if "zero-shot approach, z" in s]
    assert len(lines) == 2
    # a goes from 0.6 at 10 to 0.95 at 100: it passes 0.8 at 10 ** (1 + 0.2 / 0.35) = 37.3.
    assert lines[0].startswith(
        "a beats the best zero-shot approach, z (accuracy 0.8000) from about 37 training examples"
    )
    (c,) = [c for c in analysis.crossovers if c.variant == "a"]
    assert c.size.value == pytest.approx(10 ** (1 + 0.2 / 0.35)) and c.size.low <= c.size.value <= c.size.high
    assert lines[1].startswith("b does not beat the best zero-shot approach") and "within the sizes tried" in lines[1]
    assert analysis.verdict[-1].startswith("Calibration: ")
    analysis = analyse(two_sizes(zero_shot=0.3))
    assert any(
        s.startswith("a beats the best zero-shot approach, z (accuracy 0.3000) from the smallest size tried (10")
        for s in analysis.verdict
    )


def test_the_claims_are_computed_from_the_runs():
    # Naive Bayes at its best from 10 examples; logistic regression needs 100.
    sizes = {10: (0.9, 0.6), 100: (0.9, 0.95)}
    records = []
    for n, (nb, lr) in sizes.items():
        records.append(
            record(
                "nb",
                np.arange(100) % 20 < 20 * nb,
                GOLD,
                n,
                paradigm="generative",
                approach="naive_bayes",
                seconds=0.1,
            )
        )
        records.append(
            record("lr", np.arange(100) % 20 < 20 * lr, GOLD, n, approach="logistic_regression", seconds=2.0)
        )
    claims = {c.claim: c for c in analyse(records).claims}
    fewer = claims[
        "Generative models need fewer examples to reach their best (Ng & Jordan: Naive Bayes vs logistic regression)"
    ]
    assert fewer.outcome == SUPPORTED and "nb is within noise of its best (0.9000) from 10 examples" in fewer.evidence
    assert claims["Discriminative models are cheaper to train and predict"].outcome == CONTRADICTED


def with_robustness(r: RunRecord, gold: np.ndarray, losses) -> RunRecord:
    """``r`` with a robustness curve at drop rates 0, 0.25, 0.5 that gets the first ``losses[i]`` texts wrong."""
    r.robustness, r.robustness_per_example = {}, {}
    for rate, lost in zip(("0", "0.25", "0.5"), losses):
        correct = np.arange(len(gold)) >= lost
        r.robustness[rate] = float(correct.mean())
        r.robustness_per_example[rate] = Predictions(np.arange(len(gold)), gold, probs_of(gold, correct))
    return r


def test_robustness_slope_and_its_claim():
    gold = np.array([0, 1] * 100)
    records = []
    for variant, paradigm, approach, losses in (
        ("nb", "generative", "naive_bayes", (0, 0, 0)),
        ("lr", "discriminative", "logistic_regression", (0, 40, 80)),
    ):
        records.append(
            with_robustness(
                record(variant, np.ones(200, bool), gold, 100, paradigm=paradigm, approach=approach), gold, losses
            )
        )
    analysis = analyse(records)
    slopes = {c.variant: c.slope for c in analysis.robustness}
    assert slopes["nb"].value == pytest.approx(0) and slopes["lr"].value == pytest.approx(-0.8)
    assert slopes["lr"].high < 0
    (claim,) = [c for c in analysis.claims if c.claim.startswith("Generative models handle missing words")]
    assert claim.outcome == SUPPORTED and "(nb vs lr)" in claim.claim


def test_the_lora_heads_are_a_missing_words_pair_of_their_own():
    # The LoRA channel head loses nothing to dropped words, the verbalizer head 40% at rate 0.5; the
    # encoder is the most accurate, so the best-of-each-paradigm pair is lora_channel vs encoder.
    gold = np.array([0, 1] * 100)
    records = []
    for variant, paradigm, approach, losses, right in (
        ("lora_channel", "generative", "lora", (0, 0, 0), 180),
        ("lora_verbalizer", "discriminative", "lora", (0, 40, 80), 170),
        ("encoder", "discriminative", "encoder", (0, 20, 40), 200),
    ):
        for n in (10, 100):
            r = record(variant, np.arange(200) < right, gold, n, paradigm=paradigm, approach=approach)
            records.append(with_robustness(r, gold, losses) if n == 100 else r)
    graceful = {c.claim: c for c in analyse(records).claims if c.claim.startswith("Generative models handle missing")}
    pairs = [claim.split(" (")[1].rstrip(")") for claim in graceful]
    assert pairs == ["lora_channel vs lora_verbalizer", "lora_channel vs encoder"]
    assert all(c.outcome == SUPPORTED for c in graceful.values())


def test_inconclusive_when_the_difference_is_within_noise():
    records = []
    for n in (10, 100):
        for variant, approach, paradigm in (
            ("nb", "naive_bayes", "generative"),
            ("lr", "logistic_regression", "discriminative"),
        ):
            records.append(
                record(variant, np.arange(100) % 10 < 7, GOLD, n, paradigm=paradigm, approach=approach, seconds=1.0)
            )
    claims = {c.claim.split(" (")[0]: c.outcome for c in analyse(records).claims if "LoRA" not in c.claim}
    assert claims["Generative models need fewer examples to reach their best"] == INCONCLUSIVE
    assert claims["Discriminative models are cheaper to train and predict"] == INCONCLUSIVE


def test_disagreements_and_confident_errors_quote_the_texts():
    a = np.arange(100) % 2 == 0
    records = [record("a", a, GOLD, confidence=0.9), record("b", ~a, GOLD, confidence=0.7), record("c", a, GOLD)]
    texts = [f"text {i}" for i in range(100)]
    analysis = analyse(records, texts={"test": texts})
    d = analysis.disagreements[0]
    assert d.agreement == pytest.approx(2 / 3) and d.text == texts[d.index]
    assert d.predictions["a"] != d.predictions["b"]
    errors = [e for e in analysis.confident_errors if e.variant == "a"]
    assert len(errors) == 3 and all(e.confidence == pytest.approx(0.9) and e.gold != e.predicted for e in errors)


def test_a_comparison_exports_predictions_intervals_and_a_verdict_first(tmp_path, demo):
    import datasets

    out = tmp_path / "cmp"
    records = llmdisc.compare(
        "naive_bayes,logistic_regression",
        demo,
        splits=["validation", "test"],
        sizes=[8, "all"],
        drop_rates=[0, 0.5],
        output_dir=out,
    )
    assert records[0].predictions == "runs/naive_bayes/n8-seed0.parquet"
    write_report(records, out, title="t", settings={}, texts={"test": list(demo["test"]["text"])})
    table = datasets.load_dataset("parquet", data_files=str(out / "predictions.parquet"), split="train")
    assert {
        "variant",
        "size",
        "seed",
        "split",
        "drop_rate",
        "index",
        "label",
        "prob_negative",
        "prob_positive",
    } <= set(table.column_names)
    # 2 approaches and the majority baseline x 2 sizes x (80 validation + 80 test), and the robustness
    # copies: 2 rates x 80.
    assert len(table) == 3 * 2 * 160 + 3 * 2 * 80
    df = table.to_pandas()
    clean = df[df.drop_rate.isna() & (df.variant == "naive_bayes") & (df["size"] == 8) & (df.split == "test")]
    (r,) = [r for r in records if r.variant == "naive_bayes" and r.size == 8 and r.split == "test"]
    probs = clean[["prob_negative", "prob_positive"]].to_numpy()
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    assert (probs.argmax(1) == clean["label"].to_numpy()).mean() == pytest.approx(r.metrics["accuracy"])
    assert clean["label"].tolist() == list(demo["test"]["label"])
    results = json.loads((out / "results.json").read_text())
    on_test = [x for x in results if x["split"] == "test"]
    assert all(x["intervals"]["accuracy"][0] <= x["accuracy"] <= x["intervals"]["accuracy"][1] for x in on_test)
    assert all("intervals" not in x for x in results if x["split"] == "validation")
    analysis = json.loads((out / "analysis.json").read_text())
    assert analysis["verdict"] and analysis["pairs"] and "percentile bootstrap" in analysis["method"]
    report = (out / "report.md").read_text()
    assert report.index("## Verdict") < report.index("\n|") and "## Paired comparisons" in report
    assert "percentile bootstrap" in report and "## Where the approaches disagree" in report
    # Resumed from the cache, the per-example predictions come back: the same analysis.
    again = llmdisc.compare(
        "naive_bayes,logistic_regression",
        demo,
        splits=["validation", "test"],
        sizes=[8, "all"],
        drop_rates=[0, 0.5],
        output_dir=out,
        resume=True,
    )
    assert analyse(again).to_dict() == analyse(records).to_dict()
    # Records read back from results.json find their predictions under the output folder.
    read = [RunRecord.from_dict(x) for x in results]
    assert analyse(read, root=out).to_dict() == analyse(records).to_dict()


def test_records_without_predictions_get_values_but_no_intervals_or_tests():
    records = [RunRecord.from_dict(r.to_dict()) for r in two_sizes()]  # as read from results.json, no folder
    failed = RunRecord(
        approach="c", variant="c", paradigm="generative", size=10, seed=0, split="test", status="failed", error="boom"
    )
    analysis = analyse([*records, failed])
    assert analysis.pairs == [] and all(e.low is None for g in analysis.groups for e in g.metrics.values())
    assert analysis.summary[0].metrics["accuracy"].value == pytest.approx(0.95)
    assert "nothing is tested" in analysis.verdict[1] and analysis.decisions == []
    assert any("predictions were not available" in n for n in analysis.notes)
    assert analyse([failed]).verdict == ["No approach ran successfully: there is nothing to compare."]
