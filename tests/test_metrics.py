"""Metrics against cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmdisc.metrics import brier_score, classification_metrics, expected_calibration_error, log_loss, reliability_bins


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
