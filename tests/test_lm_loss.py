"""Sparse LM logits (llmdisc.training.sparse_lm_loss): the same loss and gradients as the full-logits path, with
the LM head applied only where the loss reads it; a grid of tiny models x LM heads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmdisc import get_classifier, stratified_subset
from llmdisc.training.sparse_lm_loss import IGNORE_INDEX, label_token_loss, read_positions, sparse_logits_trainer

LM_HEADS = ["verbalizer", "channel"]


@pytest.fixture(scope="module")
def tiny_paths(tiny_gpt2, tiny_llama):
    return {"gpt2": str(tiny_gpt2), "llama": str(tiny_llama)}


def lora_model_and_batch(path: str, head: str, demo, n: int = 6):
    """A PEFT model with random (non-zero) LoRA matrices, and one padded batch of the head's examples."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import DataCollatorForSeq2Seq

    torch.manual_seed(0)
    clf = get_classifier("lora", model=path, head=head, lora_dropout=0.0)
    clf.labels = ["negative", "positive"]
    base, clf.tokenizer = clf._load_base()
    # init_lora_weights=False: B is random too, so A's gradients are not trivially zero.
    model = get_peft_model(
        base,
        LoraConfig(
            task_type=TaskType.CAUSAL_LM,
            r=4,
            lora_alpha=8,
            lora_dropout=0.0,
            target_modules=clf._target_modules(base),
            init_lora_weights=False,
        ),
    )
    data = stratified_subset(demo["train"], n, seed=0)
    examples = clf._examples(list(data["text"]), np.asarray(data["label"]))
    collator = DataCollatorForSeq2Seq(clf.tokenizer, label_pad_token_id=IGNORE_INDEX)
    batch = collator([{k: v for k, v in ex.items() if k != "length"} for ex in examples])
    return model, batch


def trainer_loss_and_grads(trainer_class, model, batch, tmp_path, num_items, **kwargs):
    """Loss and LoRA gradients of one Trainer.compute_loss call, as a training step makes it."""
    from transformers import TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True)
    trainer = trainer_class(model=model, args=args, **kwargs)
    model.zero_grad()
    torch.manual_seed(1)  # the same dropout masks in both paths (train mode)
    loss = trainer.compute_loss(model, dict(batch), num_items_in_batch=num_items)
    loss.backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.requires_grad}
    return loss.detach(), grads


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
@pytest.mark.parametrize("head", LM_HEADS)
@pytest.mark.parametrize("normalise", ["num_items_in_batch", "mean"])
def test_loss_and_lora_gradients_equal_the_full_logits_path(arch, head, normalise, tiny_paths, demo, tmp_path):
    from transformers import Trainer

    model, batch = lora_model_and_batch(tiny_paths[arch], head, demo)
    model.train()
    labelled = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    # Trainer passes the step's labelled-token count when it accumulates; None means a plain mean.
    num_items = torch.tensor(labelled) if normalise == "num_items_in_batch" else None
    full_loss, full_grads = trainer_loss_and_grads(Trainer, model, batch, tmp_path, num_items)

    rows = []
    hook = model.get_output_embeddings().register_forward_hook(lambda m, i, out: rows.append(out.shape))
    sparse_loss, sparse_grads = trainer_loss_and_grads(
        sparse_logits_trainer(), model, batch, tmp_path, num_items, compute_loss_func=label_token_loss
    )
    hook.remove()

    assert rows == [torch.Size([labelled, model.config.vocab_size])], "the head projected more than the labelled rows"
    # The test means something: the context (and for the verbalizer almost all) positions are unread.
    assert 0 < labelled < batch["labels"].numel() / (4 if head == "verbalizer" else 1)
    torch.testing.assert_close(sparse_loss, full_loss, atol=1e-5, rtol=1e-5)
    assert full_grads.keys() == sparse_grads.keys() and any("lora_A" in k for k in full_grads)
    for name, grad in full_grads.items():
        assert grad.abs().sum() > 0, name
        torch.testing.assert_close(sparse_grads[name], grad, atol=1e-5, rtol=1e-5, msg=name)


