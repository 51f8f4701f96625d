"""Nothing a folder or a Hub repo holds runs: planted pickles and planted model code, in every
folder a command reads (issue 29).

Two plants, each writing a marker file when it runs (nothing else): ``model_head.pkl``, a pickle
whose loading opens the marker (setfit's ``SetFitModel.from_pretrained`` unpickles that file), and
a ``config.json`` naming an unknown ``model_type`` with an ``auto_map`` into ``modeling_evil.py``,
whose import writes the marker (transformers asks "[y/N]" on a terminal without
``trust_remote_code=False``, and imports it on "y"). The marker must never appear; a folder that
asks to run code is one line, exit status 2, on a terminal too.
"""

from __future__ import annotations

import json
import os
import pickle
import pty
import select
import shutil
import sys
import time
from pathlib import Path

import pytest
import yaml

from llmdisc import LlmdiscError, TextClassifier, get_classifier, stratified_subset
from llmdisc.cli import main
from llmdisc.lm.loading import load_model, load_model_config, load_tokenizer


class _Opens:
    """Unpickling this opens (creates) a file: the side effect a planted pickle would have."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant_pickle(folder: Path, marker: Path) -> Path:
    """Put a ``model_head.pkl`` whose unpickling creates ``marker`` in ``folder`` (replacing setfit's)."""
    (folder / "model_head.pkl").write_bytes(pickle.dumps(_Opens(marker)))
    return folder


def plant_code(folder: Path, marker: Path) -> Path:
    """Make ``folder``'s config.json ask for code of its own: ``modeling_evil.py``, which creates ``marker``."""
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "llmdisc-planted"  # unknown to transformers: its auto_map would be used
    auto = ("AutoConfig", "AutoModel", "AutoModelForSequenceClassification", "AutoModelForCausalLM")
    config["auto_map"] = {name: "modeling_evil.Planted" for name in auto}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_evil.py").write_text(
        f"import pathlib\n\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        "from transformers import BertConfig as Planted\n"
    )
    return folder


def planted_copy(source: Path, folder: Path, marker: Path, *plants) -> Path:
    """``folder``: a copy of ``source`` with ``plants`` in it, each writing ``marker`` if it runs."""
    shutil.copytree(source, folder)
    for plant in plants:
        plant(folder, marker)
    return folder


