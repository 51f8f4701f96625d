"""Label words and prompts that fit the data: data-level verbalizers and task, the label-name
rule, prior correction, and the one-line refusals of bad input."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from llmdisc import LlmdiscError, TextClassifier, get_classifier
from llmdisc.cli import main
from llmdisc.lm.label_likelihood import apply_weights, prior_weights, resolve_verbalizers
from llmdisc.lm.prompts import (
    NEUTRAL_TEMPLATE,
    REVIEW_TEMPLATE,
    TASKS,
    label_words_note,
    label_words_warning,
    task_templates,
    unscorable_labels,
    with_data_settings,
)
from llmdisc.plumbing.config import config_from_dict, parse_mapping


def relabelled(demo, names):
    """The demo data with its labels renamed (same examples, same order)."""
    import datasets

    def rename(split):
        return datasets.Dataset.from_dict(
            {"text": split["text"], "label": split["label"]},
            features=datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)}),
        )

    return datasets.DatasetDict({k: rename(v) for k, v in demo.items()})


# ---- the mapping on the command line ------------------------------------------------------------


def test_a_mapping_reads_from_key_value_pairs_or_json():
    assert parse_mapping("v", "neg=negative, pos = very good") == {"neg": "negative", "pos": "very good"}
    assert parse_mapping("v", '{"neg": "bad, really", "pos": "good"}') == {"neg": "bad, really", "pos": "good"}
    with pytest.raises(LlmdiscError, match="cannot read 'negative' as key=value"):
        parse_mapping("v", "neg=bad,negative")
    from llmdisc.commands.compare import CompareConfig

    assert config_from_dict(CompareConfig, {"verbalizers": "neg=negative,pos=positive"}).verbalizers == {
        "neg": "negative",
        "pos": "positive",
    }


# ---- the label-name rule -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["0", "1", "-1", "LABEL_0", "label_1", "class_a", "neg", "pos", "ham", "NEG", "c1"])
def test_names_the_rule_flags(name):
    assert unscorable_labels([name]) == [name]


@pytest.mark.parametrize("name", ["negative", "positive", "spam", "World", "Sci/Tech", "yes", "no", "not_spam"])
def test_names_the_rule_passes(name):
    assert unscorable_labels([name]) == []


def test_the_warning_is_one_line_naming_the_labels_the_approaches_and_the_fix():
    labels = ["neg", "pos"]
    line = label_words_warning(
        labels, {"zeroshot_direct": ["neg", "pos"], "lora_channel": ["neg", "pos"], "lora_sequence": None}
    )
    assert "\n" not in line and "'neg', 'pos'" in line and "--verbalizers neg=WORD,pos=WORD" in line
    assert "zeroshot_direct, lora_channel" in line and "lora_sequence" not in line
    # Words given for the flagged labels (or no approach scoring words): nothing to say.
    assert label_words_warning(labels, {"zeroshot": ["negative", "positive"]}) is None
    assert label_words_warning(labels, {"lora_sequence": None}) is None
    # Only the label still scored as written is named.
    assert "'ham'" in label_words_warning(["ham", "spam"], {"z": ["ham", "spam"]})
    assert label_words_warning(["ham", "spam"], {"z": ["not spam", "spam"]}) is None
    assert "--label-names" in label_words_warning(["0", "1"], {"z": ["0", "1"]})
    # Where no training examples picked the template, the line names --task as well.
    assert "--task" not in line
    with_task = label_words_warning(labels, {"zeroshot": ["neg", "pos"]}, suggest_task=True)
    assert "\n" not in with_task and "--verbalizers neg=WORD,pos=WORD" in with_task
    assert "--task sentiment, topic, spam or an instruction" in with_task and "task-neutral" in with_task


def test_the_note_groups_approaches_by_the_words_they_score():
    note = label_words_note(
        ["neg", "pos"], {"a": ["negative", "positive"], "b": ["negative", "positive"], "c": ["bad", "good"], "d": None}
    )
    assert note == "label words scored: a, b: neg -> 'negative', pos -> 'positive'; c: neg -> 'bad', pos -> 'good'"


# ---- bad input: one line each --------------------------------------------------------------------


@pytest.mark.parametrize(
    "words, message",
    [
        ({"neutral": "meh"}, "verbalizers name unknown labels ['neutral']"),
        ({"negative": "meh", "positive": "meh"}, "two labels share a verbalizer"),
        ({"negative": " "}, "the verbalizer for label 'negative' is empty"),
    ],
)
def test_bad_verbalizers(words, message):
    with pytest.raises(LlmdiscError, match=re.escape(message)):
        resolve_verbalizers(["negative", "positive"], words)


@pytest.mark.parametrize(
    "task, message",
    [
        ("sentimnet", "unknown task 'sentimnet'; use sentiment, topic, spam, or an instruction"),
        ("Classify {text} now", "must not hold {text} or {label}"),
    ],
)
def test_bad_tasks(task, message):
    with pytest.raises(LlmdiscError, match=re.escape(message)):
        task_templates(task)
    with pytest.raises(LlmdiscError, match=re.escape(message)):
        get_classifier("zeroshot", task=task)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--verbalizers", "neutral=meh"], "verbalizers name unknown labels ['neutral']"),
        (["--verbalizers", "negative=meh,positive=meh"], "two labels share a verbalizer"),
        (["--verbalizers", "negative="], "the verbalizer for label 'negative' is empty"),
        (["--verbalizers", "negative"], "cannot read 'negative' as key=value"),
        (["--task", "sentimnet"], "unknown task 'sentimnet'"),
        (["--templates", "Review: {text}"], "must hold {text} and {label} once each"),
    ],
)
@pytest.mark.parametrize("command", ["compare", "train"])
def test_bad_label_words_are_refused_in_one_line_before_any_model_loads(
    command, args, message, tmp_path, capsys, monkeypatch
):
    import llmdisc.classifiers.zeroshot

    def no_loading(*a, **k):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(llmdisc.classifiers.zeroshot, "load_model", no_loading)
    head = ["compare", "--approaches", "zeroshot"] if command == "compare" else ["train", "zeroshot"]
    if "--templates" in args and command == "compare":
        pytest.skip("compare takes templates per approach, in a recipe")
    code = main([*head, *args, "--output-dir", str(tmp_path / "o")])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and line.startswith("llmdisc: error: ") and message in line


# ---- templates by task ---------------------------------------------------------------------------


def test_the_default_template_is_task_neutral_and_the_task_picks_others():
    assert get_classifier("zeroshot").templates[0].source == NEUTRAL_TEMPLATE
    assert "entiment" not in NEUTRAL_TEMPLATE and "eview" not in NEUTRAL_TEMPLATE
    assert get_classifier("zeroshot", task="sentiment").templates[0].source == REVIEW_TEMPLATE
    assert get_classifier("lora", task="topic").templates[0].source == TASKS["topic"][0]
    instruction = get_classifier("zeroshot", task="Is this message spam or not?").templates[0]
    assert instruction.source.startswith("Is this message spam or not?\n")
    assert instruction.direct("hi", "spam")[0].startswith("Is this message spam or not?\n")
    # Templates given win over the task; the resolved ones are recorded in the config (and the saved folder).
    own = get_classifier("zeroshot", task="sentiment", templates=["{text} It was {label} ."])
    assert [t.source for t in own.templates] == own.config.templates == ["{text} It was {label} ."]
    assert get_classifier("zeroshot", task="sentiment").config.templates == [REVIEW_TEMPLATE]


def test_data_settings_fill_in_and_the_approach_wins():
    data = {"neg": "negative", "pos": "positive"}
    assert with_data_settings({}, data, "sentiment") == {"verbalizers": data, "task": "sentiment"}
    assert with_data_settings({"verbalizers": {"neg": "awful"}, "task": "topic"}, data, "sentiment") == {
        "verbalizers": {"neg": "awful", "pos": "positive"},
        "task": "topic",
    }
    assert with_data_settings({"verbalizers": "neg=awful"}, data, None)["verbalizers"] == {
        "neg": "awful",
        "pos": "positive",
    }
    assert with_data_settings({"mode": "channel"}, None, None) == {"mode": "channel"}


# ---- the comparison and train use them -----------------------------------------------------------


def test_compare_gives_the_data_level_words_to_every_likelihood_approach(demo, tiny_gpt2, tmp_path, caplog):
    from llmdisc.comparison.grid import compare

    data = relabelled(demo, ["neg", "pos"])
    data["validation"] = data["validation"].select(range(20))
    approaches = {
        "zs": {"approach": "zeroshot", "model": str(tiny_gpt2)},
        "zs_own": {"approach": "zeroshot", "model": str(tiny_gpt2), "verbalizers": {"neg": "awful"}},
        "nb": {"approach": "naive_bayes"},
    }
    records = compare(
        approaches,
        data,
        splits=["validation"],
        verbalizers={"neg": "negative", "pos": "positive"},
        task="sentiment",
        selection_split=None,
        output_dir=tmp_path / "o",
    )
    assert all(r.ok for r in records)
    note = records[0].notes
    assert "zs: neg -> 'negative', pos -> 'positive'" in note and "zs_own: neg -> 'awful', pos -> 'positive'" in note
    assert "nb" not in note
    import json

    cached = json.loads((tmp_path / "o" / "runs" / "zs" / "zero-shot.json").read_text())["config"]
    assert cached["verbalizers"] == {"neg": "negative", "pos": "positive"} and cached["task"] == "sentiment"
    # Without words: one warning line, before the first run, for the whole grid.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="llmdisc"):
        compare(
            {k: v for k, v in approaches.items() if k != "zs_own"}, data, splits=["validation"], selection_split=None
        )
    warnings = [r.getMessage() for r in caplog.records if "unlikely to be words" in r.getMessage()]
    assert len(warnings) == 1 and "'neg', 'pos'" in warnings[0] and "zs score" in warnings[0]
    assert "--task" not in warnings[0]  # zs picked its template on training examples: words are what is left


@pytest.mark.parametrize("task", [None, "sentiment"])
def test_train_names_the_task_in_the_warning_where_nothing_picked_the_template(
    demo, tiny_gpt2, tmp_path, caplog, task
):
    for split in ("train", "validation"):
        demo[split].to_csv(tmp_path / f"{split}.csv", index=False)  # the labels written as 0 / 1
    files = f"train={tmp_path / 'train.csv'},validation={tmp_path / 'validation.csv'}"
    args = ["train", "zeroshot", "--data", files, "--model", str(tiny_gpt2), "--max-train-samples", "8"]
    with caplog.at_level(logging.WARNING, logger="llmdisc"):
        code = main([*args, *(["--task", task] if task else []), "--output-dir", str(tmp_path / "z")])
    (line,) = [r.getMessage() for r in caplog.records if "unlikely to be words" in r.getMessage()]
    assert code == 0 and "--verbalizers 0=WORD,1=WORD" in line
    assert ("--task sentiment, topic, spam" in line) == (task is None)


def test_train_takes_the_words_and_the_model_card_states_them(tmp_path, tiny_gpt2, caplog):
    with caplog.at_level(logging.WARNING, logger="llmdisc"):
        assert (
            main(
                [
                    "train",
                    "zeroshot",
                    "--model",
                    str(tiny_gpt2),
                    "--verbalizers",
                    "negative=awful,positive=great",
                    "--eval-splits",
                    "validation",
                    "--output-dir",
                    str(tmp_path / "z"),
                ]
            )
            == 0
        )
    assert "unlikely to be words" not in caplog.text
    clf = TextClassifier.from_pretrained(tmp_path / "z")
    assert clf.label_words(clf.labels) == ["awful", "great"]
    card = (tmp_path / "z" / "README.md").read_text()
    assert "`negative` as `awful`" in card and "`positive` as `great`" in card and repr(NEUTRAL_TEMPLATE)[1:-1] in card


# ---- prior correction ----------------------------------------------------------------------------


def test_prior_weights_swap_the_models_prior_for_the_training_one():
    labels = np.array([0] * 18 + [1] * 2)
    # The model already predicts as often as the classes occur: nothing to correct (up to smoothing).
    matched = np.tile([0.9, 0.1], (20, 1))
    w = prior_weights(matched, labels)
    assert w[0] / w[1] == pytest.approx(1, abs=0.15)
    # A model biased to class 1 on data that is 90% class 0: class 0 is boosted.
    biased = np.tile([0.3, 0.7], (20, 1))
    w = prior_weights(biased, labels)
    assert w[0] > 1 > w[1]
    corrected = apply_weights(biased, w)
    assert np.allclose(corrected.sum(axis=1), 1) and (corrected.argmax(1) == 0).all()
    with pytest.raises(LlmdiscError, match="needs training examples"):
        prior_weights(np.zeros((0, 2)), np.array([], dtype=int))


def test_zeroshot_with_the_training_prior_is_a_trained_approach(demo, tiny_gpt2, tmp_path):
    from llmdisc import stratified_subset

    train = stratified_subset(demo["train"], 16, 0)
    plain = get_classifier("zeroshot", model=str(tiny_gpt2)).fit(train)
    clf = get_classifier("zeroshot", model=str(tiny_gpt2), prior="train").fit(train)
    assert clf.uses_training_data and not plain.uses_training_data
    expected = prior_weights(plain.predict_proba(train["text"]), np.asarray(train["label"]))
    np.testing.assert_allclose(clf.prior_weights, expected, rtol=1e-6)
    texts = demo["test"]["text"][:5]
    np.testing.assert_allclose(
        clf.predict_proba(texts), apply_weights(plain.predict_proba(texts), expected), atol=1e-6
    )
    loaded = TextClassifier.from_pretrained(clf.save_pretrained(tmp_path / "zs"))
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    with pytest.raises(LlmdiscError, match="unknown prior 'uniform'; use none or train"):
        get_classifier("zeroshot", prior="uniform")


def test_the_model_cards_own_code_applies_the_prior(demo, tiny_gpt2, tmp_path):
    """The card's plain-transformers snippet gives the prior-corrected (and calibrated) probabilities."""
    from llmdisc import stratified_subset

    clf = get_classifier(
        "zeroshot", model=str(tiny_gpt2), prior="train", calibrate=True, verbalizers={"negative": "awful"}
    ).fit(stratified_subset(demo["train"], 12, 0))
    readme = (clf.save_pretrained(tmp_path / "zs") / "README.md").read_text(encoding="utf-8")
    assert "`negative` as `awful`" in readme and "training class prior" in readme
    code = re.search(r"### With (.+?) only\n\n```python\n(.*?)```", readme, re.S).group(2)
    namespace: dict = {}
    exec(compile(code, "card-snippet", "exec"), namespace)  # noqa: S102
    np.testing.assert_allclose(np.asarray(namespace["probs"]), clf.predict_proba(namespace["texts"]), atol=1e-5)
