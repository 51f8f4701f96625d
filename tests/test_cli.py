"""The llmdisc command end to end on the demo data."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmdisc.cli import main

REPO = Path(__file__).resolve().parents[1]


def llmdisc(*args, cwd=None, timeout=900):
    """Run the installed console script the way a user does (``timeout``: a guard against a hang)."""
    exe = Path(sys.executable).parent / "llmdisc"
    return subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def test_help_lists_the_subcommands():
    out = llmdisc("--help")
    assert out.returncode == 0
    for command in ("compare", "train"):
        assert command in out.stdout


@pytest.mark.demo
def test_compare_without_arguments_runs_the_demo(tmp_path):
    # The whole demo (`make test-demo`): 16 min on a loaded 2-core machine (9 min quiet before the LoRA
    # channel head and the two zero-shot variants joined it).
    out = llmdisc("compare", cwd=tmp_path, timeout=1800)
    assert out.returncode == 0, out.stderr
    assert "| naive_bayes | generative | 320 | 1 |" in out.stdout
    folder = tmp_path / "outputs" / "compare-demo"
    assert {p.name for p in folder.iterdir()} == {
        "report.md",
        "report.html",
        "plots",
        "results.json",
        "results.csv",
        "runs",
        "comparison.json",
        "analysis.json",
        "predictions.parquet",
        "anomaly.json",
    }
    records = json.loads((folder / "results.json").read_text())
    assert all(r["status"] == "ok" for r in records), [r.get("error") for r in records]
    # The verdict comes first; the report then shows what issue 12 and 18 ask of the demo.
    report = (folder / "report.md").read_text()
    headings = [line[3:] for line in report.splitlines() if line.startswith("## ")]
    assert headings[0] == "Verdict"
    for heading in (
        "Learning curves",
        "Prompts chosen",
        "Paired comparisons",
        "Zero-shot templates",
        "Anomaly detection",
        "Claims tested on this data",
        "Where the approaches disagree",
    ):
        assert heading in headings, heading
    claims = json.loads((folder / "analysis.json").read_text())["claims"]
    lora = [c for c in claims if "LoRA channel vs LoRA verbalizer" in c["claim"]]
    assert lora and lora[0]["outcome"] != "not tested", lora  # both heads have a learning curve


def test_compare_with_flags_writes_every_record(tmp_path, capsys):
    code = main(
        [
            "compare",
            "--approaches",
            "naive_bayes,logistic_regression",
            "--output-dir",
            str(tmp_path),
            "--sizes",
            "100",
            "--drop-rates",
            "",
        ]
    )
    assert code == 0
    records = json.loads((tmp_path / "results.json").read_text())
    assert [(r["approach"], r["split"]) for r in records] == [
        ("naive_bayes", "validation"),
        ("naive_bayes", "test"),
        ("logistic_regression", "validation"),
        ("logistic_regression", "test"),
        ("majority", "validation"),  # the baseline, a row of every comparison
        ("majority", "test"),
    ]
    for r in records:
        for key in ("accuracy", "macro_f1", "log_loss", "brier", "ece", "examples_per_second"):
            assert isinstance(r[key], float), key
        assert r["train_examples"] == 100
    with open(tmp_path / "results.csv") as f:
        assert len(list(csv.DictReader(f))) == 6
    assert "| logistic_regression | discriminative | test | 100 | 0 |" in (tmp_path / "report.md").read_text()
    assert "report:" in capsys.readouterr().out


def test_compare_from_a_recipe_with_an_override(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"data: demo\napproaches:\n  naive_bayes: {{alpha: 0.5}}\nsplits: [test]\nbaseline: false\n"
        f"output_dir: {tmp_path / 'out'}\n"
    )
    assert main(["compare", "--config", str(recipe), "--seed", "1"]) == 0
    (record,) = json.loads((tmp_path / "out" / "results.json").read_text())
    assert record["approach"] == "naive_bayes" and record["split"] == "test" and record["seed"] == 1


def test_a_failing_approach_is_reported_and_the_others_run(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"approaches:\n  naive_bayes: {{alpha: -1}}\n  logistic_regression: {{}}\noutput_dir: {tmp_path}\n"
    )
    assert main(["compare", "--config", str(recipe)]) == 1  # the others ran, but not everything
    records = json.loads((tmp_path / "results.json").read_text())
    assert {r["approach"]: r["status"] for r in records} == {
        "naive_bayes": "failed",
        "logistic_regression": "ok",
        "majority": "ok",
    }
    assert "FAILED" in (tmp_path / "report.md").read_text()


def test_train_saves_a_folder_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "nb"
    assert main(["train", "naive_bayes", "--alpha", "0.5", "--output-dir", str(out)]) == 0
    meta = json.loads((out / "llmdisc_config.json").read_text())
    assert meta["config"]["alpha"] == 0.5 and set(meta["info"]["metrics"]) == {"validation", "test"}
    assert json.loads((out / "eval_results.json").read_text()) == meta["info"]["metrics"]
    result = llmdisc("train", "naive_bayes", "--output-dir", str(out))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"llmdisc: error: {out} already exists and is not empty; pass --overwrite or another --output-dir"
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["compare", "--data", "missing.csv"], "data file not found: missing.csv"),
        (["compare", "--text-column", "body"], "text column 'body' not found; columns found: text, label"),
        (["train", "naive_bayes", "--ngram-range", "x"], "cannot read 'x' as int"),
        # Every approach is checked before the first run: a typo costs seconds, not a FAILED row.
        (["compare", "--approaches", "naive_bayes,bayes"], "approach 'bayes': unknown approach 'bayes'; available: "),
    ],
)
def test_bad_input_is_one_line(args, message, tmp_path):
    result = llmdisc(*args, "--output-dir", str(tmp_path / "o"))
    assert result.returncode == 2, result.stdout
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("llmdisc: error")]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_compare_exits_non_zero_when_every_approach_fails(tmp_path):
    # Refused before the first run, in one line, and nothing is written.
    result = llmdisc("compare", "--approaches", "foo,bar", "--output-dir", str(tmp_path / "o"))
    assert result.returncode == 2, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("llmdisc: error")]
    from llmdisc import available_classifiers

    assert lines == [
        f"llmdisc: error: approach 'foo': unknown approach 'foo'; available: {', '.join(available_classifiers())}"
    ], result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o" / "runs").exists()


def test_compare_with_one_failing_run_exits_1_with_the_count_last(tmp_path, capsys):
    # min_df above the training examples of the smallest size: that run fails inside fit.
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"approaches:\n  naive_bayes: {{min_df: 50}}\n  logistic_regression: {{}}\nsizes: [20, 200]\n"
        f"drop_rates: []\noutput_dir: {tmp_path / 'out'}\n"
    )
    assert main(["compare", "--config", str(recipe)]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"1 of 6 runs failed; see the Failed approaches table in {tmp_path / 'out' / 'report.md'}"


def test_unknown_yaml_key_is_one_line(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("approachs: naive_bayes\n")
    result = llmdisc("compare", "--config", str(recipe))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "llmdisc: error: unknown r.yaml key(s): approachs; valid keys: seed, data, text_column, label_column, "
        "label_names, validation_size, data_config, data_revision, splits_map, anomaly_model, anomaly_class, "
        "anomaly_examples, verbalizers, task, metric, margin, cost, splits, sizes, seeds, drop_rates, "
        "robustness_split, robustness_examples, selection_split, holdout, calibration, output_dir, resume, "
        "overwrite, baseline, shard, approaches, push_to_hub, hub_private, hub_dry_run, hub_license"
    )


def test_shipped_recipes_parse():
    from llmdisc.commands import train
    from llmdisc.commands.compare import CompareConfig
    from llmdisc.plumbing.config import config_from_dict, load_yaml

    recipes = sorted((REPO / "recipes").glob("*.yaml"))
    assert len(recipes) >= 4
    parser = train.make_parser()
    for path in recipes:
        if path.stem.endswith("compare"):
            config_from_dict(CompareConfig, load_yaml(path), where=path.name)
            continue
        # A train recipe names its approach in the file name: sst2-naive-bayes -> naive_bayes.
        approach = next(
            a for a in ("naive_bayes", "logistic_regression", "encoder", "lora") if a.replace("_", "-") in path.stem
        )
        train._split_values(approach, parser.parse_args([approach, "--config", str(path)]))


def test_demo_recipe_is_the_default_comparison():
    from llmdisc.commands.compare import DEFAULT_APPROACHES
    from llmdisc.plumbing.config import load_yaml

    assert load_yaml(REPO / "recipes" / "demo-compare.yaml")["approaches"] == DEFAULT_APPROACHES


def test_flags_also_take_transformers_spelling(tmp_path, capsys):
    """--learning_rate as transformers' scripts spell it, beside --learning-rate (issue 29)."""
    from llmdisc.cli import make_parser

    def settings(*args):
        return {k: v for k, v in vars(make_parser().parse_args(["train", "encoder", *args])).items() if k != "func"}

    dashes = ["--learning-rate", "1e-4", "--batch-size", "8", "--no-group-by-length", "--push-to-hub"]
    underscores = ["--learning_rate", "1e-4", "--batch_size", "8", "--no_group_by_length", "--push_to_hub"]
    assert settings(*underscores, "--data_revision", "v1") == settings(*dashes, "--data-revision", "v1")
    with pytest.raises(SystemExit):
        make_parser().parse_args(["train", "encoder", "--help"])
    shown = capsys.readouterr().out
    assert "--learning-rate" in shown and "--learning_rate" not in shown  # --help lists each flag once
    out = tmp_path / "nb"
    args = ["--output_dir", str(out), "--max_train_samples", "32", "--eval_splits", "test"]
    assert main(["train", "naive_bayes", *args]) == 0
    assert (out / "llmdisc_config.json").is_file()


def test_the_package_declares_the_versions_its_code_needs():
    """scikit-learn 1.6 brought FrozenEstimator (calibration); transformers' next major may change the
    Trainer internals llmdisc subclasses, so it is bounded below it (issue 29)."""
    import importlib.metadata

    tomllib = pytest.importorskip("tomllib")
    from packaging.requirements import Requirement

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    specs = {r.name: r.specifier for r in map(Requirement, declared)}
    assert "1.5.2" not in specs["scikit-learn"] and "1.6.0" in specs["scikit-learn"]
    assert "sklearn.frozen import FrozenEstimator" in (REPO / "llmdisc" / "classifiers" / "calibration.py").read_text()
    installed = importlib.metadata.version("transformers")
    assert installed in specs["transformers"] and "6.0.0" not in specs["transformers"]
