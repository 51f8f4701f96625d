"""LoRA heads: a grid of tiny models x heads, as peft's own tests do; save/load; merge; bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from llmdisc import (
    LlmdiscError,
    LoraClassifier,
    TextClassifier,
    evaluate_classifier,
    get_classifier,
    stratified_subset,
)

HEADS = ["verbalizer", "sequence", "channel"]


@pytest.fixture(scope="module")
def tiny_paths(tiny_gpt2, tiny_llama):
    return {"gpt2": str(tiny_gpt2), "llama": str(tiny_llama)}


def train(path, head, demo, **extra):
    config = {"model": path, "head": head, "max_steps": 3, "batch_size": 4, "learning_rate": 1e-2, **extra}
    return get_classifier("lora", **config).fit(
        stratified_subset(demo["train"], 16), eval=stratified_subset(demo["validation"], 8)
    )


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
@pytest.mark.parametrize("head", HEADS)
def test_training_moves_lora_and_leaves_the_base_frozen(arch, head, tiny_paths, demo):
    clf = get_classifier("lora", model=tiny_paths[arch], head=head, max_steps=3, batch_size=4, learning_rate=1e-2)
    clf.labels = ["negative", "positive"]
    base, _ = clf._load_base()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    clf = train(tiny_paths[arch], head, demo)
    after = {
        k.replace("base_model.model.", "").replace(".base_layer", ""): v for k, v in clf.model.state_dict().items()
    }
    lora = {k: v for k, v in clf.model.named_parameters() if "lora_B" in k}
    assert lora and all(v.abs().sum() > 0 for v in lora.values()), "LoRA B matrices are still zero"
    frozen = [k for k in before if "score" not in k and k in after]
    assert len(frozen) > 10
    assert all(torch.equal(before[k], after[k]) for k in frozen), "a frozen base weight changed"
    if head == "sequence":
        head_key = next(k for k, _ in clf.model.named_parameters() if "modules_to_save" in k and "score" in k)
        assert not torch.equal(dict(clf.model.named_parameters())[head_key], before["score.weight"])
    counts = clf.num_parameters()
    assert 0 < counts["trainable"] < counts["total"] and clf.info.parameters == counts


@pytest.mark.parametrize("head", HEADS)
def test_round_trip_with_llmdisc_and_plain_peft(head, tiny_paths, demo, tmp_path):
    from peft import AutoPeftModelForCausalLM, AutoPeftModelForSequenceClassification

    with warnings.catch_warnings():  # no deprecation reaches the user from training or loading
        warnings.simplefilter("error", FutureWarning)
        clf = train(tiny_paths["gpt2"], head, demo)
        folder = clf.save_pretrained(tmp_path / head)
        reloaded = TextClassifier.from_pretrained(folder)
    assert {
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
        "README.md",
        "llmdisc_config.json",
    } <= {p.name for p in folder.iterdir()}
    texts = demo["test"]["text"][:5]
    probs = clf.predict_proba(texts)
    np.testing.assert_array_equal(reloaded.predict_proba(texts), probs)
    auto = AutoPeftModelForSequenceClassification if head == "sequence" else AutoPeftModelForCausalLM
    plain = auto.from_pretrained(folder).eval()
    # The base model's own config has no pad token; a vanilla user sets it as llmdisc does.
    plain.config.pad_token_id = clf.tokenizer.pad_token_id
    twin = LoraClassifier.from_pretrained(folder)
    twin.model = plain  # the vanilla-peft model behind llmdisc's prediction code
    np.testing.assert_allclose(twin.predict_proba(texts), probs, atol=1e-6)


def test_merge_keeps_the_sequence_head(tiny_paths, demo, tmp_path):
    from transformers import pipeline

    clf = train(tiny_paths["llama"], "sequence", demo)
    merged = clf.save_merged(tmp_path / "merged")
    config = json.loads((merged / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"} and not (merged / "adapter_config.json").exists()
    out = pipeline("text-classification", model=str(merged), top_k=None)(demo["test"]["text"][:3])
    expected = clf.predict_proba(demo["test"]["text"][:3])
    got = [[{d["label"]: d["score"] for d in row}[name] for name in clf.labels] for row in out]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_bad_target_modules_list_what_exists(tiny_paths, demo):
    with pytest.raises(LlmdiscError, match=r"match nothing in the model; its linear layers are: .*q_proj"):
        train(tiny_paths["llama"], "verbalizer", demo, target_modules=["query", "value"])


def test_adapter_on_a_different_base_is_refused(tiny_paths, demo, tmp_path):
    folder = train(tiny_paths["llama"], "verbalizer", demo).save_pretrained(tmp_path / "a")
    meta = json.loads((folder / "llmdisc_config.json").read_text())
    meta["config"]["model"] = tiny_paths["gpt2"]
    (folder / "llmdisc_config.json").write_text(json.dumps(meta))
    with pytest.raises(LlmdiscError, match="does not fit the base model"):
        TextClassifier.from_pretrained(folder)


def test_unknown_head():
    with pytest.raises(LlmdiscError, match="unknown lora head 'mlp'"):
        get_classifier("lora", head="mlp")


@pytest.mark.slow
def test_real_smollm2_verbalizer_beats_its_zero_shot(demo):
    held_out = demo["test"]
    # The same prompt before and after training: the demo's task is sentiment, said as a user would.
    zero = evaluate_classifier(get_classifier("zeroshot", task="sentiment").fit(demo["train"]), held_out).metrics[
        "accuracy"
    ]
    clf = get_classifier(
        "lora", head="verbalizer", task="sentiment", epochs=2, batch_size=8, learning_rate=3e-4, seed=0
    )
    clf.fit(stratified_subset(demo["train"], 64, seed=0))
    tuned = evaluate_classifier(clf, held_out).metrics["accuracy"]
    assert tuned > zero, (tuned, zero)
