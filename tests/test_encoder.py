"""EncoderClassifier: training really trains, the folder is a standard HF folder, resume works."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from llmdisc import EncoderClassifier, LlmdiscError, evaluate_classifier, get_classifier, stratified_subset
from llmdisc.classifiers.mean_pooling import HEAD_FILE, MeanPooledClassifier, mean_pool

REPO = Path(__file__).resolve().parents[1]


def test_tiny_bert_weights_change(tiny_bert, demo):
    clf = get_classifier("encoder", model=str(tiny_bert), max_steps=3, batch_size=8, learning_rate=1e-3, pooling="cls")
    from transformers import AutoModelForSequenceClassification

    before = {
        k: v.clone()
        for k, v in AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=2).state_dict().items()
    }
    clf.fit(stratified_subset(demo["train"], 32))
    after = clf.model.state_dict()
    changed = [k for k in before if k in after and not torch.equal(before[k], after[k])]
    assert any("encoder.layer.0" in k for k in changed), "encoder weights did not move"
    assert any(k.startswith("classifier") for k in changed), "head did not move"
    assert clf.info.trainer.global_step == 3
    assert clf.num_parameters()["trainable"] == clf.num_parameters()["total"] > 0


def test_cls_pooling_folder_works_with_a_plain_pipeline(tiny_bert, demo, tmp_path):
    from transformers import pipeline

    clf = get_classifier("encoder", model=str(tiny_bert), max_steps=2, batch_size=8, pooling="cls")
    clf.fit(stratified_subset(demo["train"], 16))
    folder = clf.save_pretrained(tmp_path / "enc")
    assert not (folder / HEAD_FILE).exists()
    assert json.loads((folder / "config.json").read_text())["id2label"] == {"0": "negative", "1": "positive"}
    texts = demo["test"]["text"][:5]
    out = pipeline("text-classification", model=str(folder), top_k=None)(texts)
    probs = clf.predict_proba(texts)
    for row, p in zip(out, probs):
        scores = {d["label"]: d["score"] for d in row}
        assert set(scores) == {"negative", "positive"}
        np.testing.assert_allclose([scores["negative"], scores["positive"]], p, atol=1e-5)
    reloaded = EncoderClassifier.from_pretrained(folder)
    assert reloaded.config.pooling == "cls"
    np.testing.assert_array_equal(reloaded.predict_proba(texts), probs)
    assert "Hyper-parameters" in (folder / "README.md").read_text()


def test_mean_pooling_trains_and_reloads_as_an_encoder_folder_plus_head(tiny_bert, demo, tmp_path):
    from transformers import AutoModel

    clf = get_classifier(
        "encoder", model=str(tiny_bert), max_steps=3, batch_size=8, learning_rate=1e-3, pooling="mean"
    )
    clf.fit(stratified_subset(demo["train"], 32))
    assert isinstance(clf.model, MeanPooledClassifier) and clf.info.trainer.global_step == 3
    initial = AutoModel.from_pretrained(tiny_bert).state_dict()
    trained = clf.model.encoder.state_dict()
    assert any(not torch.equal(initial[k], trained[k]) for k in initial if "encoder.layer.0" in k), (
        "encoder did not move"
    )
    folder = clf.save_pretrained(tmp_path / "mean")
    config = json.loads((folder / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"} and config["classifier_pooling"] == "mean"
    AutoModel.from_pretrained(folder)  # still a plain encoder folder
    texts = demo["test"]["text"][:6]
    reloaded = EncoderClassifier.from_pretrained(folder)
    assert reloaded.config.pooling == "mean"
    np.testing.assert_allclose(reloaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    assert HEAD_FILE in (folder / "README.md").read_text()


def test_a_default_save_claims_no_pipeline_and_says_what_loads_it(tiny_bert, demo, tmp_path):
    """The default (mean pooling) folder: transformers' pipeline would give a random head's 0.5/0.5,
    so the card claims neither library_name: transformers nor a pipeline_tag (issue 29)."""
    from huggingface_hub import ModelCard
    from transformers import AutoModelForSequenceClassification

    clf = get_classifier("encoder", model=str(tiny_bert), max_steps=3, batch_size=8, learning_rate=1e-3)
    assert clf.config.pooling == "mean"  # the default
    folder = clf.fit(stratified_subset(demo["train"], 16)).save_pretrained(tmp_path / "enc")
    card = ModelCard.load(folder / "README.md")
    assert card.data.library_name == "llmdisc" and card.data.pipeline_tag is None
    assert 'pipeline("text-classification")` does not load this folder' in card.text
    assert "TextClassifier.from_pretrained" in card.text
    # Why: the model a pipeline loads has no trained head (it reads the first token, through a fresh layer).
    _, loading = AutoModelForSequenceClassification.from_pretrained(folder, output_loading_info=True)
    assert {"classifier.weight", "classifier.bias"} <= set(loading["missing_keys"])
    readme = (REPO / "README.md").read_text()
    assert "the saved folder works with a plain `pipeline()`" not in readme
    assert "| `encoder` (`pooling: mean`, the default) |" in readme


def test_mean_pooling_ignores_padding(tiny_bert, demo):
    clf = get_classifier("encoder", model=str(tiny_bert), max_steps=1, batch_size=4, pooling="mean")
    clf.fit(stratified_subset(demo["train"], 8))
    short, long = "fine", "a much longer text that pads the short one in its batch " * 3
    alone = clf.predict_proba([short])[0]
    np.testing.assert_allclose(clf.predict_proba([short, long])[0], alone, atol=1e-5)
    # The pooled vector is the mean over real tokens only: a hand computation agrees.
    hidden = torch.randn(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    pooled = mean_pool(hidden, mask)
    torch.testing.assert_close(pooled[0], hidden[0, :2].mean(0))
    torch.testing.assert_close(pooled[1], hidden[1].mean(0))


def test_an_unknown_pooling_is_one_line_before_loading():
    # The check a comparison runs before any model loads: the model is not even looked up.
    with pytest.raises(LlmdiscError, match="unknown pooling 'max'; use one of mean, cls"):
        get_classifier("encoder", model="no/such-model", pooling="max").check(["negative", "positive"])


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


# Runs the llmdisc CLI with a fault injected at a known training step, so that a kill lands at
# the same point on every run (polling for a folder raced a fast tiny model). KILL_WHERE:
#   saved      - after checkpoint-KILL_AT_STEP is complete (Trainer's on_save)
#   mid_save   - while that checkpoint is written: its weights are there, the rest is not
#   truncated  - the same, and its weights file is cut short (a full disk, a crash mid-write)
KILL_HOOK = """
import os, signal, sys
from pathlib import Path
from transformers import Trainer, TrainerCallback

