"""Prompt selection at each training size (zeroshot select: true): the candidates' rule, the
choice against a brute force over plain zero-shot classifiers, the held-out prior, what is
recorded and saved, and the bad input refused before any model loads. And the once-only pick
(pick_prompt): a comparison's plain zero-shot entry picks its prompt on the smallest training
subset only, and a prompt someone chose is left alone."""

from __future__ import annotations

import re

import numpy as np
import pytest

import llmdisc
from llmdisc import LlmdiscError, get_classifier, stratified_subset
from llmdisc.cli import main
from llmdisc.data.subsets import subset_hash
from llmdisc.lm.prompt_selection import (
    MAX_WORD_SETS,
    _folds,
    candidate_templates,
    candidate_verbalizers,
    cross_validated,
    pick_verbalizers,
)
from llmdisc.lm.prompts import NEUTRAL_TEMPLATE, REVIEW_TEMPLATE, TASKS

# ---- the candidates --------------------------------------------------------------------------


def test_candidate_templates_follow_the_documented_rule():
    assert candidate_templates(["{text} A {label} one .", "{text} A {label} one ."], None) == [
        "{text} A {label} one ."
    ]
    assert candidate_templates(None, "sentiment") == [REVIEW_TEMPLATE, NEUTRAL_TEMPLATE]
    # No task said: the neutral template, then every named task's, so the examples pick the task.
    assert candidate_templates(None, None) == [NEUTRAL_TEMPLATE, *(t for ts in TASKS.values() for t in ts)]


def test_candidate_words_follow_the_documented_rule():
    # Scorable names are a candidate of their own; the user's verbalizers come first.
    assert candidate_verbalizers(["negative", "positive"], None, None) == [
        {"negative": "negative", "positive": "positive"}
    ]
    assert candidate_verbalizers(["negative", "positive"], {"negative": "bad"}, None) == [
        {"negative": "bad", "positive": "positive"},
        {"negative": "negative", "positive": "positive"},
    ]
    # Flagged names (digits, neg/pos) are not; candidate words are tried in every assignment.
    assert candidate_verbalizers(["0", "1"], None, ["negative", "positive"]) == [
        {"0": "negative", "1": "positive"},
        {"0": "positive", "1": "negative"},
    ]
    assert len(candidate_verbalizers(["neg", "pos"], None, ["bad", "good", "fine"])) == 6
    # A set that appears twice is tried once.
    assert candidate_verbalizers(["0", "1"], {"0": "negative", "1": "positive"}, ["negative", "positive"]) == [
        {"0": "negative", "1": "positive"},
        {"0": "positive", "1": "negative"},
    ]


@pytest.mark.parametrize(
    "labels, words, message",
    [
        (["0", "1"], None, "the label names '0', '1' are not words an LM scores as meant"),
        (["neg", "pos"], ["", "good"], "candidate_words holds an empty word"),
        (["neg", "pos"], ["good", "good"], "candidate_words repeats a word"),
        (["a1", "b2", "c3"], ["x", "y"], "candidate_words has 2 words for 3 labels"),
        (["a1", "b2", "c3", "d4"], [f"w{i}" for i in range(9)], f"at most {MAX_WORD_SETS}"),
    ],
)
def test_bad_candidate_words_are_one_line(labels, words, message):
    with pytest.raises(LlmdiscError) as e:
        candidate_verbalizers(labels, None, words)
    assert message in str(e.value) and "\n" not in str(e.value)
    if words is None:  # the refusal names both fixes
        assert "--verbalizers 0=WORD,1=WORD" in str(e.value) and "candidate_words" in str(e.value)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"select": True, "k_shot": 2}, "select: true does not combine with k_shot > 0"),
        ({"select": True, "select_metric": "f1"}, "unknown select_metric 'f1'"),
        ({"select": True, "select_folds": 1}, "select_folds must be at least 2"),
        ({"candidate_words": ["bad", "good"]}, "candidate_words needs select: true or pick_prompt: true"),
        (
            {"pick_prompt": True, "select": True},
            "pick_prompt: true picks a prompt once and stays zero-shot, which select",
        ),
        ({"pick_prompt": True, "k_shot": 2}, "which k_shot: 2 is not; use select: true"),
        ({"pick_prompt": True, "prior": "train"}, "which prior: train is not; use select: true"),
        ({"select": True, "templates": ["Review: {text}"]}, "must hold {text} and {label} once each"),
    ],
)
def test_bad_select_settings(config, message):
    with pytest.raises(LlmdiscError, match=re.escape(message)):
        get_classifier("zeroshot", **config)


# ---- the choice ------------------------------------------------------------------------------

TEMPLATES = [REVIEW_TEMPLATE, NEUTRAL_TEMPLATE, "{text} It was {label} ."]
WORDS = ["terrible", "great", "fine"]


