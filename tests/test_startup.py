"""The CLI answers at once: parsing, ``--help`` and argument, config and column errors import no torch.

Timings are noisy on shared machines, so these tests check the cause instead: which heavy
libraries a fresh interpreter has imported (``sys.modules``) after the CLI has answered.
benchmarks/cli_startup.sh measures the time itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "peft", "accelerate", "datasets", "sklearn", "matplotlib", "skops")

# Runs the CLI in a fresh interpreter, then prints which heavy libraries it imported.
PROBE = f"""
import json, sys
from llmdisc.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:  # --help and argparse errors exit
    code = e.code
print(json.dumps({{"code": code, "imported": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def probe(*args: str, cwd=None) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert out.stdout.strip(), out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["stderr"] = out.stderr
    return result


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["compare", "--help"],
        ["train", "--help"],
        ["train", "encoder", "--help"],
        ["train", "lora", "--help"],
        ["generate", "--help"],
        ["score", "--help"],
        ["predict", "--help"],
        ["evaluate", "--help"],
    ],
)
def test_help_imports_no_heavy_library(args):
    result = probe(*args)
    assert result["code"] == 0, result["stderr"]
    assert result["imported"] == []


def test_parse_and_config_errors_import_no_heavy_library(tmp_path):
    bad_yaml = tmp_path / "r.yaml"
    bad_yaml.write_text("no_such_key: 1\n")
    for args, message in [
        (["train", "encoder", "--epochs", "many"], "cannot read 'many' as float"),
        (
            ["train", "naive_bayes", "--config", str(bad_yaml)],
            "unknown r.yaml key(s) for train naive_bayes: no_such_key",
        ),
        (["train", "naive_bayes", "--config", str(tmp_path / "missing.yaml")], "config file not found"),
        (["compare", "--no-such-flag"], "unrecognized arguments"),
    ]:
        result = probe(*args)
        assert result["code"] == 2 and message in result["stderr"], (args, result)
        assert "torch" not in result["imported"] and "transformers" not in result["imported"], args


@pytest.mark.parametrize(
    "suffix, content",
    [
        (".csv", "sentence,label\nfine,positive\nbad,negative\n"),
        (".tsv", "sentence\tlabel\nfine\tpositive\nbad\tnegative\n"),
        (".jsonl", '{"sentence": "fine", "label": "positive"}\n{"sentence": "bad", "label": "negative"}\n'),
    ],
)
def test_a_missing_data_column_is_reported_before_any_heavy_import(tmp_path, suffix, content):
    data = tmp_path / f"train{suffix}"
    data.write_text(content)
    result = probe(
        "train", "encoder", "--data", str(data), "--text-column", "body", "--output-dir", str(tmp_path / "o")
    )
    assert result["code"] == 2
    assert "text column 'body' not found; columns found: sentence, label" in result["stderr"]
    assert result["imported"] == []
    assert not (tmp_path / "o").exists()


def test_importing_the_package_imports_no_heavy_library():
    code = f"import sys, llmdisc; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "[]", out.stderr
