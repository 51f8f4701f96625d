"""EncoderClassifier: training really trains, the folder is a standard HF folder, resume works."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from llmdisc import EncoderClassifier, LlmdiscError, evaluate_classifier, get_classifier, stratified_subset


def test_tiny_bert_weights_change(tiny_bert, demo):
    clf = get_classifier("encoder", model=str(tiny_bert), max_steps=3, batch_size=8, learning_rate=1e-3)
    from transformers import AutoModelForSequenceClassification

    before = {k: v.clone() for k, v in AutoModelForSequenceClassification.from_pretrained(
        tiny_bert, num_labels=2).state_dict().items()}
    clf.fit(stratified_subset(demo["train"], 32))
    after = clf.model.state_dict()
    changed = [k for k in before if k in after and not torch.equal(before[k], after[k])]
    assert any("encoder.layer.0" in k for k in changed), "encoder weights did not move"
    assert any(k.startswith("classifier") for k in changed), "head did not move"
    assert clf.info.trainer.global_step == 3
    assert clf.num_parameters()["trainable"] == clf.num_parameters()["total"] > 0


def test_saved_folder_works_with_a_plain_pipeline(tiny_bert, demo, tmp_path):
    from transformers import pipeline

    clf = get_classifier("encoder", model=str(tiny_bert), max_steps=2, batch_size=8).fit(stratified_subset(demo["train"], 16))
    folder = clf.save_pretrained(tmp_path / "enc")
    assert json.loads((folder / "config.json").read_text())["id2label"] == {"0": "negative", "1": "positive"}
    texts = demo["test"]["text"][:5]
    out = pipeline("text-classification", model=str(folder), top_k=None)(texts)
    probs = clf.predict_proba(texts)
    for row, p in zip(out, probs):
        scores = {d["label"]: d["score"] for d in row}
        assert set(scores) == {"negative", "positive"}
        np.testing.assert_allclose([scores["negative"], scores["positive"]], p, atol=1e-5)
    np.testing.assert_array_equal(EncoderClassifier.from_pretrained(folder).predict_proba(texts), probs)
    assert "Hyper-parameters" in (folder / "README.md").read_text()


def test_long_texts_are_truncated_with_a_count(tiny_bert, demo, caplog):
    clf = get_classifier("encoder", model=str(tiny_bert), max_steps=1, batch_size=4, max_length=16)
    clf.fit(stratified_subset(demo["train"], 8))
    with caplog.at_level("WARNING"):
        probs = clf.predict_proba(["word " * 500, "short"])
    assert probs.shape == (2, 2)
    assert "truncated 1 of 2 texts to 16 tokens" in caplog.text


def test_a_decoder_is_refused_with_its_type(tiny_gpt2, demo):
    with pytest.raises(LlmdiscError, match=r"type 'gpt2'\) is not an encoder"):
        get_classifier("encoder", model=str(tiny_gpt2)).fit(stratified_subset(demo["train"], 8))


@pytest.mark.slow
def test_real_minilm_beats_chance_on_demo(demo):
    clf = get_classifier("encoder", model="minilm-l6", epochs=3, batch_size=16, learning_rate=1e-4, seed=0)
    clf.fit(stratified_subset(demo["train"], 200, seed=0))
    accuracy = evaluate_classifier(clf, demo["test"]).metrics["accuracy"]
    # 80 balanced test reviews: chance is 0.5, and >= 0.65 has p < 0.005 under chance.
    assert accuracy >= 0.65, accuracy


def test_kill_minus_nine_then_resume(tiny_bert, tmp_path):
    out = tmp_path / "enc"
    checkpoints = Path(f"{out}-checkpoints")
    exe = Path(sys.executable).parent / "llmdisc"
    args = [str(exe), "train", "encoder", "--model", str(tiny_bert), "--max-steps", "400", "--eval-steps", "4",
            "--batch-size", "4", "--output-dir", str(out), "--eval-splits", "validation"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 240
    while time.time() < deadline and not (checkpoints / "checkpoint-8" / "trainer_state.json").exists():
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # mid-epoch: the demo epoch is 80 steps of 4
    proc.wait()
    assert (checkpoints / "checkpoint-8").exists(), "no checkpoint was written in time"
    assert not out.exists()

    again = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 2 and "--resume" in again.stderr

    resumed = subprocess.run(args + ["--resume"], capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    info = json.loads((out / "llmdisc_config.json").read_text())["info"]
    assert info["trainer"]["global_step"] == 400
    resumed = info["trainer"]["resumed_from"]
    assert resumed.startswith("checkpoint-") and int(resumed.split("-")[1]) >= 8
    assert not checkpoints.exists()  # cleaned up once the model is saved


def test_training_is_reproducible_across_runs(tiny_bert, demo):
    texts = demo["test"]["text"][:4]
    runs = [get_classifier("encoder", model=str(tiny_bert), max_steps=2, batch_size=8, seed=3)
            .fit(stratified_subset(demo["train"], 16)).predict_proba(texts) for _ in range(2)]
    torch.manual_seed(12345)  # whatever the global RNG holds, the head starts from the same seed
    runs.append(get_classifier("encoder", model=str(tiny_bert), max_steps=2, batch_size=8, seed=3)
                .fit(stratified_subset(demo["train"], 16)).predict_proba(texts))
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])