def _train(demo, n=12, seed=0):
    return stratified_subset(demo["train"], n, seed)


def test_the_choice_is_the_best_plain_zeroshot_on_the_training_examples(demo, tiny_gpt2):
    """Each candidate scored as a plain zero-shot classifier would be: the winner is the first best."""
    train = _train(demo)
    gold = np.asarray(train["label"])
    clf = get_classifier(
        "zeroshot", model=str(tiny_gpt2), select=True, templates=TEMPLATES, candidate_words=WORDS, calibrate=True
    ).fit(train)
    labels = demo["train"].features["label"].names
    results = []
    for template in TEMPLATES:
        for words in candidate_verbalizers(labels, None, WORDS):
            plain = get_classifier(
                "zeroshot", model=str(tiny_gpt2), templates=[template], verbalizers=words, calibrate=True
            ).fit(train)
            probs = plain.predict_proba(list(train["text"]))
            results.append(
                (
                    float((probs.argmax(1) == gold).mean()),
                    float(np.log(probs[np.arange(len(gold)), gold]).mean()),
                    -len(results),
                    template,
                    words,
                )
            )
    best = max(results, key=lambda r: r[:3])
    choice = clf.info.prompt
    assert choice.candidates == len(results) == len(TEMPLATES) * (1 + 6)
    assert (choice.template, choice.words) == (best[3], best[4])
    assert choice.accuracy == pytest.approx(best[0]) and choice.log_likelihood == pytest.approx(best[1], abs=1e-6)
    assert clf.templates[0].source == best[3] and clf.label_words(labels) == [best[4][lab] for lab in labels]
    # It then predicts as the plain classifier with the chosen prompt.
    plain = get_classifier(
        "zeroshot", model=str(tiny_gpt2), templates=[best[3]], verbalizers=best[4], calibrate=True
    ).fit(train)
    texts = list(demo["test"]["text"][:8])
    np.testing.assert_allclose(clf.predict_proba(texts), plain.predict_proba(texts), atol=1e-6)


def test_a_fitted_prior_is_fitted_on_the_other_folds_only():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([1, 1], size=20)
    labels = np.array([0, 1] * 10)
    folds = _folds(labels, 4, seed=0)
    held_out = cross_validated(probs, labels, folds)
    test_idx = folds[0][1]
    flipped = labels.copy()
    flipped[test_idx] = 1 - flipped[test_idx]  # the held-out examples' own labels play no part
    np.testing.assert_allclose(cross_validated(probs, flipped, folds)[test_idx], held_out[test_idx])
    flipped = labels.copy()
    flipped[folds[0][0][:3]] = 1  # the training part's do
    assert not np.allclose(cross_validated(probs, flipped, folds)[test_idx], held_out[test_idx])
    assert cross_validated(probs, labels, None) is probs  # nothing fitted: nothing to hold out