STEP, WHERE = int(os.environ["KILL_AT_STEP"]), os.environ["KILL_WHERE"]
kill = lambda: os.kill(os.getpid(), signal.SIGKILL)

class KillOnSave(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        if WHERE == "saved" and state.global_step == STEP:
            kill()

init, save = Trainer.__init__, Trainer._save

def patched_init(self, *args, **kwargs):
    init(self, *args, **kwargs)
    self.add_callback(KillOnSave())

def patched_save(self, output_dir=None, *args, **kwargs):
    save(self, output_dir, *args, **kwargs)
    if WHERE != "saved" and output_dir and Path(output_dir).name == f"checkpoint-{STEP}":
        if WHERE == "truncated":
            weights = Path(output_dir) / "model.safetensors"
            weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        kill()

Trainer.__init__, Trainer._save = patched_init, patched_save
from llmdisc.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _killed_at(args: list[str], step: int, where: str, **run) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KILL_AT_STEP": str(step), "KILL_WHERE": where}
    return subprocess.run([sys.executable, "-c", KILL_HOOK, *args], env=env, capture_output=True, text=True, **run)


def test_kill_minus_nine_then_resume(tiny_bert, tmp_path):
    out = tmp_path / "enc"
    checkpoints = Path(f"{out}-checkpoints")
    exe = Path(sys.executable).parent / "llmdisc"
    args = [
        "train",
        "encoder",
        "--model",
        str(tiny_bert),
        "--max-steps",
        "40",
        "--eval-steps",
        "4",
        "--batch-size",
        "4",
        "--output-dir",
        str(out),
        "--eval-splits",
        "validation",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    killed = _killed_at(args, 8, "saved", timeout=600)  # mid-epoch: the demo epoch is 80 steps of 4
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert (checkpoints / "checkpoint-8" / "trainer_state.json").exists()
    assert not out.exists()

    again = subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 2 and "--resume" in again.stderr

    resumed = subprocess.run([str(exe), *args, "--resume"], capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    info = json.loads((out / "llmdisc_config.json").read_text())["info"]
    assert info["trainer"]["global_step"] == 40
    assert info["trainer"]["resumed_from"] == "checkpoint-8"
    assert not checkpoints.exists()  # cleaned up once the model is saved


@pytest.mark.parametrize("where", ["mid_save", "truncated"])
def test_resume_after_a_kill_during_a_checkpoint_write_skips_that_checkpoint(tiny_bert, tmp_path, where):
    out = tmp_path / "enc"
    checkpoints = Path(f"{out}-checkpoints")
    args = [
        "train",
        "encoder",
        "--data",
        "demo",
        "--model",
        str(tiny_bert),
        "--max-steps",
        "9",
        "--eval-steps",
        "3",
        "--batch-size",
        "4",
        "--output-dir",
        str(out),
        "--eval-splits",
        "validation",
    ]
    killed = _killed_at(args, 6, where, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert (checkpoints / "checkpoint-6").is_dir() and not (
        checkpoints / "checkpoint-6" / "trainer_state.json"
    ).exists()

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    resumed = subprocess.run(
        [str(Path(sys.executable).parent / "llmdisc"), *args, "--resume"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert re.search(r"skipping checkpoint-6 \(incomplete: .+\)", resumed.stderr), resumed.stderr[-2000:]
    info = json.loads((out / "llmdisc_config.json").read_text())["info"]
    assert info["trainer"]["resumed_from"] == "checkpoint-3" and info["trainer"]["global_step"] == 9


def test_training_is_reproducible_across_runs(tiny_bert, demo):
    texts = demo["test"]["text"][:4]
    runs = [
        get_classifier("encoder", model=str(tiny_bert), max_steps=2, batch_size=8, seed=3)
        .fit(stratified_subset(demo["train"], 16))
        .predict_proba(texts)
        for _ in range(2)
    ]
    torch.manual_seed(12345)  # whatever the global RNG holds, the head starts from the same seed
    runs.append(
        get_classifier("encoder", model=str(tiny_bert), max_steps=2, batch_size=8, seed=3)
        .fit(stratified_subset(demo["train"], 16))
        .predict_proba(texts)
    )
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])
