"""Fair budgets (issue 13): the schedule rule, temperature scaling and the held-out selection split."""

from __future__ import annotations

import json

import numpy as np
import pytest

import llmdisc
from llmdisc import LlmdiscError, get_classifier, stratified_subset
from llmdisc.classifiers.calibration import Calibration, apply_temperature, fit_temperature
from llmdisc.data.subsets import hold_out
from llmdisc.metrics.classification import expected_calibration_error, log_loss
from llmdisc.training.trainer import DEFAULT_EPOCHS, TrainerSettings, plan_schedule

# ---- the schedule rule ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, batch, steps, epochs",
    [
        (128, 16, 200, 25),  # 8 steps an epoch: raised to 25 epochs
        (8, 16, 200, 200),  # one step an epoch
        (67_349, 16, 12_630, 3),  # large data: the 3 default epochs already take more than min_steps
    ],
)
def test_schedule_rule_trains_at_least_min_steps(n, batch, steps, epochs):
    s = TrainerSettings(batch_size=batch, min_steps=200)
    plan = plan_schedule(s, n)
    assert plan.epochs == epochs and plan.steps == steps and plan.max_steps == -1
    assert plan.steps >= 200
    assert ("raised" in plan.rule) == (epochs != DEFAULT_EPOCHS)


def test_schedule_respects_what_the_user_gives():
    assert plan_schedule(TrainerSettings(epochs=2, batch_size=16), 128).steps == 16
    given = plan_schedule(TrainerSettings(max_steps=7, epochs=50, batch_size=16), 128)
    assert (given.steps, given.max_steps) == (7, 7)


def test_schedule_counts_processes_and_accumulation():
    s = TrainerSettings(batch_size=8, gradient_accumulation_steps=2, min_steps=10)
    assert plan_schedule(s, 64, num_processes=2).steps_per_epoch == 2
    assert plan_schedule(s, 64, num_processes=2).steps >= 10


def test_many_short_epochs_evaluate_ten_times_not_every_epoch():
    plan = plan_schedule(TrainerSettings(batch_size=16, min_steps=200), 8)
    assert plan.eval_steps == 20
    assert plan_schedule(TrainerSettings(batch_size=16), 67_349).eval_steps is None  # every epoch


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"max_steps": 0}, "zero steps"),
        ({"epochs": 0.0}, "zero steps"),
        ({"min_steps": 0}, "min_steps"),
    ],
)
def test_a_schedule_of_zero_steps_is_refused_before_training(tiny_bert, demo, settings, message):
    clf = get_classifier("encoder", model=str(tiny_bert), batch_size=8, **settings)
    with pytest.raises(LlmdiscError, match=message):
        clf.fit(stratified_subset(demo["train"], 16))


def test_trainer_takes_the_planned_steps_and_records_them(tiny_bert, demo):
    train = stratified_subset(demo["train"], 16)
    clf = get_classifier("encoder", model=str(tiny_bert), batch_size=8, min_steps=12, learning_rate=1e-3)
    clf.fit(train)
    assert clf.info.trainer.global_step == plan_schedule(clf.config, len(train)).steps == 12
    assert clf.info.trainer.epochs == pytest.approx(6.0) and "raised" in clf.info.trainer.schedule


# ---- temperature scaling -------------------------------------------------------------------


