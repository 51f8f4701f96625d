"""More than two classes, end to end, for every approach: the built-in four-topic demo set.

The neural approaches run on the tiny random models (they cannot learn the topics in a few steps,
so their accuracy is not asserted); what is asserted is the contract with four labels: four
columns in label order, rows that sum to one, a 4x4 confusion matrix, a save and load that
predict the same, and a comparison whose records and report carry the four labels.
"""

from __future__ import annotations

import numpy as np
import pytest

import llmdisc
from llmdisc import TextClassifier, evaluate_classifier, get_classifier, stratified_subset

TOPICS = ["food", "sports", "tech", "weather"]
TEMPLATE = "Text: {text}\nTopic: {label}"
# One verbalizer per label (the label names are fine words already, but "tech" is not).
WORDS = {"food": "food", "sports": "sport", "tech": "technology", "weather": "weather"}
TRAINED = dict(max_steps=2, batch_size=8, eval_batch_size=8, logging_steps=1)

APPROACHES = {
    "naive_bayes": {},
    "logistic_regression": {},
    "linear_svm": {},
    "encoder": {"model": "TINY_BERT", **TRAINED},
    "zeroshot": {"model": "TINY_GPT2", "templates": [TEMPLATE], "verbalizers": WORDS},
    "zeroshot_channel": {
        "approach": "zeroshot",
        "model": "TINY_GPT2",
        "mode": "channel",
        "templates": [TEMPLATE],
        "verbalizers": WORDS,
        "calibrate": True,
    },
    "lora_verbalizer": {
        "approach": "lora",
        "model": "TINY_GPT2",
        "head": "verbalizer",
        "templates": [TEMPLATE],
        "verbalizers": WORDS,
        **TRAINED,
    },
    "lora_sequence": {"approach": "lora", "model": "TINY_GPT2", "head": "sequence", **TRAINED},
    "lora_channel": {
        "approach": "lora",
        "model": "TINY_GPT2",
        "head": "channel",
        "templates": [TEMPLATE],
        "verbalizers": WORDS,
        **TRAINED,
    },
    "embedding_lr": {"model": "TINY_BERT", "batch_size": 8},
    "setfit": {"model": "TINY_BERT", "num_iterations": 1, "batch_size": 8},
}


@pytest.fixture(scope="module")
def topics():
    return llmdisc.load_text_dataset("demo-topics")


def settings(name: str, tiny_bert, tiny_gpt2) -> tuple[str, dict]:
    config = dict(APPROACHES[name])
    approach = config.pop("approach", name)
    paths = {"TINY_BERT": str(tiny_bert), "TINY_GPT2": str(tiny_gpt2)}
    return approach, {k: paths.get(v, v) if isinstance(v, str) else v for k, v in config.items()}


@pytest.mark.parametrize("name", list(APPROACHES))
def test_every_approach_on_four_classes(name, topics, tiny_bert, tiny_gpt2, tmp_path, capsys):
    approach, config = settings(name, tiny_bert, tiny_gpt2)
    neural = approach not in ("naive_bayes", "logistic_regression", "linear_svm")
    train = stratified_subset(topics["train"], 24) if neural else topics["train"]
    clf = get_classifier(approach, **config)
    clf.check(TOPICS)
    clf.fit(train, eval=stratified_subset(topics["validation"], 8) if neural else None)
    assert clf.labels == TOPICS
    printed = capsys.readouterr()
    assert "train_runtime" not in printed.out + printed.err  # no raw Trainer dicts (setfit's included)

    test = stratified_subset(topics["test"], 16) if neural else topics["test"]
    evaluation = evaluate_classifier(clf, test)
    probs = evaluation.probabilities
    assert probs.shape == (len(test), 4) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert np.array(evaluation.confusion).shape == (4, 4) and np.array(evaluation.confusion).sum() == len(test)
    if neural:
        assert clf.info.device == "cpu" and clf.info.dtype == "float32"
    else:  # the topics are easy for a bag of words: the classical models really learn them
        assert evaluation.metrics["accuracy"] > 0.6

    loaded = TextClassifier.from_pretrained(clf.save_pretrained(tmp_path / name))
    texts = list(test["text"][:6])
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-5)


def test_a_four_class_comparison_records_the_labels_device_and_dtype(topics, tiny_gpt2, tmp_path):
    approaches = {
        "naive_bayes": {},
        "zeroshot": {"model": str(tiny_gpt2), "templates": [TEMPLATE], "verbalizers": WORDS},
    }
    records = llmdisc.compare(
        approaches,
        topics,
        splits=["test"],
        sizes=[16, "all"],
        seeds=1,
        output_dir=str(tmp_path / "out"),
        drop_rates=[0.0],
    )
    assert records and all(r.ok for r in records), [r.error for r in records]
    for r in records:
        assert r.labels == TOPICS and np.array(r.confusion).shape == (4, 4)
        assert r.device == "cpu"
        assert r.dtype == ("float32" if r.approach == "zeroshot" else None)
    row = records[0].to_dict()
    assert row["device"] == "cpu" and "dtype" in row
    assert llmdisc.api.records.RunRecord.from_dict(row) == records[0]
    from llmdisc.reporting.report import report_tables

    headers, rows = report_tables(records)["runs"]
    column = headers.index("device / dtype")
    assert {row[column] for row in rows} == {"cpu", "cpu / float32"}
