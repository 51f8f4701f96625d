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


@pytest.mark.parametrize(
    "template, message",
    [
        ("{label} then {text} x", "must put {text} before {label}"),
        ("no slots", "must hold {text} and {label} once each"),
        ("{text}{label}", "needs whitespace right after {text}"),
    ],
)
def test_bad_templates(template, message):
    with pytest.raises(LlmdiscError, match=message):
        get_classifier("zeroshot", templates=[template])


def test_a_template_with_a_comma_on_the_command_line_says_how_to_keep_it(tmp_path, capsys):
    from llmdisc.cli import main

    # A flag's list value is split at commas: this becomes "Review: {text} In short" and "it was {label}".
    code = main(
        ["train", "zeroshot", "--templates", "Review: {text} In short, it was {label}", "--output-dir", str(tmp_path)]
    )
    (message,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message.startswith("llmdisc: error: ")
    assert "\n" not in message and "'Review: {text} In short'" in message and "split at its commas" in message
    assert """--templates '["Review: {text} In short, it was {label}"]'""" in message and "YAML" in message
    with pytest.raises(LlmdiscError) as e:  # two templates as a list, one bad: no talk of commas
        get_classifier("zeroshot", templates=["{text} x {label}", "no slots"])
    assert "comma" not in str(e.value)
    assert (
        get_classifier("zeroshot", templates='["Review: {text} In short, it was {label}"]').templates[0].source
        == "Review: {text} In short, it was {label}"
    )


def test_identical_verbalizers_and_bad_modes(demo, tiny_gpt2):
    clf = get_classifier("zeroshot", model=str(tiny_gpt2), verbalizers={"negative": "meh", "positive": "meh"})
    with pytest.raises(LlmdiscError, match="two labels share a verbalizer"):
        clf.fit(demo["train"])
    with pytest.raises(LlmdiscError, match="unknown scoring mode 'both'; use direct or channel"):
        get_classifier("zeroshot", mode="both")
    with pytest.raises(LlmdiscError, match="pmi applies to direct mode only"):
        get_classifier("zeroshot", mode="channel", pmi=True)


def test_calibration_makes_the_content_free_input_uniform(demo, tiny_gpt2):
    clf = get_classifier("zeroshot", model=str(tiny_gpt2), calibrate=True).fit(demo["train"])
    np.testing.assert_allclose(clf.predict_proba(["N/A"]), [[0.5, 0.5]], atol=1e-6)
    raw = get_classifier("zeroshot", model=str(tiny_gpt2)).fit(demo["train"])
    assert not np.allclose(raw.predict_proba(["N/A"]), [[0.5, 0.5]], atol=1e-3)


def _softmax(scores):
    scores = np.asarray(scores, dtype=np.float64)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


TEXT = "a plain little film"
SENTIMENT = {"task": "sentiment"}  # the review template, which the hand-built requests below spell out


@pytest.mark.parametrize("option", ["channel", "pmi", "length_normalize", "several_templates"])
def test_each_option_moves_the_scores_as_it_should(option, demo, tiny_gpt2):
    """On a real (tiny) LM, each option gives what its definition computes with the plain scorer."""
    from llmdisc.lm.loglikelihood import loglikelihood

    words = {"negative": "bad", "positive": "very good indeed"}  # unequal token counts
    settings = {
        "channel": {"mode": "channel"},
        "pmi": {"pmi": True},
        "length_normalize": {"length_normalize": True},
        "several_templates": {"templates": MIN_TEMPLATES[:2]},
    }[option]
    plain = get_classifier("zeroshot", model=str(tiny_gpt2), verbalizers=words, **SENTIMENT).fit(demo["train"])
    clf = get_classifier("zeroshot", model=str(tiny_gpt2), verbalizers=words, **{**SENTIMENT, **settings}).fit(
        demo["train"]
    )
    model, tokenizer, review = plain.model, plain.tokenizer, Template(REVIEW_TEMPLATE)

    def ll(pairs, reduce="sum"):
        return np.array(loglikelihood(model, tokenizer, pairs, reduce=reduce))

    if option == "channel":
        expected = _softmax(ll([review.channel(TEXT, w) for w in words.values()]))
    elif option == "pmi":
        expected = _softmax(
            ll([review.direct(TEXT, w) for w in words.values()])
            - ll([review.unconditional(w) for w in words.values()])
        )
    elif option == "length_normalize":
        expected = _softmax(ll([review.direct(TEXT, w) for w in words.values()], reduce="mean"))
    else:
        expected = np.mean(
            [_softmax(ll([Template(t).direct(TEXT, w) for w in words.values()])) for t in MIN_TEMPLATES[:2]], axis=0
        )
    got = clf.predict_proba([TEXT])[0]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # The option changed the output (compared as log-probabilities: a tiny model can be sure of a label).
    assert not np.allclose(np.log(got), np.log(plain.predict_proba([TEXT])[0]), atol=1e-3)


# Hand-made log-probs per token for the review template's requests, each built so that the
# plain direct classifier says positive and the option, by its definition, says negative.
#   direct:           log P(word | "...Sentiment:")
#   pmi:              minus log P(word | "Sentiment:") with no text (positive is likely anyway)
#   length_normalize: the three-token word wins per token (-0.5 > -1.0), not summed (-1.5 < -1.0)
#   channel:          log P(text | "Sentiment: word\nReview:"), far likelier after negative
#   calibrate:        the content-free "N/A" gets positive 0.82 (direct gives the text 0.55)
DIRECT = {
    "pmi": ([-1.2], [-1.0]),
    "length_normalize": ([-0.5, -0.5, -0.5], [-1.0]),
    "channel": ([-1.2], [-1.0]),
    "calibrate": ([-1.0], [-0.8]),
}
WITHOUT_TEXT = ([-3.0], [-0.5])  # pmi's baseline (negative, positive)
CHANNEL = ([-1.0], [-9.0])
CONTENT_FREE = ([-2.0], [-0.5])
SETTINGS = {
    "pmi": {"pmi": True},
    "length_normalize": {"length_normalize": True},
    "channel": {"mode": "channel"},
    "calibrate": {"calibrate": True},
}


def _fake_scores(option, tokenizer):
    """``score_ids`` answering from the tables above: the requests' ids are read back as text."""

    def score(model, requests, *batching):
        out = []
        for ids, continuation_ids in requests:
            context, continuation = tokenizer.decode(ids), tokenizer.decode(continuation_ids)
            if continuation.strip() == TEXT:  # channel: the text after a label's prompt
                tokens = CHANNEL[0 if "negative" in context else 1]
            else:
                which = 0 if continuation.strip() == "negative" else 1
                table = (
                    CONTENT_FREE if "N/A" in context else WITHOUT_TEXT if "Review:" not in context else DIRECT[option]
                )
                tokens = table[which]
            out.append(np.asarray(tokens, dtype=np.float32))
        return out

    return score


@pytest.mark.parametrize("option", sorted(SETTINGS))
def test_each_option_flips_a_constructed_prediction(option, demo, tiny_gpt2, monkeypatch):
    import llmdisc.lm.label_likelihood
    from llmdisc.lm.loading import load_tokenizer

    monkeypatch.setattr(llmdisc.lm.label_likelihood, "score_ids", _fake_scores(option, load_tokenizer(str(tiny_gpt2))))
    plain = get_classifier("zeroshot", model=str(tiny_gpt2), **SENTIMENT).fit(demo["train"])
    clf = get_classifier("zeroshot", model=str(tiny_gpt2), **SENTIMENT, **SETTINGS[option]).fit(demo["train"])
    assert plain.predict([TEXT]) == ["positive"]
    assert clf.predict([TEXT]) == ["negative"]


def test_k_shot_demonstrations_are_seeded_and_saved(demo, tiny_gpt2, tmp_path):
    clf = get_classifier("zeroshot", model=str(tiny_gpt2), k_shot=3, seed=7, **SENTIMENT).fit(demo["train"])
    again = get_classifier("zeroshot", model=str(tiny_gpt2), k_shot=3, seed=7, **SENTIMENT).fit(demo["train"])
    assert clf.demonstrations == again.demonstrations and len(clf.demonstrations) == 3
    prefix = clf.scorer().prefix(clf.templates[0])
    assert prefix.count("Review: ") == 3 and prefix.endswith("\n\n")
    loaded = TextClassifier.from_pretrained(clf.save_pretrained(tmp_path / "zs"))
    assert loaded.demonstrations == clf.demonstrations
    texts = demo["test"]["text"][:4]
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)


@pytest.mark.slow
def test_smollm2_zero_shot_beats_chance_on_demo(demo):
    clf = get_classifier("zeroshot", model="smollm2-135m").fit(stratified_subset(demo["train"], 8))
    accuracy = evaluate_classifier(clf, demo["test"]).metrics["accuracy"]
    assert accuracy >= 0.65, accuracy  # 80 balanced reviews; >= 0.65 has p < 0.005 under chance


def test_multi_token_verbalizers_are_scored_whole(demo, tiny_gpt2):
    from llmdisc.lm.loglikelihood import loglikelihood

    words = {"negative": "not good at all", "positive": "really very good"}
    clf = get_classifier("zeroshot", model=str(tiny_gpt2), verbalizers=words, **SENTIMENT).fit(demo["train"])
    assert all(len(clf.tokenizer(" " + w, add_special_tokens=False)["input_ids"]) > 1 for w in words.values())
    text = demo["test"]["text"][0]
    scores = loglikelihood(
        clf.model, clf.tokenizer, [(f"Review: {text}\nSentiment:", " " + w) for w in words.values()]
    )
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