def overconfident(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of a classifier that is right 70% of the time but says 99%."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    predicted = np.where(rng.random(n) < 0.7, labels, 1 - labels)
    probs = np.full((n, 2), 0.01)
    probs[np.arange(n), predicted] = 0.99
    return probs, labels


def test_temperature_softens_an_overconfident_classifier_without_changing_predictions():
    probs, labels = overconfident()
    t = fit_temperature(probs, labels)
    scaled = apply_temperature(probs, t)
    assert t > 1
    # The best constant confidence here is 0.7: the fitted temperature finds it.
    assert scaled.max(axis=1).mean() == pytest.approx(0.7, abs=0.02)
    assert (scaled.argmax(axis=1) == probs.argmax(axis=1)).all()
    assert expected_calibration_error(scaled, labels) < expected_calibration_error(probs, labels) / 5
    assert log_loss(scaled, labels) < log_loss(probs, labels)
    np.testing.assert_allclose(scaled.sum(axis=1), 1.0)


def test_temperature_one_changes_nothing_and_bad_temperatures_are_refused():
    probs, _ = overconfident(10)
    np.testing.assert_allclose(apply_temperature(probs, 1.0), probs)
    with pytest.raises(LlmdiscError, match="positive"):
        apply_temperature(probs, 0.0)


def test_calibrate_is_saved_and_applied_after_loading(demo, tmp_path):
    clf = get_classifier("naive_bayes").fit(demo["train"])
    raw = clf.predict_proba(demo["test"]["text"])
    calibration = clf.calibrate(demo["validation"])
    assert isinstance(calibration, Calibration) and calibration.fitted_on == len(demo["validation"])
    assert calibration.after["log_loss"] <= calibration.before["log_loss"] + 1e-9
    scaled = clf.predict_proba(demo["test"]["text"])
    np.testing.assert_allclose(scaled, apply_temperature(raw, calibration.temperature))
    np.testing.assert_allclose(clf.predict_proba(demo["test"]["text"], calibrated=False), raw)

    clf.save_pretrained(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "llmdisc_config.json").read_text())
    assert saved["temperature_scaling"]["temperature"] == calibration.temperature
    assert "temperature" in (tmp_path / "m" / "README.md").read_text()
    again = llmdisc.TextClassifier.from_pretrained(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(demo["test"]["text"]), scaled)


def test_evaluation_reports_ece_and_log_loss_before_and_after(demo):
    clf = get_classifier("naive_bayes").fit(demo["train"])
    before = llmdisc.evaluate_classifier(clf, demo["test"])
    assert before.uncalibrated is None
    clf.calibrate(demo["validation"])
    after = llmdisc.evaluate_classifier(clf, demo["test"])
    assert after.uncalibrated == pytest.approx({"ece": before.metrics["ece"], "log_loss": before.metrics["log_loss"]})
    assert after.metrics["accuracy"] == before.metrics["accuracy"]


# ---- Platt and isotonic calibration (scikit-learn's), and auto ------------------------------


def biased(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A binary classifier whose stated P(positive) = s is right with probability s + 0.3 (clipped):
    its errors are shifted, which no temperature (a rescaling of the logit around 0) can fix."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.02, 0.98, n)
    labels = (rng.random(n) < np.clip(s + 0.3, 0, 0.99)).astype(np.int64)
    return np.stack([1 - s, s], axis=1), labels


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("method, sklearn_method", [("platt", "sigmoid"), ("isotonic", "isotonic")])
def test_platt_and_isotonic_match_scikit_learn_on_a_prefit_classifier(n_classes, method, sklearn_method):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.datasets import make_classification
    from sklearn.frozen import FrozenEstimator
    from sklearn.naive_bayes import GaussianNB  # predict_proba and no decision_function, as ours

    X, y = make_classification(900, n_features=6, n_informative=4, n_classes=n_classes, random_state=0)
    model = GaussianNB().fit(X[:300], y[:300])
    reference = CalibratedClassifierCV(FrozenEstimator(model), method=sklearn_method).fit(X[300:600], y[300:600])
    calibration = Calibration.fit(model.predict_proba(X[300:600]), y[300:600], method)
    ours = calibration.apply(model.predict_proba(X[600:]))
    np.testing.assert_allclose(ours, reference.predict_proba(X[600:]), atol=1e-9)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0)
    assert calibration.temperature is None and calibration.after["log_loss"] < calibration.before["log_loss"]