def test_gradient_checkpointing_keeps_the_loss_and_gradients(tiny_paths, demo, tmp_path):
    from transformers import Trainer

    model, batch = lora_model_and_batch(tiny_paths["llama"], "verbalizer", demo)
    num_items = (batch["labels"][:, 1:] != IGNORE_INDEX).sum()
    model.train()
    full_loss, full_grads = trainer_loss_and_grads(Trainer, model, batch, tmp_path, num_items)
    model.get_base_model().gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    assert model.get_base_model().model.gradient_checkpointing
    loss, grads = trainer_loss_and_grads(
        sparse_logits_trainer(), model, batch, tmp_path, num_items, compute_loss_func=label_token_loss
    )
    torch.testing.assert_close(loss, full_loss, atol=1e-5, rtol=1e-5)
    for name, grad in full_grads.items():
        torch.testing.assert_close(grads[name], grad, atol=1e-5, rtol=1e-5, msg=name)


def test_read_positions_are_those_before_each_label():
    labels = torch.tensor(
        [[IGNORE_INDEX, IGNORE_INDEX, 7, 8, IGNORE_INDEX], [IGNORE_INDEX, 5, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]]
    )
    expected = torch.tensor([[False, True, True, False, False], [True, False, False, False, False]])
    assert torch.equal(read_positions(labels), expected)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
@pytest.mark.parametrize("head", LM_HEADS)
def test_training_and_predictions_match_the_full_logits_path(arch, head, tiny_paths, demo):
    fitted = {}
    for sparse in (True, False):
        clf = get_classifier(
            "lora",
            model=tiny_paths[arch],
            head=head,
            max_steps=3,
            batch_size=4,
            learning_rate=1e-2,
            seed=0,
            sparse_logits=sparse,
        )
        fitted[sparse] = clf.fit(stratified_subset(demo["train"], 16), eval=stratified_subset(demo["validation"], 8))
    new, old = fitted[True], fitted[False]
    lora_b = {k: v for k, v in new.model.named_parameters() if "lora_B" in k}
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b.values()), "training left the LoRA B matrices at zero"
    # Same losses (training and the validation loss that picks the checkpoint), same predictions.
    assert new.info.trainer.train_loss == pytest.approx(old.info.trainer.train_loss, abs=1e-4)
    assert new.info.trainer.best_metric == pytest.approx(old.info.trainer.best_metric, abs=1e-4)
    texts = demo["test"]["text"][:8]
    np.testing.assert_allclose(new.predict_proba(texts), old.predict_proba(texts), atol=1e-4)


@pytest.mark.parametrize("head", LM_HEADS)
def test_lm_training_batches_are_grouped_by_length_and_padded_to_their_longest(head, tiny_paths, demo, monkeypatch):
    import transformers

    collate = transformers.DataCollatorForSeq2Seq.__call__
    data = stratified_subset(demo["train"], 64, seed=0)

    def padding(group_by_length: bool) -> int:
        """Pad tokens over one epoch of batches of 4, checking each batch is as wide as its longest row."""
        batches = []

        def recording(self, features, *args, **kwargs):
            batch = collate(self, features, *args, **kwargs)
            batches.append(batch["attention_mask"])
            return batch

        monkeypatch.setattr(transformers.DataCollatorForSeq2Seq, "__call__", recording)
        get_classifier(
            "lora",
            model=tiny_paths["llama"],
            head=head,
            epochs=1,
            batch_size=4,
            seed=0,
            group_by_length=group_by_length,
        ).fit(data)
        assert len(batches) == 16
        assert all(mask.sum(1).max() == mask.shape[1] for mask in batches), "a batch padded past its longest row"
        return sum(int((mask == 0).sum()) for mask in batches)

    grouped, shuffled = padding(True), padding(False)
    # Trainer's LengthGroupedSampler sorts mega-batches (here 4 batches each) by length.
    assert grouped < 0.5 * shuffled, (grouped, shuffled)
