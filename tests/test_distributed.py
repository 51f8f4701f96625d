"""Scale-out: under ``accelerate launch`` with 2 CPU processes (gloo), scoring gives the
single-process scores and training ends with one saved model.

On a machine without GPUs, ``accelerate launch --multi_gpu`` is the launcher that starts several
processes through torchrun (``--cpu`` starts one unless MPI is set up); llmdisc then uses gloo.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import llmdisc
from llmdisc.lm import loglikelihood as scoring
from llmdisc.plumbing import distributed

# Run by `accelerate launch` in every process: the unchanged `llmdisc score` command, then a
# zero-shot classifier; the main process writes what it got. Each process counts the scoring
# batches it computed itself, to show that the work was shared.
DRIVER = """
import json, sys
from pathlib import Path

import llmdisc
from llmdisc.plumbing import distributed
from llmdisc.lm import loglikelihood as scoring
from llmdisc.cli import main

model, texts_file, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
batches = 0
score_chunk = scoring._score_chunk


def counting(*args, **kwargs):
    global batches
    batches += 1
    return score_chunk(*args, **kwargs)


scoring._score_chunk = counting
out_file = str(out / "scores.jsonl")
assert main(["score", "--model", model, "--file", texts_file, "--batch-size", "4", "--output", out_file]) == 0
data = llmdisc.load_text_dataset("demo")
clf = llmdisc.get_classifier("zeroshot", model=model, calibrate=True, k_shot=1, batch_size=4)
clf.fit(llmdisc.stratified_subset(data["train"], 16))
probs = clf.predict_proba(Path(texts_file).read_text(encoding="utf-8").splitlines())
counts = distributed.gather_object(batches)
if distributed.is_main_process():
    (out / "zeroshot.json").write_text(json.dumps({"probs": probs.tolist(), "world_size": distributed.world_size(),
                                                   "batches_per_process": counts}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``accelerate launch`` with 2 CPU processes; every setting given, so no config file is needed."""
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.accelerate_cli",
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        *args,
    ]
    # CPU processes even where there is a GPU: the test compares with a CPU run.
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "CUDA_VISIBLE_DEVICES": "",
    }
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_a_single_process_stays_plain(monkeypatch):
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert distributed.world_size() == 1 and distributed.rank() == 0 and distributed.is_main_process()
    assert distributed.map_batches(lambda b: sum(b), [[1, 2], [3], []]) == [3, 3, 0]
    assert distributed.gather_object("x") == ["x"] and distributed.broadcast_object(5) == 5
    distributed.barrier()
    assert not (torch.distributed.is_available() and torch.distributed.is_initialized())


def test_scoring_under_accelerate_launch_equals_one_process(tiny_gpt2, demo, tmp_path, monkeypatch):
    texts = list(demo["test"]["text"])
    texts_file = tmp_path / "texts.txt"
    texts_file.write_text("\n".join(texts), encoding="utf-8")
    (tmp_path / "driver.py").write_text(DRIVER, encoding="utf-8")
    _launch([str(tmp_path / "driver.py"), str(tiny_gpt2), str(texts_file), str(tmp_path)], cwd=tmp_path)

    model, tokenizer = llmdisc.load_model(str(tiny_gpt2))
    batches = 0
    score_chunk = scoring._score_chunk

    def counting(*args, **kwargs):
        nonlocal batches
        batches += 1
        return score_chunk(*args, **kwargs)

    monkeypatch.setattr(scoring, "_score_chunk", counting)
    single = [s.loglikelihood for s in llmdisc.token_logprobs(model, tokenizer, texts, batch_size=4)]
    clf = llmdisc.get_classifier("zeroshot", model=str(tiny_gpt2), calibrate=True, k_shot=1, batch_size=4)
    probs = clf.fit(llmdisc.stratified_subset(demo["train"], 16)).predict_proba(texts)

    records = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert [r["text"] for r in records] == texts  # written once, in the original order
    # Each batch is computed as one process computes it, so the scores are the same numbers.
    np.testing.assert_array_equal([r["loglikelihood"] for r in records], single)
    launched = json.loads((tmp_path / "zeroshot.json").read_text())
    np.testing.assert_array_equal(np.array(launched["probs"]), probs)
    assert launched["world_size"] == 2
    shares = launched["batches_per_process"]
    assert len(shares) == 2 and min(shares) > 0 and sum(shares) == batches  # the work was split, none repeated


def test_training_under_accelerate_launch_saves_one_model(tiny_bert, demo, tmp_path):
    out = tmp_path / "encoder"
    done = _launch(
        [
            "-m",
            "llmdisc.cli",
            "train",
            "encoder",
            "--data",
            "demo",
            "--model",
            str(tiny_bert),
            "--max-steps",
            "4",
            "--batch-size",
            "8",
            "--eval-splits",
            "test",
            "--output-dir",
            str(out),
        ],
        cwd=tmp_path,
    )
    assert done.stdout.count("saved: ") == 1 and done.stdout.count("| encoder |") == 1  # printed once
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encoder"]  # no checkpoints, no half-written copies
    info = json.loads((out / "llmdisc_config.json").read_text())["info"]
    assert info["trainer"]["num_processes"] == 2 and info["trainer"]["global_step"] == 4
    # A fresh classification head on two labels starts near ln 2: the loss is a per-example
    # mean, not multiplied by the number of processes.
    assert info["trainer"]["train_loss"] == pytest.approx(np.log(2), abs=0.1)
    clf = llmdisc.TextClassifier.from_pretrained(out)
    probs = clf.predict_proba(list(demo["test"]["text"][:8]))
    assert probs.shape == (8, 2) and np.allclose(probs.sum(axis=1), 1)
    # Every process evaluated the whole test split: the accuracy counts in 1/80ths.
    assert len(demo["test"]) == 80 and float(info["metrics"]["test"]["accuracy"] * 80).is_integer()


def test_predict_under_accelerate_launch_equals_one_process(tiny_gpt2, demo, tmp_path):
    """`llmdisc predict` under accelerate launch: the batches' work is shared, one file is written,
    and the probabilities are those of a single process."""
    folder = (
        llmdisc.get_classifier("zeroshot", model=str(tiny_gpt2), batch_size=4)
        .fit(demo["train"])
        .save_pretrained(tmp_path / "zs")
    )
    texts = list(demo["test"]["text"][:10])
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n")
    _launch(
        [
            "-m",
            "llmdisc.cli",
            "predict",
            str(folder),
            "--file",
            str(tmp_path / "in.txt"),
            "--output",
            str(tmp_path / "out.jsonl"),
            "--batch-size",
            "4",
        ],
        cwd=tmp_path,
    )
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["text"] for r in records] == texts  # written once, in order
    single = llmdisc.TextClassifier.from_pretrained(folder).predict_proba(texts)
    np.testing.assert_allclose([[r["prob_negative"], r["prob_positive"]] for r in records], single, atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.jsonl", "zs"]  # nothing half-written
