"""The TextClassifier contract, checked for every registered approach."""

from __future__ import annotations

import numpy as np
import pytest
from cases import CASES, build_case

import llmdisc
from llmdisc import LlmdiscError, TextClassifier, available_classifiers, get_classifier, stratified_subset


def test_every_approach_is_covered():
    assert {approach for approach, _ in CASES.values()} == set(available_classifiers())


@pytest.fixture(scope="module", params=sorted(CASES))
def trained(request, demo, tiny_bert, tiny_gpt2):
    return build_case(request.param, tiny_bert, tiny_gpt2).fit(
        stratified_subset(demo["train"], 64), eval=demo["validation"]
    )


def test_contract(trained, demo, tmp_path):
    texts = demo["test"]["text"][:12]
    probs = trained.predict_proba(texts)
    assert probs.shape == (12, 2) and probs.dtype == np.float64
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-9) and (probs >= 0).all()
    assert trained.labels == ["negative", "positive"]
    assert trained.predict(texts) == [trained.labels[i] for i in probs.argmax(axis=1)]
    assert trained.predict_proba(texts[0]).shape == (1, 2)
    assert trained.predict_proba([]).shape == (0, 2)
    assert trained.paradigm in ("generative", "discriminative", "baseline")  # baseline: the majority class
    assert trained.info.train_examples == 64 and trained.info.train_seconds > 0

    folder = trained.save_pretrained(tmp_path / "model")
    assert (folder / "README.md").is_file() and (folder / "llmdisc_config.json").is_file()
    loaded = TextClassifier.from_pretrained(folder)
    assert type(loaded) is type(trained)
    assert loaded.labels == trained.labels
    assert loaded.config == trained.config
    assert loaded.info == trained.info  # TrainInfo survives the round trip
    np.testing.assert_array_equal(loaded.predict_proba(texts), probs)


def test_unknown_config_key_lists_valid_ones():
    with pytest.raises(LlmdiscError, match=r"unknown naive_bayes config key\(s\): alhpa; valid keys: .*alpha"):
        get_classifier("naive_bayes", alhpa=0.1)


def test_unknown_approach():
    with pytest.raises(LlmdiscError, match="unknown approach 'bayes'; available: "):
        get_classifier("bayes")


def test_not_fitted_and_bad_input(demo):
    clf = get_classifier("naive_bayes")
    assert "not fitted" in repr(clf)
    with pytest.raises(LlmdiscError, match="not trained"):
        clf.predict_proba(["x"])
    with pytest.raises(LlmdiscError, match="must be a datasets.Dataset"):
        clf.fit([("text", 1)])
    clf.fit(demo["train"])
    with pytest.raises(LlmdiscError, match=r"texts\[1\] is a int"):
        clf.predict_proba(["fine", 3])


def test_from_pretrained_checks_the_approach(demo, tmp_path):
    get_classifier("naive_bayes").fit(demo["train"]).save_pretrained(tmp_path / "nb")
    with pytest.raises(LlmdiscError, match="holds a 'naive_bayes' classifier, not a LogisticRegressionClassifier"):
        llmdisc.LogisticRegressionClassifier.from_pretrained(tmp_path / "nb")
    with pytest.raises(LlmdiscError, match="holds no llmdisc classifier"):
        TextClassifier.from_pretrained(tmp_path)


def test_failed_save_leaves_the_old_folder_intact(demo, tmp_path, monkeypatch):
    clf = get_classifier("naive_bayes").fit(demo["train"])
    folder = clf.save_pretrained(tmp_path / "nb")
    before = sorted(p.name for p in folder.iterdir())

    def broken(self, folder):
        (folder / "partial.bin").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(type(clf), "_save", broken)
    with pytest.raises(OSError, match="disk full"):
        clf.save_pretrained(folder)
    assert sorted(p.name for p in folder.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["nb"]  # no temporary folder left behind


def test_classes_missing_from_a_tiny_train_still_get_a_column(tmp_path):
    import datasets

    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["a", "b", "c"])}
    )
    train = datasets.Dataset.from_dict(
        {"text": ["x y", "y z", "z w", "w x"], "label": [0, 1, 0, 1]}, features=features
    )
    probs = get_classifier("logistic_regression").fit(train).predict_proba(["x"])
    assert probs.shape == (1, 3) and probs[0, 2] == 0.0