def test_auto_picks_platt_or_isotonic_where_a_temperature_cannot_fit():
    probs, labels = biased()
    held_probs, held_labels = biased(seed=1)
    temperature = Calibration.fit(probs, labels, "temperature")
    auto = Calibration.fit(probs, labels, "auto")
    assert set(auto.chosen_by) == {"temperature", "platt", "isotonic"}
    assert auto.method in ("platt", "isotonic") and auto.chosen_by[auto.method] == min(auto.chosen_by.values())
    # On fresh examples of the same classifier the chosen method beats the temperature.
    assert log_loss(auto.apply(held_probs), held_labels) < log_loss(temperature.apply(held_probs), held_labels) - 0.1
    assert expected_calibration_error(auto.apply(held_probs), held_labels) < expected_calibration_error(
        temperature.apply(held_probs), held_labels
    )


def test_auto_keeps_the_temperature_where_it_fits():
    # An over-confident but unbiased classifier: one temperature is the whole fix, and the
    # one-parameter fit wins the cross-validated log loss (or ties it within noise).
    probs, labels = overconfident()
    auto = Calibration.fit(probs, labels, "auto")
    best = min(auto.chosen_by.values())
    assert auto.chosen_by["temperature"] <= best + 1e-3


def test_an_isotonic_calibration_is_saved_and_applied_after_loading(demo, tmp_path):
    clf = get_classifier("naive_bayes").fit(demo["train"])
    calibration = clf.calibrate(demo["validation"], method="isotonic")
    assert calibration.method == "isotonic" and calibration.parameters
    scaled = clf.predict_proba(demo["test"]["text"])
    np.testing.assert_allclose(scaled, calibration.apply(clf.predict_proba(demo["test"]["text"], calibrated=False)))
    clf.save_pretrained(tmp_path / "m")
    assert "isotonic calibration" in (tmp_path / "m" / "README.md").read_text()
    again = llmdisc.TextClassifier.from_pretrained(tmp_path / "m")
    assert again.calibrator.method == "isotonic"
    np.testing.assert_allclose(again.predict_proba(demo["test"]["text"]), scaled)


def test_unknown_or_unfittable_calibrations_are_one_line():
    probs, labels = overconfident(40)
    with pytest.raises(LlmdiscError, match="unknown calibration method 'beta'"):
        Calibration.fit(probs, labels, "beta")
    with pytest.raises(LlmdiscError, match="needs at least 2 held-out examples of every class"):
        Calibration.fit(probs[:3], np.array([0, 1, 1]), "auto")
    with pytest.raises(LlmdiscError, match="unknown calibration 'beta'"):
        llmdisc.compare(["naive_bayes"], llmdisc.load_text_dataset("demo"), calibration="beta")


def test_compare_records_a_platt_calibration(demo):
    (record,) = llmdisc.compare(
        ["naive_bayes"],
        hold_out(demo, 40),
        splits=["test"],
        selection_split="holdout",
        sizes=[64],
        calibration="platt",
        baseline=False,
    )
    assert record.temperature is None and record.calibration == "platt"
    assert set(record.uncalibrated) == {"ece", "log_loss"}
    from llmdisc.api.records import RunRecord

    assert RunRecord.from_dict(record.to_dict()).calibration == "platt"
    from llmdisc.reporting.report import report_tables

    header, rows = report_tables([record])["temperature"]
    assert rows[0][header.index("calibration")] == "platt"


# ---- selection split: held out, never the reported one --------------------------------------


def test_hold_out_moves_stratified_examples_out_of_train(demo):
    data = hold_out(demo, 40, seed=1)
    train, held = data["train"], data["holdout"]
    assert len(held) == 40 and len(train) == len(demo["train"]) - 40
    assert not set(held["text"]) & set(train["text"])
    assert sorted(list(held["text"]) + list(train["text"])) == sorted(demo["train"]["text"])
    assert abs(np.mean(held["label"]) - np.mean(demo["train"]["label"])) < 0.05
    with pytest.raises(LlmdiscError, match="cannot hold out"):
        hold_out(demo, len(demo["train"]))


