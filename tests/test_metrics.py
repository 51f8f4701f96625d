"""Metrics against cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmdisc.metrics.classification import (
    brier_score,
    classification_metrics,
    expected_calibration_error,
    log_loss,
    reliability_bins,
)


def test_brier_by_hand():
    probs = np.array([[0.8, 0.2], [0.4, 0.6]])
    labels = np.array([0, 0])
    # (0.2^2 + 0.2^2 + 0.6^2 + 0.6^2) / 2 = (0.08 + 0.72) / 2
    assert brier_score(probs, labels) == pytest.approx(0.4)


def test_log_loss_by_hand():
    probs = np.array([[0.8, 0.2], [0.4, 0.6]])
    assert log_loss(probs, np.array([0, 1])) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    assert log_loss(np.array([[1.0, 0.0]]), np.array([1])) == pytest.approx(-math.log(1e-15))


def test_ece_by_hand():
    # Confidences 0.9, 0.9 (bin 14: (14/15, 1]? no: 0.9 is in (13/15, 14/15]), 0.6, 0.55.
    probs = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4], [0.45, 0.55]])
    labels = np.array([0, 0, 0, 0])
    # Bin of 0.9: two examples, accuracy 1/2, confidence 0.9 -> |0.5 - 0.9| * 2/4 = 0.2
    # Bin (8/15, 9/15] = (0.533, 0.6]: 0.6 and 0.55, accuracy 1/2, confidence 0.575 -> 0.075 * 2/4
    assert expected_calibration_error(probs, labels) == pytest.approx(0.2 + 0.0375)
    bins = reliability_bins(probs, labels)
    assert [b["count"] for b in bins] == [2, 2]


def test_ece_perfectly_calibrated_and_bin_edges():
    probs = np.array([[1.0, 0.0]] * 3)
    assert expected_calibration_error(probs, np.array([0, 0, 0])) == 0.0
    # A confidence exactly on an edge (0.6 = 9/15) belongs to the bin it closes.
    (b,) = reliability_bins(np.array([[0.6, 0.4]]), np.array([0]))
    assert b["upper"] == pytest.approx(9 / 15)


def test_classification_metrics_macro_f1_counts_unpredicted_classes():
    probs = np.array([[0.9, 0.1], [0.8, 0.2]])
    m = classification_metrics(probs, np.array([0, 1]))
    assert m["accuracy"] == 0.5
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0) / 2)


def test_the_registry_is_the_one_place_a_metric_is_defined(monkeypatch):
    """A metric added to METRICS shows up in every record, the report's tables, and Trainer's choices."""
    import llmdisc.metrics.classification as M
    from llmdisc.api.records import RunRecord
    from llmdisc.reporting.report import format_table
    from llmdisc.training.trainer import selection_metrics

    top = M.Metric(
        "mean_top_prob", lambda p, y: float(p.max(axis=1).mean()), True, "{:.3f}", "mean top p", "mean confidence"
    )
    monkeypatch.setitem(M.METRICS, top.name, top)
    probs, labels = np.array([[0.8, 0.2], [0.4, 0.6]]), np.array([0, 0])
    values = classification_metrics(probs, labels)
    assert list(values) == ["accuracy", "macro_f1", "log_loss", "brier", "ece", "mean_top_prob"]
    assert values["mean_top_prob"] == pytest.approx(0.7)
    record = RunRecord(approach="a", variant="a", paradigm="generative", size=2, seed=0, split="test", metrics=values)
    table = format_table([record])
    assert "| mean top p |" in table and "| 0.700 |" in table
    assert RunRecord.from_dict(record.to_dict()).metrics == values  # the JSON form round-trips it
    assert selection_metrics()["mean_top_prob"] is True and selection_metrics()["ece"] is False


def test_metric_directions_and_lookup():
    from llmdisc import LlmdiscError
    from llmdisc.metrics.classification import ACCURACY, ECE, metric

    assert ACCURACY.better(0.9, 0.8) and ECE.better(0.01, 0.1) and not ECE.better(0.1, 0.01)
    assert metric("ece") is ECE
    with pytest.raises(LlmdiscError, match="unknown metric 'f1'; use one of accuracy, macro_f1"):
        metric("f1")


@pytest.mark.parametrize("name", ["log_loss", "brier", "ece"])
def test_calibration_metrics_load_as_evaluate_modules_offline(name):
    from llmdisc.metrics.classification import METRICS, load_evaluate_module

    rng = np.random.default_rng(0)
    probs = rng.dirichlet([1, 1, 1], size=50)
    labels = rng.integers(0, 3, size=50)
    module = load_evaluate_module(name)
    got = module.compute(predictions=probs.tolist(), references=labels.tolist())
    assert got == {name: pytest.approx(METRICS[name].function(probs, labels))}