def test_classical_folder_loads_with_plain_skops(demo, tmp_path):
    import skops.io as sio

    clf = get_classifier("logistic_regression").fit(demo["train"])
    folder = clf.save_pretrained(tmp_path / "lr")
    pipeline = sio.load(folder / "model.skops", trusted=sio.get_untrusted_types(file=folder / "model.skops"))
    np.testing.assert_allclose(pipeline.predict_proba(demo["test"]["text"]), clf.predict_proba(demo["test"]["text"]))


@pytest.mark.parametrize("payload", ["pipeline", "analyzer"])
def test_a_crafted_skops_file_is_refused_before_it_runs(demo, tmp_path, payload):
    # A saved folder whose model.skops evaluates the texts it is given with builtins.eval: on
    # predict_proba the "text" below would create a file. Loading must fail, naming the types.
    import builtins

    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    clf = get_classifier("naive_bayes").fit(demo["train"])
    folder = clf.save_pretrained(tmp_path / "nb")
    vectorizer, model = clf.pipeline.named_steps["vectorizer"], clf.pipeline.named_steps["model"]
    if payload == "pipeline":  # max(texts) is the one text; eval runs it
        evil = Pipeline(
            [
                ("pick", FunctionTransformer(builtins.max)),
                ("run", FunctionTransformer(builtins.eval)),
                ("vectorizer", vectorizer),
                ("model", model),
            ]
        )
    else:  # the vectorizer's analyzer is called on each text
        vectorizer.analyzer = builtins.eval
        evil = Pipeline([("vectorizer", vectorizer), ("model", model)])
    sio.dump(evil, folder / "model.skops")
    marker = tmp_path / "pwned"
    with pytest.raises(LlmdiscError, match=r"builtins\.eval") as e:
        TextClassifier.from_pretrained(folder).predict_proba([f"open({str(marker)!r}, 'w')"])
    assert "\n" not in str(e.value) and "refus" in str(e.value)
    assert not marker.exists(), "the payload ran"


def test_a_skops_file_with_only_trusted_but_foreign_steps_is_refused(demo, tmp_path):
    # No untrusted type at all (skops trusts scikit-learn's classes), but not what llmdisc saves.
    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    folder = get_classifier("logistic_regression").fit(demo["train"]).save_pretrained(tmp_path / "lr")
    sio.dump(
        Pipeline([("vectorizer", FunctionTransformer()), ("model", FunctionTransformer())]), folder / "model.skops"
    )
    with pytest.raises(LlmdiscError, match="FunctionTransformer"):
        TextClassifier.from_pretrained(folder)


@pytest.mark.parametrize(
    "error", [OSError(28, "No space left on device"), RuntimeError("I/O error: No space left on device (os error 28)")]
)
def test_a_full_disk_during_save_is_one_line_and_keeps_the_old_folder(demo, tmp_path, monkeypatch, error):
    from llmdisc.classifiers.classical import NaiveBayesClassifier

    clf = get_classifier("naive_bayes").fit(demo["train"])
    folder = clf.save_pretrained(tmp_path / "nb")
    before = sorted(p.name for p in folder.iterdir())

    def full_disk(self, tmp):  # as safetensors or skops would fail half-way through a file
        (tmp / "model.skops").write_bytes(b"half")
        raise error

    monkeypatch.setattr(NaiveBayesClassifier, "_save", full_disk)
    with pytest.raises(
        LlmdiscError,
        match=r"could not save .*nb: no space left on the device "
        r"\(the previous folder is kept\); free some space",
    ) as e:
        clf.save_pretrained(folder)
    assert "\n" not in str(e.value)
    assert sorted(p.name for p in folder.iterdir()) == before and sorted(p.name for p in tmp_path.iterdir()) == ["nb"]
    assert TextClassifier.from_pretrained(folder).predict(["fine"])
