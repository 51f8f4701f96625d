"""The discriminative baselines of issue 13: linear_svm, random_forest, embedding_lr, setfit, and
class_weight on the classical models. The contract itself is checked for them in test_classifiers."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

from llmdisc import LlmdiscError, TextClassifier, get_classifier, stratified_subset

# The new approaches at cheap settings; "TINY_BERT" is the fixture's folder.
NEW = {
    "linear_svm": {"class_weight": "balanced"},
    "random_forest": {"n_estimators": 10, "seed": 3},
    "embedding_lr": {"model": "TINY_BERT", "batch_size": 4},
    "setfit": {"model": "TINY_BERT", "num_iterations": 1, "batch_size": 4},
}
WEIGHTED = ["naive_bayes", "logistic_regression", "linear_svm", "random_forest"]


def build(name: str, tiny_bert, **extra) -> TextClassifier:
    config = {k: str(tiny_bert) if v == "TINY_BERT" else v for k, v in {**NEW.get(name, {}), **extra}.items()}
    return get_classifier(name, **config)


def three_labels(texts: list[str], labels: list[int]):
    import datasets

    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["a", "b", "c"])}
    )
    return datasets.Dataset.from_dict({"text": texts, "label": labels}, features=features)


def marked(n: int, marker: str, rng) -> list[str]:
    """``n`` texts of four noise words and one word that marks the class."""
    return [" ".join([*rng.choice([f"w{i}" for i in range(30)], 4), marker]) for _ in range(n)]


def imbalanced():
    """40 'bad' negatives and 4 'good' positives: the prior pulls toward negative; and 30 new positives."""
    import datasets

    rng = np.random.default_rng(0)
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["negative", "positive"])}
    )
    train = datasets.Dataset.from_dict(
        {"text": marked(40, "bad", rng) + marked(4, "good", rng), "label": [0] * 40 + [1] * 4}, features=features
    )
    return train, marked(30, "good", rng)


@pytest.mark.parametrize("name", sorted(NEW) + ["naive_bayes"])
def test_a_class_absent_from_training_gets_a_zero_column(name, tiny_bert):
    train = three_labels(["x y", "y z", "z w", "w x", "x x y", "z z w"], [0, 1, 0, 1, 0, 1])
    clf = build(name, tiny_bert, **({"class_weight": {"c": 2.0, "a": 1.0}} if name in WEIGHTED else {})).fit(train)
    probs = clf.predict_proba(["x", "w z", "something else"])
    assert clf.labels == ["a", "b", "c"] and probs.shape == (3, 3)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-9) and (probs[:, 2] == 0).all() and (probs[:, :2] > 0).any()


@pytest.mark.parametrize("name", WEIGHTED)
def test_balanced_class_weight_raises_minority_recall(name, tmp_path):
    train, positives = imbalanced()
    extra = {"n_estimators": 50, "seed": 0} if name == "random_forest" else {}

    def recall(clf: TextClassifier) -> float:
        return float((clf.predict_proba(positives).argmax(axis=1) == 1).mean())

    plain = recall(get_classifier(name, **extra).fit(train))
    assert recall(get_classifier(name, class_weight="balanced", **extra).fit(train)) > plain + 0.1
    # A mapping by label name works too, and survives a save and a load bit for bit.
    mapped = get_classifier(name, class_weight={"positive": 10.0}, **extra).fit(train)
    assert recall(mapped) > plain + 0.1
    loaded = TextClassifier.from_pretrained(mapped.save_pretrained(tmp_path / name))
    assert loaded.config.class_weight == {"positive": 10.0}
    np.testing.assert_array_equal(loaded.predict_proba(positives), mapped.predict_proba(positives))


def test_naive_bayes_balanced_weights_are_a_uniform_prior():
    train, _ = imbalanced()
    clf = get_classifier("naive_bayes", class_weight="balanced").fit(train)
    np.testing.assert_allclose(np.exp(clf.pipeline.named_steps["model"].class_log_prior_), [0.5, 0.5])
    weighted = get_classifier("naive_bayes", class_weight={"positive": 5.0}).fit(train)
    np.testing.assert_allclose(np.exp(weighted.pipeline.named_steps["model"].class_log_prior_), [40 / 60, 20 / 60])


@pytest.mark.parametrize("name", WEIGHTED + ["embedding_lr"])
def test_class_weight_naming_an_unknown_label_fails_in_check(name, demo):
    clf = get_classifier(name, class_weight={"postive": 2.0})
    with pytest.raises(
        LlmdiscError,
        match=r"class_weight names unknown label\(s\) 'postive'; the labels are: "
        r"negative, positive",
    ) as e:
        clf.check(["negative", "positive"])
    assert "\n" not in str(e.value)
    with pytest.raises(LlmdiscError, match="'postive'"):
        clf.fit(stratified_subset(demo["train"], 16))
    with pytest.raises(LlmdiscError, match="must be none, 'balanced' or a mapping"):
        get_classifier(name, class_weight="balance").check(["negative", "positive"])
    with pytest.raises(LlmdiscError, match=r"class_weight\['positive'\] must be a positive number"):
        get_classifier(name, class_weight={"positive": -1}).check(["negative", "positive"])


def test_linear_svm_needs_two_examples_per_class():
    train = three_labels(["x y", "y z", "z w", "w x", "x z"], [0, 0, 1, 1, 2])
    with pytest.raises(LlmdiscError, match=r"at least 2 training examples of each class .*'c' has 1") as e:
        get_classifier("linear_svm").fit(train)
    assert "\n" not in str(e.value)
    # Two per class: two calibration folds instead of three.
    clf = get_classifier("linear_svm").fit(three_labels(["x y", "y z", "z w", "w x"], [0, 0, 1, 1]))
    assert clf.pipeline.named_steps["model"].cv == 2


def _saved(name, demo, tiny_bert, tmp_path):
    clf = build(name, tiny_bert).fit(stratified_subset(demo["train"], 16))
    return clf, clf.save_pretrained(tmp_path / name)


@pytest.mark.parametrize("name", ["linear_svm", "random_forest"])
@pytest.mark.parametrize("payload", ["untrusted", "trusted"])
def test_a_crafted_estimator_inside_a_classical_model_is_refused(name, payload, demo, tiny_bert, tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    clf, folder = _saved(name, demo, tiny_bert, tmp_path)
    model = clf.pipeline.named_steps["model"]
    # builtins.eval is refused by the type list; a bare FunctionTransformer (trusted by skops) by the shape check.
    evil = FunctionTransformer(builtins.eval) if payload == "untrusted" else FunctionTransformer()
    if name == "linear_svm":
        model.calibrated_classifiers_[0].calibrators[0] = evil
    else:
        model.estimators_[0] = evil
    sio.dump(clf.pipeline, folder / "model.skops")
    match = r"builtins\.eval" if payload == "untrusted" else "FunctionTransformer"
    with pytest.raises(LlmdiscError, match=match) as e:
        TextClassifier.from_pretrained(folder)
    assert "\n" not in str(e.value) and "refus" in str(e.value)


@pytest.mark.parametrize("name,file", [("embedding_lr", "model.skops"), ("setfit", "head.skops")])
@pytest.mark.parametrize("payload", ["untrusted", "trusted"])
def test_a_crafted_head_of_an_embedding_model_is_refused(name, file, payload, demo, tiny_bert, tmp_path):
    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    _, folder = _saved(name, demo, tiny_bert, tmp_path)
    evil = Pipeline([("run", FunctionTransformer(builtins.eval))]) if payload == "untrusted" else FunctionTransformer()
    sio.dump(evil, folder / file)
    with pytest.raises(
        LlmdiscError, match=r"builtins\.eval" if payload == "untrusted" else "FunctionTransformer"
    ) as e:
        TextClassifier.from_pretrained(folder)
    assert "\n" not in str(e.value) and "refus" in str(e.value)


def test_random_forest_seed_drives_its_trees(demo):
    train, texts = stratified_subset(demo["train"], 64), demo["test"]["text"]
    a, b, c = (
        get_classifier("random_forest", n_estimators=10, seed=s).fit(train).predict_proba(texts) for s in (0, 0, 1)
    )
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_setfit_folder_loads_with_plain_setfit(demo, tiny_bert, tmp_path):
    from setfit import SetFitModel

    clf, folder = _saved("setfit", demo, tiny_bert, tmp_path)
    texts = demo["test"]["text"][:8]
    model = SetFitModel.from_pretrained(str(folder))
    probs = np.zeros((len(texts), len(clf.labels)))
    probs[:, model.model_head.classes_] = model.predict_proba(texts, as_numpy=True)
    np.testing.assert_allclose(probs, clf.predict_proba(texts), atol=1e-6)


def test_embedding_lr_keeps_a_local_encoder_in_its_folder(demo, tiny_bert, tmp_path):
    # The encoder's folder may be gone (or on another machine) when the model loads.
    import shutil

    bert = shutil.copytree(tiny_bert, tmp_path / "bert")
    clf = get_classifier("embedding_lr", model=str(bert), batch_size=4).fit(stratified_subset(demo["train"], 16))
    folder = clf.save_pretrained(tmp_path / "model")
    shutil.rmtree(bert)
    texts = demo["test"]["text"][:8]
    np.testing.assert_array_equal(
        TextClassifier.from_pretrained(folder).predict_proba(texts), clf.predict_proba(texts)
    )


@pytest.mark.slow
def test_packaged_minilm_embedding_lr_beats_ngrams_with_32_examples(demo):
    # On the demo set, frozen MiniLM + LR reaches 0.69-0.76 with 32 examples (seeds 0-2; 0.6875 at
    # seed 0) and only 0.775 with all 320, so 0.75 at 32 would pass by the luck of a seed: the bar
    # is "well above chance (0.5) and above n-gram LR (0.65) on the same 32".
    train, test = stratified_subset(demo["train"], 32), demo["test"]
    truth = np.asarray(test["label"])
    accuracy = {
        name: (get_classifier(name).fit(train).predict_proba(test["text"]).argmax(axis=1) == truth).mean()
        for name in ("embedding_lr", "logistic_regression")
    }
    assert accuracy["embedding_lr"] > 0.65 and accuracy["embedding_lr"] > accuracy["logistic_regression"], accuracy


def test_embedding_lr_chooses_c_by_cross_validation_on_its_training_examples(demo, tiny_bert):
    from sklearn.linear_model import LogisticRegressionCV

    from llmdisc.classifiers.embedding import C_GRID, FALLBACK_C, choose_c

    train = stratified_subset(demo["train"], 24)
    clf = build("embedding_lr", tiny_bert).fit(train)
    features, labels = clf._embed(list(train["text"])), np.asarray(train["label"])
    expected = LogisticRegressionCV(Cs=C_GRID, cv=5, scoring="neg_log_loss", max_iter=1000).fit(features, labels)
    assert clf.head.C == pytest.approx(float(expected.C_[0])) and clf.head.C in C_GRID
    assert "cross-validated" in clf.card_info("x").how_it_works
    assert build("embedding_lr", tiny_bert, C=3.0).fit(train).head.C == 3.0  # an explicit C is kept
    # A class with one example leaves no fold to hold out: the fallback.
    assert choose_c(features[:3], np.array([0, 1, 1]), None, 100) == FALLBACK_C