def one_error_line(stderr: str) -> str:
    """The one ``llmdisc: error:`` line of ``stderr``, asserting there is exactly one and no traceback."""
    errors = [line for line in stderr.splitlines() if line.startswith("llmdisc: error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


@pytest.fixture(scope="module")
def saved(demo, tiny_bert, tmp_path_factory):
    """Folders saved by llmdisc: the encoder at its default settings (mean pooling) and setfit."""
    train = stratified_subset(demo["train"], 16)
    root = tmp_path_factory.mktemp("saved")
    encoder = get_classifier("encoder", model=str(tiny_bert), max_steps=1, batch_size=8).fit(train)
    setfit = get_classifier("setfit", model=str(tiny_bert), num_iterations=1, batch_size=8).fit(train)
    return {"encoder": encoder.save_pretrained(root / "encoder"), "setfit": setfit.save_pretrained(root / "setfit")}


def test_train_setfit_never_unpickles_the_model_folders_head(tiny_bert, tmp_path, caplog):
    marker = tmp_path / "MARKER"
    folder = planted_copy(tiny_bert, tmp_path / "base", marker, plant_pickle)
    status = main(
        ["train", "setfit", "--model", str(folder), "--num-iterations", "1", "--batch-size", "8"]
        + ["--max-train-samples", "16", "--eval-splits", "test", "--output-dir", str(tmp_path / "out")]
    )
    assert status == 0 and not marker.exists()
    assert [r.getMessage() for r in caplog.records if "model_head.pkl" in r.getMessage()] == [
        f"{folder / 'model_head.pkl'} is a pickle, which llmdisc never loads: the head is trained afresh"
    ]


def test_a_saved_setfit_folder_loads_without_its_pickle(saved, tmp_path, capsys):
    marker = tmp_path / "MARKER"
    folder = planted_copy(saved["setfit"], tmp_path / "setfit", marker, plant_pickle)
    TextClassifier.from_pretrained(folder).predict_proba(["a delightful film"])
    assert main(["predict", str(folder), "a delightful film"]) == 0
    assert main(["evaluate", str(folder), "--data", "demo", "--splits", "test"]) == 0
    assert not marker.exists()


@pytest.mark.parametrize(
    "command",
    [
        ["train", "encoder", "--model", "{base}", "--max-steps", "1"],
        ["train", "setfit", "--model", "{base}", "--num-iterations", "1"],
        ["train", "embedding_lr", "--model", "{base}"],
        ["predict", "{encoder}", "a delightful film"],
        ["evaluate", "{encoder}", "--data", "demo"],
        ["predict", "{setfit}", "a delightful film"],
        ["evaluate", "{setfit}", "--data", "demo"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_folder_asking_to_run_its_code_is_one_line(command, saved, tiny_bert, tmp_path, capsys):
    marker = tmp_path / "MARKER"
    folders = {"base": planted_copy(tiny_bert, tmp_path / "base", marker, plant_code)}
    for name in ("encoder", "setfit"):
        folders[name] = planted_copy(saved[name], tmp_path / name, marker, plant_code)
    args = [a.format(**folders) for a in command]
    if args[0] == "train":
        args += ["--output-dir", str(tmp_path / "out")]
    assert main(args) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "asks to run code of its own" in line and "llmdisc never does" in line, line
    assert not marker.exists()


def test_from_pretrained_and_the_loaders_refuse_planted_code(saved, tiny_bert, tmp_path):
    marker = tmp_path / "MARKER"
    encoder = planted_copy(saved["encoder"], tmp_path / "encoder", marker, plant_code)
    with pytest.raises(LlmdiscError, match="asks to run code of its own"):
        TextClassifier.from_pretrained(encoder)
    base = planted_copy(tiny_bert, tmp_path / "base", marker, plant_code)
    for load in (load_model, load_model_config):
        with pytest.raises(LlmdiscError, match="asks to run code of its own"):
            load(str(base))
    # A tokenizer config may name code of its own too.
    tokenizer_config = json.loads((base / "tokenizer_config.json").read_text())
    tokenizer_config["auto_map"] = {"AutoTokenizer": ["modeling_evil.Planted", None]}
    tokenizer_config.pop("tokenizer_class", None)
    (base / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    with pytest.raises(LlmdiscError, match="asks to run code of its own"):
        load_tokenizer(str(base))
    assert not marker.exists()


def test_compare_resume_runs_nothing_planted(tiny_bert, tmp_path, capsys):
    """compare --resume on a used folder, with plants there and in the approaches' model folders."""
    out = tmp_path / "cmp"
    assert main(["compare", "--approaches", "naive_bayes", "--sizes", "8", "--output-dir", str(out)]) == 0
    marker = tmp_path / "MARKER"
    for folder in (out, out / "runs" / "naive_bayes"):  # nothing of the comparison's own folder is code
        plant_pickle(folder, marker)
        (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
        plant_code(folder, marker)
    pickled = planted_copy(tiny_bert, tmp_path / "pkl", marker, plant_pickle)
    coded = planted_copy(tiny_bert, tmp_path / "code", marker, plant_code)
    recipe = tmp_path / "recipe.yaml"
    setfit = {"model": str(pickled), "num_iterations": 1, "batch_size": 8}
    recipe.write_text(yaml.safe_dump({"approaches": {"naive_bayes": None, "setfit": setfit}, "sizes": [8]}))
    assert main(["compare", "--config", str(recipe), "--resume", "--output-dir", str(out)]) == 0
    records = json.loads((out / "results.json").read_text())
    assert {r["approach"] for r in records if r["status"] == "ok"} == {"naive_bayes", "setfit", "majority"}
    capsys.readouterr()
    recipe.write_text(yaml.safe_dump({"approaches": {"naive_bayes": None, "encoder": {"model": str(coded)}}}))
    assert main(["compare", "--config", str(recipe), "--sizes", "8", "--resume", "--output-dir", str(out)]) == 2
    assert "asks to run code of its own" in one_error_line(capsys.readouterr().err)
    assert not marker.exists()


def run_in_terminal(args: list[str], env: dict[str, str], timeout: float = 300) -> tuple[int, str]:
    """Run ``args`` on a pseudo-terminal, answering "y" to any [y/N] question; (exit status, output)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the terminal
        os.execve(args[0], args, env)
    output, answered, start = b"", 0, time.monotonic()
    while time.monotonic() - start < timeout:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if output.count(b"[y/N]") > answered:
            os.write(fd, b"y\n")
            answered += 1
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace").replace("\r\n", "\n")


@pytest.mark.parametrize("command", ["predict", "train"])
def test_on_a_terminal_nothing_asks_and_nothing_runs(command, saved, tiny_bert, tmp_path):
    marker = tmp_path / "MARKER"
    if command == "predict":
        folder = planted_copy(saved["encoder"], tmp_path / "encoder", marker, plant_code)
        args = ["predict", str(folder), "a delightful film"]
    else:
        folder = planted_copy(tiny_bert, tmp_path / "base", marker, plant_code)
        args = ["train", "encoder", "--model", str(folder), "--max-steps", "1", "--output-dir", str(tmp_path / "o")]
    # transformers copies a trusted module into HF_MODULES_CACHE before importing it: keep that here.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    env.pop("PYTEST_CURRENT_TEST", None)
    status, output = run_in_terminal([sys.executable, "-m", "llmdisc", *args], env)
    assert "[y/N]" not in output and not marker.exists(), output
    assert status == 2 and "asks to run code of its own" in one_error_line(output)
