"""Training batches split by a token budget (llmdisc.training.micro_batches): the same weights as one pass.

A grid of tiny models x heads, each trained twice on the same batches, once with every batch in
one pass and once split into passes of unequal row counts; the trained weights, the logged loss
and the validation loss must agree to float rounding. The models have no dropout, so both runs
draw no random numbers the other does not.
"""

from __future__ import annotations

import pytest
import torch

from llmdisc import get_classifier, stratified_subset
from llmdisc.errors import LlmdiscError
from llmdisc.training import micro_batches
from llmdisc.training.micro_batches import split_rows


def test_split_rows_keeps_each_pass_within_the_budget():
    batch = {"input_ids": torch.arange(50).view(5, 10), "attention_mask": torch.ones(5, 10), "flag": "kept"}
    passes = split_rows(batch, 25)  # 2 rows of 10 tokens a pass
    assert [p["input_ids"].shape[0] for p in passes] == [2, 2, 1]
    assert torch.equal(torch.cat([p["input_ids"] for p in passes]), batch["input_ids"])
    assert all(p["flag"] == "kept" for p in passes)
    assert split_rows(batch, 50) == [batch] and split_rows(batch, None) == [batch]
    # A row longer than the budget still runs, alone.
    assert [p["input_ids"].shape[0] for p in split_rows(batch, 3)] == [1] * 5


@pytest.fixture(scope="module")
def tiny_bert_without_dropout(tiny_bert, tmp_path_factory):
    from transformers import AutoTokenizer, BertForSequenceClassification

    model = BertForSequenceClassification.from_pretrained(
        tiny_bert, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )
    folder = tmp_path_factory.mktemp("tiny-bert-no-dropout")
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(folder)
    return folder


CASES = {
    "lora-verbalizer": ("lora", {"head": "verbalizer"}),
    "lora-channel": ("lora", {"head": "channel"}),
    "lora-sequence": ("lora", {"head": "sequence"}),  # a mean loss over the rows: weighted by share
    "lora-sequence-class-weight": ("lora", {"head": "sequence", "class_weight": {"positive": 3.0}}),  # a summed loss
    "encoder": ("encoder", {"pooling": "mean"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_split_batch_trains_the_same_weights_as_one_pass(
    case, tiny_llama, tiny_bert_without_dropout, demo, monkeypatch
):
    approach, extra = CASES[case]
    model = str(tiny_llama if approach == "lora" else tiny_bert_without_dropout)
    if approach == "lora":
        extra = {**extra, "lora_dropout": 0.0}
    sizes = []
    split = micro_batches.split_rows

    def recording(inputs, max_tokens):
        passes = split(inputs, max_tokens)
        sizes.append([p["input_ids"].shape[0] for p in passes])
        return passes

    monkeypatch.setattr(micro_batches, "split_rows", recording)
    train, held_out = stratified_subset(demo["train"], 20, seed=0), stratified_subset(demo["validation"], 8)
    fitted = {}
    for budget in (None, 90):
        clf = get_classifier(
            approach,
            model=model,
            max_steps=4,
            batch_size=5,
            learning_rate=1e-2,
            seed=0,
            max_length=40,
            max_batch_tokens=budget,
            **extra,
        )
        fitted[budget] = clf.fit(train, eval=held_out)
    split_steps = [s for s in sizes if len(s) > 1]
    assert split_steps and any(len(set(s)) > 1 for s in split_steps), f"no step ran as unequal passes: {sizes}"
    whole, parts = fitted[None], fitted[90]
    assert parts.info.trainer.train_loss == pytest.approx(whole.info.trainer.train_loss, abs=1e-5)
    assert parts.info.trainer.best_metric == pytest.approx(whole.info.trainer.best_metric, abs=1e-5)
    trained = {k: v for k, v in whole.model.named_parameters() if v.requires_grad}
    after = dict(parts.model.named_parameters())
    assert trained
    if approach == "lora":
        assert all(v.abs().sum() > 0 for k, v in trained.items() if "lora_B" in k), "the LoRA B matrices stayed zero"
    for name, weight in trained.items():
        torch.testing.assert_close(after[name], weight, atol=1e-5, rtol=1e-4, msg=name)


def test_a_budget_below_one_token_is_refused(tiny_llama, demo):
    with pytest.raises(LlmdiscError, match="max_batch_tokens must be a positive integer or none"):
        get_classifier("lora", model=str(tiny_llama), max_batch_tokens=0).fit(stratified_subset(demo["train"], 4))