def test_compare_refuses_to_select_on_the_split_it_reports(demo):
    with pytest.raises(LlmdiscError, match="selection split 'validation' is the split the report leads with"):
        llmdisc.compare(["naive_bayes"], demo, splits=["validation"], selection_split="validation")


def test_compare_calibrates_trained_runs_on_the_selection_split(demo):
    records = llmdisc.compare(
        ["naive_bayes"], hold_out(demo, 40), splits=["test"], selection_split="holdout", sizes=[64], baseline=False
    )
    (record,) = records
    assert record.temperature is not None and record.temperature > 0
    assert set(record.uncalibrated) == {"ece", "log_loss"}
    plain = llmdisc.compare(
        ["naive_bayes"],
        hold_out(demo, 40),
        splits=["test"],
        selection_split="holdout",
        sizes=[64],
        calibration="none",
        baseline=False,
    )
    assert plain[0].temperature is None and plain[0].uncalibrated is None
    assert plain[0].metrics["ece"] == pytest.approx(record.uncalibrated["ece"])


def test_compare_leaves_a_flat_zero_shot_run_uncalibrated_and_calibrates_a_prior_fitted_one(demo, tiny_gpt2):
    """Zero-shot learns nothing from the examples unless it fits a prior (or a prompt): only then a temperature."""
    approaches = {
        "flat": {"approach": "zeroshot", "model": str(tiny_gpt2)},
        "prior": {"approach": "zeroshot", "model": str(tiny_gpt2), "prior": "train", "sizes": [16]},
    }
    records = llmdisc.compare(approaches, hold_out(demo, 40), splits=["test"], selection_split="holdout", sizes=[16])
    by_name = {r.variant: r for r in records}
    assert by_name["flat"].size is None and by_name["flat"].temperature is None
    assert by_name["prior"].size == 16 and by_name["prior"].temperature is not None


# ---- class weights for Trainer approaches -----------------------------------------------------


def test_weighted_cross_entropy_weighs_each_example_by_its_class():
    import torch

    from llmdisc.training.trainer import weighted_cross_entropy

    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    plain = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    loss = weighted_cross_entropy([1.0, 3.0])({"logits": logits}, labels)
    assert loss.item() == pytest.approx(((plain * torch.tensor([1.0, 3.0, 3.0])).sum() / 3).item())
    # Across an accumulated step Trainer passes the step's example count.
    assert weighted_cross_entropy([1.0, 1.0])(
        {"logits": logits}, labels, num_items_in_batch=6
    ).item() == pytest.approx(plain.sum().item() / 6)


def test_balanced_class_weights_follow_scikit_learn():
    from sklearn.utils.class_weight import compute_class_weight

    from llmdisc.classifiers.class_weights import class_weight_vector

    y = np.array([0] * 9 + [1] * 3)
    np.testing.assert_allclose(
        class_weight_vector("balanced", ["a", "b"], y, "encoder"),
        compute_class_weight("balanced", classes=np.array([0, 1]), y=y),
    )
    np.testing.assert_allclose(class_weight_vector({"b": 2.5}, ["a", "b"], y, "encoder"), [1.0, 2.5])
    assert class_weight_vector(None, ["a", "b"], y, "encoder") is None
    with pytest.raises(LlmdiscError, match="unknown label"):
        class_weight_vector({"c": 1.0}, ["a", "b"], y, "encoder")


def imbalanced(demo, n_minority: int = 4, n: int = 40):
    """``n`` training texts of the demo with only ``n_minority`` of label 1."""
    train = demo["train"]
    labels = np.asarray(train["label"])
    rows = list(np.flatnonzero(labels == 0)[: n - n_minority]) + list(np.flatnonzero(labels == 1)[:n_minority])
    return train.select(sorted(rows))


def test_class_weight_changes_what_the_encoder_learns(tiny_bert, demo):
    train = imbalanced(demo)
    kwargs = dict(model=str(tiny_bert), max_steps=30, batch_size=8, learning_rate=1e-3, seed=0)
    plain = get_classifier("encoder", **kwargs).fit(train)
    weighted = get_classifier("encoder", **kwargs, class_weight="balanced").fit(train)
    share = lambda clf: clf.predict_proba(demo["test"]["text"])[:, 1].mean()  # noqa: E731
    # The minority class's weight is 5x: its predicted share grows.
    assert share(weighted) > share(plain) + 0.05


