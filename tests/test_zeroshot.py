"""Zero-shot classification: template pieces, options, and the real SmolLM2 on the demo set."""

from __future__ import annotations

import numpy as np
import pytest

from llmdisc import LlmdiscError, TextClassifier, evaluate_classifier, get_classifier, stratified_subset
from llmdisc.classifiers.zeroshot import MIN_TEMPLATES, REVIEW_TEMPLATE, Template


def test_template_pieces_match_the_reference_settings():
    a = Template(MIN_TEMPLATES[0])  # "{text} A {label} one ."
    assert a.direct("fine", "terrible") == ("fine A", " terrible")
    assert a.channel("fine", "terrible") == ("A terrible one .", " fine")
    assert a.unconditional("terrible") == ("A", " terrible")
    review = Template(REVIEW_TEMPLATE)
    assert review.direct("fine", "negative") == ("Review: fine\nSentiment:", " negative")
    assert review.channel("fine", "negative") == ("Sentiment: negative\nReview:", " fine")


@pytest.mark.parametrize("template, message", [
    ("{label} then {text} x", "must put {text} before {label}"),
    ("no slots", "must hold {text} and {label} once each"),
    ("{text}{label}", "needs whitespace right after {text}"),
])
def test_bad_templates(template, message):
    with pytest.raises(LlmdiscError, match=message):
        get_classifier("zeroshot", templates=[template])


def test_a_template_with_a_comma_on_the_command_line_says_how_to_keep_it(tmp_path, capsys):
    from llmdisc.cli import main

    # A flag's list value is split at commas: this becomes "Review: {text} In short" and "it was {label}".
    code = main(["train", "zeroshot", "--templates", "Review: {text} In short, it was {label}",
                 "--output-dir", str(tmp_path)])
    (message,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message.startswith("llmdisc: error: ")
    assert "\n" not in message and "'Review: {text} In short'" in message and "split at its commas" in message
    assert """--templates '["Review: {text} In short, it was {label}"]'""" in message and "YAML" in message
    with pytest.raises(LlmdiscError) as e:  # two templates as a list, one bad: no talk of commas
        get_classifier("zeroshot", templates=["{text} x {label}", "no slots"])
    assert "comma" not in str(e.value)
    assert get_classifier("zeroshot", templates='["Review: {text} In short, it was {label}"]').templates[0].source == \
        "Review: {text} In short, it was {label}"


def test_identical_verbalizers_and_bad_modes(demo, tiny_gpt2):
    clf = get_classifier("zeroshot", model=str(tiny_gpt2), verbalizers={"negative": "meh", "positive": "meh"})
    with pytest.raises(LlmdiscError, match="two labels share a verbalizer"):
        clf.fit(demo["train"])
    with pytest.raises(LlmdiscError, match="unknown zeroshot mode 'both'"):
        get_classifier("zeroshot", mode="both")
    with pytest.raises(LlmdiscError, match="pmi applies to direct mode only"):
        get_classifier("zeroshot", mode="channel", pmi=True)


def test_calibration_makes_the_content_free_input_uniform(demo, tiny_gpt2):
    clf = get_classifier("zeroshot", model=str(tiny_gpt2), calibrate=True).fit(demo["train"])
    np.testing.assert_allclose(clf.predict_proba(["N/A"]), [[0.5, 0.5]], atol=1e-6)
    raw = get_classifier("zeroshot", model=str(tiny_gpt2)).fit(demo["train"])
    assert not np.allclose(raw.predict_proba(["N/A"]), [[0.5, 0.5]], atol=1e-3)


@pytest.mark.parametrize("options", [
    {"mode": "channel"}, {"pmi": True}, {"length_normalize": True},
    {"templates": MIN_TEMPLATES, "verbalizers": {"negative": "terrible", "positive": "great"}},
])
def test_options_give_distributions(options, demo, tiny_gpt2):
    clf = get_classifier("zeroshot", model=str(tiny_gpt2), **options).fit(demo["train"])
    probs = clf.predict_proba(demo["test"]["text"][:6])
    assert probs.shape == (6, 2) and np.allclose(probs.sum(1), 1)


def test_k_shot_demonstrations_are_seeded_and_saved(demo, tiny_gpt2, tmp_path):
    clf = get_classifier("zeroshot", model=str(tiny_gpt2), k_shot=3, seed=7).fit(demo["train"])
    again = get_classifier("zeroshot", model=str(tiny_gpt2), k_shot=3, seed=7).fit(demo["train"])
    assert clf.demonstrations == again.demonstrations and len(clf.demonstrations) == 3
    prefix = clf._prefix(clf.templates[0])
    assert prefix.count("Review: ") == 3 and prefix.endswith("\n\n")
    loaded = TextClassifier.from_pretrained(clf.save_pretrained(tmp_path / "zs"))
    assert loaded.demonstrations == clf.demonstrations
    texts = demo["test"]["text"][:4]
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)


@pytest.mark.slow
def test_smollm2_zero_shot_beats_chance_on_demo(demo):
    clf = get_classifier("zeroshot", model="smollm2-135m").fit(stratified_subset(demo["train"], 8))
    accuracy = evaluate_classifier(clf, demo["test"])["accuracy"]
    assert accuracy >= 0.65, accuracy  # 80 balanced reviews; >= 0.65 has p < 0.005 under chance


def test_multi_token_verbalizers_are_scored_whole(demo, tiny_gpt2):
    from llmdisc.scoring import loglikelihood

    words = {"negative": "not good at all", "positive": "really very good"}
    clf = get_classifier("zeroshot", model=str(tiny_gpt2), verbalizers=words).fit(demo["train"])
    assert all(len(clf.tokenizer(" " + w, add_special_tokens=False)["input_ids"]) > 1 for w in words.values())
    text = demo["test"]["text"][0]
    scores = loglikelihood(clf.model, clf.tokenizer, [(f"Review: {text}\nSentiment:", " " + w) for w in words.values()])
    expected = np.exp(scores - np.max(scores))
    np.testing.assert_allclose(clf.predict_proba([text])[0], expected / expected.sum(), atol=1e-6)


@pytest.mark.parametrize("mode", ["direct", "channel"])
def test_an_overlong_text_is_truncated_alike_in_both_modes(mode, demo, tiny_gpt2, caplog):
    # The tiny GPT-2 has 128 positions; the long text is ~500 tokens. It used to fail the whole
    # batch in channel mode (its text is the scored continuation) and be cut from the left in direct.
    clf = get_classifier("zeroshot", model=str(tiny_gpt2), mode=mode).fit(demo["train"])
    long_text = " ".join(demo["train"]["text"][:40])
    with caplog.at_level("WARNING"):
        probs = clf.predict_proba([long_text, "short and sweet"])
    assert probs.shape == (2, 2) and np.allclose(probs.sum(axis=1), 1)
    assert "zeroshot: truncated 1 of 2 texts to their first" in caplog.text
    assert "context is cut" not in caplog.text
    # The policy is "keep the text's start": the long text scores as its own first tokens do.
    n = int(caplog.text.split("to their first ")[1].split()[0])
    start = clf.tokenizer.decode(clf.tokenizer(long_text, add_special_tokens=False)["input_ids"][:n])
    np.testing.assert_allclose(probs[0], clf.predict_proba([start])[0], atol=1e-5)