def test_the_choice_is_saved_reloaded_and_on_the_card(demo, tiny_gpt2, tmp_path):
    train = _train(demo)
    clf = get_classifier(
        "zeroshot", model=str(tiny_gpt2), select=True, templates=TEMPLATES, candidate_words=WORDS, prior="train"
    ).fit(train)
    assert clf.uses_training_data and clf.info.prompt.folds == 4
    clf.save_pretrained(tmp_path / "m")
    back = llmdisc.TextClassifier.from_pretrained(tmp_path / "m")
    assert back.info.prompt == clf.info.prompt and back.templates == clf.templates
    assert back.label_words(back.labels) == clf.label_words(clf.labels)
    texts = list(demo["test"]["text"][:6])
    np.testing.assert_allclose(back.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    approach = back.card_info("me/m").how_it_works
    assert "the prompt chosen on the training examples" in approach and repr(clf.info.prompt.template) in approach


def test_pure_zeroshot_selects_nothing(demo, tiny_gpt2):
    clf = get_classifier("zeroshot", model=str(tiny_gpt2)).fit(_train(demo))
    assert not clf.uses_training_data and clf.info.prompt is None and clf.templates[0].source == NEUTRAL_TEMPLATE


def test_a_comparison_runs_selection_at_each_size_and_reports_the_winners(demo, tiny_gpt2, tmp_path):
    approaches = {
        "zs": {"approach": "zeroshot", "model": str(tiny_gpt2)},
        "zs_select": {
            "approach": "zeroshot",
            "model": str(tiny_gpt2),
            "select": True,
            "templates": TEMPLATES[:2],
            "candidate_words": WORDS[:2],
        },
    }
    records = llmdisc.compare(approaches, demo, splits=["test"], sizes=[8, 16], output_dir=tmp_path / "o")
    chosen = [r for r in records if r.variant == "zs_select"]
    assert sorted(r.train_examples for r in chosen) == [8, 16]
    assert all(r.prompt and "training examples" in r.prompt for r in chosen)
    # The plain entry picked its prompt once, on the smallest size's examples, and stayed zero-shot.
    (plain,) = [r for r in records if r.variant == "zs"]
    assert plain.flat and "on the 8 training examples" in plain.prompt
    from llmdisc.reporting.report import write_report

    report = write_report(records, tmp_path / "r", title="t", settings={}).read_text()
    assert "## Prompts chosen" in report and chosen[0].prompt.replace("\n", "\\n")[:20] in report.replace("\n", "\\n")


# ---- bad input before any model loads ---------------------------------------------------------


def _no_loading(monkeypatch):
    import llmdisc.classifiers.zeroshot

    def no_loading(*a, **k):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(llmdisc.classifiers.zeroshot, "load_model", no_loading)


def test_fewer_examples_than_folds_is_refused_before_any_model_loads(demo, tiny_gpt2, monkeypatch, tmp_path, capsys):
    _no_loading(monkeypatch)
    with pytest.raises(LlmdiscError) as e:
        llmdisc.compare(
            {"zs": {"approach": "zeroshot", "model": str(tiny_gpt2), "select": True}},
            demo,
            splits=["test"],
            sizes=[2, 8],
            output_dir=tmp_path / "o",
        )
    assert "approach 'zs': select: 2 training examples cannot fill 4 cross-validation folds" in str(e.value)
    code = main(
        [
            "train",
            "zeroshot",
            "--model",
            str(tiny_gpt2),
            "--select",
            "--select-folds",
            "5",
            "--max-train-samples",
            "4",
            "--output-dir",
            str(tmp_path / "t"),
        ]
    )
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "select: 4 training examples cannot fill 5 cross-validation folds" in line


def test_digit_labels_without_words_are_refused_before_any_model_loads(demo, tiny_gpt2, monkeypatch):
    _no_loading(monkeypatch)
    import datasets

    data = demo.cast_column("label", datasets.ClassLabel(names=["0", "1"]))
    with pytest.raises(LlmdiscError) as e:
        llmdisc.compare(
            {"zs": {"approach": "zeroshot", "model": str(tiny_gpt2), "select": True}}, data, splits=["test"], sizes=[8]
        )
    assert "no label words to choose from" in str(e.value) and "--verbalizers 0=WORD,1=WORD" in str(e.value)


# ---- the once-only pick (pick_prompt) ----------------------------------------------------------


def test_the_pick_keeps_the_users_words_and_chooses_only_among_candidate_words():
    labels = ["neg", "pos"]
    assert pick_verbalizers(labels, {"neg": "awful"}, ["bad", "good"]) == [{"neg": "awful", "pos": "pos"}]
    assert pick_verbalizers(labels, None, None) == [{"neg": "neg", "pos": "pos"}]  # flagged, but nothing else
    assert pick_verbalizers(labels, None, ["bad", "good"]) == candidate_verbalizers(labels, None, ["bad", "good"])
    assert pick_verbalizers(["negative", "positive"], None, None) == [{"negative": "negative", "positive": "positive"}]


def test_pick_prompt_alone_picks_on_the_examples_fit_is_given_and_stays_zeroshot(demo, tiny_gpt2, tmp_path):
    train = _train(demo, n=6)  # fewer than select's 4 folds need: nothing is fitted, so no folds
    clf = get_classifier("zeroshot", model=str(tiny_gpt2), pick_prompt=True).fit(train)
    choice = clf.info.prompt
    assert not clf.uses_training_data and clf.prompt_pick() is None
    assert choice.examples == 6 and choice.folds is None and choice.candidates == len(candidate_templates(None, None))
    assert clf.templates[0].source == choice.template and choice.words == {
        "negative": "negative",
        "positive": "positive",
    }
    clf.save_pretrained(tmp_path / "m")  # the pick is kept, as select's choice is
    back = llmdisc.TextClassifier.from_pretrained(tmp_path / "m")
    assert back.info.prompt == choice and back.templates == clf.templates
    texts = list(demo["test"]["text"][:6])
    np.testing.assert_allclose(back.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    # Outside a comparison the default picks nothing (the comparison asks, through prompt_pick).
    plain = get_classifier("zeroshot", model=str(tiny_gpt2))
    assert plain.prompt_pick() == {"pick_prompt": True} and plain.templates[0].source == NEUTRAL_TEMPLATE


def _spy_on_selection(monkeypatch) -> list[list[str]]:
    """The texts each prompt selection reads (the real selection still runs)."""
    import llmdisc.classifiers.zeroshot

    seen, real = [], llmdisc.classifiers.zeroshot.select_prompt

    def spy(model, tokenizer, label_names, texts, *args, **kwargs):
        seen.append(list(texts))
        return real(model, tokenizer, label_names, texts, *args, **kwargs)

    monkeypatch.setattr(llmdisc.classifiers.zeroshot, "select_prompt", spy)
    return seen


def test_a_comparisons_plain_zeroshot_picks_its_prompt_once_on_the_smallest_subset(
    demo, tiny_gpt2, tmp_path, monkeypatch
):
    seen = _spy_on_selection(monkeypatch)
    monkeypatch.setattr("llmdisc.comparison.costs.REPEATS", 1)  # one fit per cell: the timing repeats refit
    approaches = {
        "zs": {"approach": "zeroshot", "model": str(tiny_gpt2)},
        "nb": {"approach": "naive_bayes", "sizes": [12, 32]},  # an entry's own sizes count too
    }
    settings = dict(splits=["test"], sizes=[16, 32], seeds=2, seed=1, output_dir=tmp_path / "o")
    records = llmdisc.compare(approaches, demo, **settings)
    (zs,) = [r for r in records if r.variant == "zs"]
    smallest = stratified_subset(demo["train"], 12, 1)  # the smallest size any approach trains at, first seed
    assert seen == [list(smallest["text"])]  # one pick, on those examples and no others
    assert zs.flat and zs.train_examples == 0 and zs.seed is None and zs.train_subset == subset_hash(smallest)
    nb_smallest = [r for r in records if r.variant == "nb" and r.train_examples == 12 and r.seed == 1]
    assert nb_smallest[0].train_subset == zs.train_subset  # the very examples a trained approach saw
    template = next(t for t in candidate_templates(None, None) if zs.prompt.startswith(repr(t)))
    assert "on the 12 training examples, best of 4" in zs.prompt
    # It then classifies zero-shot with the pick: as a plain classifier given that template.
    plain = get_classifier("zeroshot", model=str(tiny_gpt2), templates=[template]).fit(smallest)
    np.testing.assert_allclose(
        zs.per_example.probabilities, plain.predict_proba(list(demo["test"]["text"])), atol=1e-5
    )
    from llmdisc.reporting.report import report_tables

    (row,) = report_tables(records)["prompts"][1]
    assert row[:3] == ["zs", "zero-shot", "-"] and row[3] == zs.prompt
    # Resumed, the pick is cached; with another smallest size it is not silently reused.
    assert llmdisc.compare(approaches, demo, **settings, resume=True) and len(seen) == 1
    approaches["nb"]["sizes"] = [8, 32]
    with pytest.raises(LlmdiscError, match=re.escape("pick.size: 12 -> 8")):
        llmdisc.compare(approaches, demo, **settings, resume=True)


def test_a_pick_reads_at_most_pick_at_most_examples(demo, tiny_gpt2, monkeypatch):
    from llmdisc.comparison import grid

    monkeypatch.setattr(grid, "PICK_AT_MOST", 10)
    seen = _spy_on_selection(monkeypatch)
    monkeypatch.setattr("llmdisc.comparison.costs.REPEATS", 1)  # one fit per cell: the timing repeats refit
    small = type(demo)({"train": demo["train"], "test": demo["test"].select(range(20))})
    llmdisc.compare({"zs": {"approach": "zeroshot", "model": str(tiny_gpt2)}}, small, splits=["test"])  # size all
    assert seen == [list(stratified_subset(demo["train"], 10, 0)["text"])]


def test_a_prompt_someone_chose_is_not_picked(demo, tiny_gpt2, tmp_path, monkeypatch):
    seen = _spy_on_selection(monkeypatch)
    monkeypatch.setattr("llmdisc.comparison.costs.REPEATS", 1)  # one fit per cell: the timing repeats refit
    model = str(tiny_gpt2)
    approaches = {
        "own_template": {"approach": "zeroshot", "model": model, "templates": ["{text} It was {label} ."]},
        "own_task": {"approach": "zeroshot", "model": model, "task": "topic"},
        "off": {"approach": "zeroshot", "model": model, "pick_prompt": False},
        "prior": {"approach": "zeroshot", "model": model, "prior": "train"},  # fits per size: select is its pick
    }
    data = type(demo)({"train": demo["train"], "test": demo["test"].select(range(20))})
    records = llmdisc.compare(approaches, data, splits=["test"], sizes=[8], output_dir=tmp_path / "o")
    assert seen == [] and all(r.ok and r.prompt is None for r in records)
    assert all(r.train_subset is None for r in records if r.flat)
    (off,) = [r for r in records if r.variant == "off"]
    neutral = get_classifier("zeroshot", model=model).fit(data["train"])
    np.testing.assert_allclose(
        off.per_example.probabilities, neutral.predict_proba(list(data["test"]["text"])), atol=1e-5
    )
    # A task named for the whole comparison is a choice too.
    records = llmdisc.compare(
        {"zs": {"approach": "zeroshot", "model": model}}, data, splits=["test"], task="sentiment"
    )
    assert seen == [] and records[0].prompt is None