def test_class_weight_of_a_language_model_head_reweights_its_decisions(tiny_gpt2, demo, tmp_path):
    train = imbalanced(demo)
    kwargs = dict(model=str(tiny_gpt2), head="verbalizer", max_steps=2, batch_size=4, seed=0)
    plain = get_classifier("lora", **kwargs).fit(train)
    weighted = get_classifier("lora", **kwargs, class_weight={"positive": 4.0}).fit(train)
    texts = demo["test"]["text"][:10]
    p, q = plain.predict_proba(texts), weighted.predict_proba(texts)
    expected = p * [1.0, 4.0]
    np.testing.assert_allclose(q, expected / expected.sum(axis=1, keepdims=True), atol=1e-5)
    weighted.save_pretrained(tmp_path / "w")
    np.testing.assert_allclose(
        llmdisc.TextClassifier.from_pretrained(tmp_path / "w").predict_proba(texts), q, atol=1e-5
    )


# ---- degenerate runs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "confusion, flagged",
    [
        ([[50, 0], [50, 0]], "predicts 'a' for 100% of the examples (50% of the gold labels)"),
        ([[0, 14], [0, 86]], None),  # 'b' is 86% of the gold labels: predicting it is no sign of a broken run
        ([[48, 2], [47, 3]], "predicts 'a' for 95% of the examples (50% of the gold labels)"),
        ([[45, 5], [45, 5]], None),  # 90%: below the 95% rule
    ],
)
def test_degenerate_runs_are_named(confusion, flagged):
    from llmdisc.api.records import degenerate_predictions

    assert degenerate_predictions(confusion, ["a", "b"]) == flagged


def test_report_flags_a_degenerate_run(tmp_path):
    from llmdisc.api.records import RunRecord
    from llmdisc.reporting.report import report_tables

    ok = RunRecord(
        "naive_bayes",
        "naive_bayes",
        "generative",
        8,
        0,
        "test",
        labels=["a", "b"],
        confusion=[[40, 10], [10, 40]],
        metrics={"accuracy": 0.8},
        train_examples=8,
    )
    stuck = RunRecord(
        "encoder",
        "encoder",
        "discriminative",
        8,
        0,
        "test",
        labels=["a", "b"],
        confusion=[[50, 0], [50, 0]],
        metrics={"accuracy": 0.5},
        train_examples=8,
    )
    tables = report_tables([ok, stuck])
    header, rows = tables["degenerate"]
    assert [row[0] for row in rows] == ["encoder"] and "predicts 'a' for 100%" in rows[0][4]
    assert [row[0] for row in tables["summary"][1]] == ["naive_bayes", "encoder (degenerate: see below)"]


# ---- bad input, before any training -------------------------------------------------------------


def test_sizes_smaller_than_the_classes_are_refused(demo):
    with pytest.raises(LlmdiscError, match="size 1 is smaller than the 2 classes"):
        llmdisc.compare(["naive_bayes"], demo, sizes=[1, 8], selection_split=None)
    with pytest.raises(LlmdiscError, match="approach 'naive_bayes': size 1 is smaller"):
        llmdisc.compare({"naive_bayes": {"sizes": [1]}}, demo, selection_split=None)


def test_a_class_with_one_training_example_is_refused(demo):
    import datasets

    labels = np.asarray(demo["train"]["label"])
    rows = list(np.flatnonzero(labels == 0)) + [int(np.flatnonzero(labels == 1)[0])]
    data = datasets.DatasetDict({**demo, "train": demo["train"].select(sorted(rows))})
    with pytest.raises(LlmdiscError, match="'positive' have fewer than 2 training examples"):
        llmdisc.compare(["naive_bayes"], data, selection_split=None)
