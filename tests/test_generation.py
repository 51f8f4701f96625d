"""Generation: same output as plain model.generate, batching, stops, sampling checks, synthetic data."""

from __future__ import annotations

import json

import pytest
import torch

from llmdisc import LlmdiscError, load_model, load_text_dataset
from llmdisc.cli import main
from llmdisc.lm.generation import SamplingConfig, _format, generate, synthesize

PROMPTS = ["The film was", "A truly awful", "Great food and"]


def test_greedy_matches_plain_generate_and_batching(tiny_gpt2):
    model, tokenizer = load_model(str(tiny_gpt2))
    config = SamplingConfig(max_new_tokens=8, chat_template=False, batch_size=3)
    batched = generate(model, tokenizer, PROMPTS, config)
    one_by_one = [
        generate(model, tokenizer, [p], SamplingConfig(max_new_tokens=8, chat_template=False))[0] for p in PROMPTS
    ]
    assert [r["completion"] for r in batched] == [r["completion"] for r in one_by_one]
    ids = tokenizer(PROMPTS[0], return_tensors="pt")
    with torch.no_grad():
        plain = model.generate(**ids, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    assert batched[0]["completion"] == tokenizer.decode(
        plain[0, ids["input_ids"].shape[1] :], skip_special_tokens=True
    )
    assert set(batched[0]) == {"prompt", "completion", "tokens", "seconds"} and batched[0]["tokens"] <= 8


def test_sampling_is_seeded_and_gives_n_samples(tiny_gpt2):
    model, tokenizer = load_model(str(tiny_gpt2))
    config = SamplingConfig(
        max_new_tokens=6, do_sample=True, temperature=1.5, num_samples=3, seed=1, chat_template=False
    )
    first, second = generate(model, tokenizer, PROMPTS[:2], config), generate(model, tokenizer, PROMPTS[:2], config)
    assert [r["prompt"] for r in first] == [PROMPTS[0]] * 3 + [PROMPTS[1]] * 3
    assert [r["completion"] for r in first] == [r["completion"] for r in second]


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"do_sample": True, "temperature": 0.0}, "temperature must be > 0"),
        ({"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
        ({"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
        ({"num_samples": 2}, "need sampling"),
    ],
)
def test_nonsense_settings(settings, message):
    with pytest.raises(LlmdiscError, match=message):
        SamplingConfig(**settings).check()


def test_stop_strings_cut_the_completion(tiny_gpt2):
    model, tokenizer = load_model(str(tiny_gpt2))
    full = generate(model, tokenizer, PROMPTS[:1], SamplingConfig(max_new_tokens=12, chat_template=False))[0][
        "completion"
    ]
    stop = full.strip()[:2]
    cut = generate(model, tokenizer, PROMPTS[:1], SamplingConfig(max_new_tokens=12, chat_template=False, stop=[stop]))
    assert stop not in cut[0]["completion"]


def test_chat_template_is_used_when_the_model_has_one():
    _, tokenizer = load_model("smollm2-135m")
    assert "<|im_start|>user\nhello<|im_end|>" in _format(tokenizer, "hello", True)
    assert _format(tokenizer, "hello", False) == "hello"


def test_synthetic_data_loads_as_a_data_set(tiny_gpt2, tmp_path):
    model, tokenizer = load_model(str(tiny_gpt2))
    rows = synthesize(
        model,
        tokenizer,
        ["positive", "negative"],
        6,
        config=SamplingConfig(do_sample=True, max_new_tokens=10, seed=0, chat_template=False),
    )
    assert {r["label"] for r in rows} == {"positive", "negative"}
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_text_dataset(str(path))
    assert data["train"].features["label"].names == ["negative", "positive"]


def test_generate_and_score_commands(tiny_gpt2, tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("The film was\n\nGreat food and\n")
    out = tmp_path / "g.jsonl"
    assert (
        main(
            [
                "generate",
                "--model",
                str(tiny_gpt2),
                "--file",
                str(prompts),
                "--output",
                str(out),
                "--max-new-tokens",
                "5",
            ]
        )
        == 0
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["prompt"] for r in records] == ["The film was", "Great food and"]

    assert (
        main(
            [
                "score",
                "--model",
                str(tiny_gpt2),
                "--per-token",
                "--rank",
                "the film was good",
                "good was film the the the",
            ]
        )
        == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [r["perplexity"] for r in lines] == sorted((r["perplexity"] for r in lines), reverse=True)
    for r in lines:
        assert r["num_tokens"] == len(r["tokens"]) and r["loglikelihood"] == pytest.approx(
            sum(t[1] for t in r["tokens"])
        )
    assert main(["generate", "--model", str(tiny_gpt2), "x", "--do-sample", "--temperature", "-1"]) == 2
