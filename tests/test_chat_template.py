"""Instruct models prompted through their chat template (``chat_template: true``), on a tiny
random Llama whose tokenizer has a simple template (conftest's ``tiny_chat_llama``).

What is pinned down: the prompt is the user's turn and the scored part starts the assistant's
answer (as lm-evaluation-harness's ``--apply_chat_template``); the scores equal a plain forward
pass over exactly those tokens; direct mode gives lm-eval's probabilities; a model without a
template is one line before it loads; saved folders and model cards keep the setting.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import llmdisc
from llmdisc import LlmdiscError, TextClassifier, get_classifier, stratified_subset
from llmdisc.lm.label_likelihood import LikelihoodScorer, PromptScoring, chat_request
from llmdisc.lm.loglikelihood import encode_pair
from llmdisc.metrics.classification import softmax

TEMPLATE = "Review: {text}\nSentiment: {label}"
LABELS = ["negative", "positive"]
TEXTS = ["the food was cold and the staff rude", "a lovely little place, we will be back", "fine"]
REPO = "someone/llmdisc-chat-test"


@pytest.fixture(scope="module")
def chat_lm(tiny_chat_llama):
    return llmdisc.load_model(str(tiny_chat_llama))


def render(tokenizer, user: str) -> str:
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": user}], add_generation_prompt=True, tokenize=False
    )


def forward_logprob(model, tokenizer, prompt: str, answer: str) -> float:
    """log P(answer | prompt) from one unbatched forward pass, no cache."""
    ctx = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = tokenizer(prompt + answer, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = model(input_ids=torch.tensor([ids])).logits[0].float().log_softmax(-1)
    return sum(logp[i - 1, ids[i]].item() for i in range(len(ctx), len(ids)))


def test_the_prompt_is_the_users_turn_and_the_label_word_starts_the_answer(chat_lm):
    _, tokenizer = chat_lm
    context, continuation = chat_request(tokenizer, "Review: fine\nSentiment:", " negative")
    assert context == "<|user|>\nReview: fine\nSentiment:\n<|assistant|>\n" and continuation == "negative"
    context_ids, continuation_ids = encode_pair(tokenizer, context, continuation, chat=True)
    # The rendered prompt is tokenized whole (its newline stays), the answer's tokens follow it.
    assert context_ids == tokenizer(context, add_special_tokens=False)["input_ids"]
    assert context_ids + continuation_ids == tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(continuation_ids) == "negative"


@pytest.mark.parametrize("mode", ["direct", "channel"])
def test_scores_are_the_answers_log_likelihood_after_the_rendered_prompt(chat_lm, mode):
    model, tokenizer = chat_lm
    scorer = LikelihoodScorer(
        model, tokenizer, LABELS, [TEMPLATE], scoring=PromptScoring(mode=mode, chat_template=True, batch_size=4)
    )
    scores = scorer.label_scores(TEXTS, scorer.templates[0])
    if mode == "direct":  # the user asks about the review; the answer begins with the label word
        expected = [
            [forward_logprob(model, tokenizer, render(tokenizer, f"Review: {t}\nSentiment:"), w) for w in LABELS]
            for t in TEXTS
        ]
    else:  # channel: the user's turn names the label; the text alone is scored, as the answer
        expected = [
            [forward_logprob(model, tokenizer, render(tokenizer, f"Sentiment: {w}\nReview:"), t) for w in LABELS]
            for t in TEXTS
        ]
    np.testing.assert_allclose(scores, np.array(expected), atol=1e-4)


def test_direct_mode_gives_lm_evaluation_harness_probabilities(chat_lm):
    """The peer: lm-eval's HFLM with its chat template applied, on the same model and prompts.

    lm-eval renders the user's turn with the generation prompt, scores the label word with no
    delimiter, and moves the prompt's trailing newline into the continuation, so it also scores
    P("\\n" | prompt): the same term for every label of a text, so the probabilities agree.
    """
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    model, tokenizer = chat_lm
    peer = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=4)
    prompts = [peer.apply_chat_template([{"role": "user", "content": f"Review: {t}\nSentiment:"}]) for t in TEXTS]
    assert prompts == [chat_request(tokenizer, f"Review: {t}\nSentiment:", " negative")[0] for t in TEXTS]
    instances = [
        Instance(request_type="loglikelihood", doc={}, arguments=(p, w), idx=i)
        for i, (p, w) in enumerate((p, w) for p in prompts for w in LABELS)
    ]
    theirs = np.array([ll for ll, _ in peer.loglikelihood(instances, disable_tqdm=True)]).reshape(
        len(TEXTS), len(LABELS)
    )
    ours = LikelihoodScorer(
        model, tokenizer, LABELS, [TEMPLATE], scoring=PromptScoring(chat_template=True)
    ).probabilities(TEXTS)
    np.testing.assert_allclose(ours, softmax(theirs), atol=1e-4)
    without = LikelihoodScorer(model, tokenizer, LABELS, [TEMPLATE]).probabilities(TEXTS)
    assert np.abs(without - ours).max() > 1e-3  # the template changes what is scored


@pytest.mark.parametrize(
    "approach, settings", [("zeroshot", {}), ("lora", {"head": "verbalizer"}), ("lora", {"head": "sequence"})]
)
def test_a_model_without_a_chat_template_is_one_line_before_it_loads(approach, settings, tiny_llama, monkeypatch):
    import llmdisc.classifiers.lora
    import llmdisc.classifiers.zeroshot

    for module in (llmdisc.classifiers.zeroshot, llmdisc.classifiers.lora):
        monkeypatch.setattr(module, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    clf = get_classifier(approach, model=str(tiny_llama), chat_template=True, **settings)
    with pytest.raises(
        LlmdiscError, match="has no chat template .a base model, not an instruct one.; set chat_template: false"
    ) as e:
        clf.check(LABELS)
    assert "\n" not in str(e.value)


def test_the_sequence_head_formats_with_one_template():
    with pytest.raises(LlmdiscError, match="sequence head formats its chat prompt with one template"):
        get_classifier(
            "lora", head="sequence", chat_template=True, templates=[TEMPLATE, "Text: {text}\nLabel: {label}"]
        )


def _card_snippet_probs(folder, texts_key: str = "texts"):
    readme = (folder / "README.md").read_text(encoding="utf-8")
    code = re.search(r"### With (.+?) only\n\n```python\n(.*?)```", readme, re.S).group(2)
    namespace: dict = {}
    exec(compile(code.replace(repr(REPO), repr(str(folder))), "card-snippet", "exec"), namespace)  # noqa: S102
    return readme, np.asarray(namespace["probs"], dtype=float), namespace[texts_key]


@pytest.mark.parametrize("settings", [{"mode": "direct", "calibrate": True, "k_shot": 1}, {"mode": "channel"}])
def test_zeroshot_keeps_the_setting_when_saved_and_its_card_says_it(settings, tiny_chat_llama, demo, tmp_path):
    clf = get_classifier("zeroshot", model=str(tiny_chat_llama), chat_template=True, task="sentiment", **settings)
    clf.fit(stratified_subset(demo["train"], 8))
    folder = clf.save_pretrained(tmp_path / "zs", repo_id=REPO)
    loaded = TextClassifier.from_pretrained(folder)
    assert loaded.config.chat_template
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), clf.predict_proba(TEXTS), atol=1e-6)
    readme, probs, texts = _card_snippet_probs(folder)
    assert "chat template" in readme
    np.testing.assert_allclose(probs, clf.predict_proba(texts), atol=1e-5)  # the card's plain code, chat and all


@pytest.mark.parametrize("head", ["verbalizer", "channel", "sequence"])
def test_lora_heads_train_and_predict_in_the_chat_template(head, tiny_chat_llama, demo, tmp_path):
    train = stratified_subset(demo["train"], 8)
    clf = get_classifier(
        "lora", model=str(tiny_chat_llama), head=head, chat_template=True, task="sentiment", max_steps=2, batch_size=4
    )
    clf.fit(train)
    tokenizer = clf.tokenizer
    text, label = train["text"][0], train["label"][0]
    row = clf._examples([text], np.array([label]))[0]
    word = clf.labels[label]
    if head == "sequence":  # the rendered prompt, whose last token the head reads
        assert tokenizer.decode(row["input_ids"]) == render(tokenizer, f"Review: {text}\nSentiment:")
    else:  # the loss reads the answer only: the label word, or the text
        scored = [t for t in row["labels"] if t != -100]
        prompt = row["input_ids"][: len(row["input_ids"]) - len(scored)]
        user = f"Review: {text}\nSentiment:" if head == "verbalizer" else f"Sentiment: {word}\nReview:"
        assert tokenizer.decode(prompt) == render(tokenizer, user)
        assert tokenizer.decode(scored) == (word if head == "verbalizer" else text)
    folder = clf.save_pretrained(tmp_path / head, repo_id=REPO)
    loaded = TextClassifier.from_pretrained(folder)
    assert loaded.config.chat_template
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), clf.predict_proba(TEXTS), atol=1e-5)
    readme, probs, texts = _card_snippet_probs(folder)
    assert "chat template" in readme
    np.testing.assert_allclose(probs, clf.predict_proba(texts), atol=1e-5)
