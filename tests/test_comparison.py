"""The comparison: learning curves, caching and resume, robustness, the report and its plots."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

import llmdisc
from llmdisc.classifiers.classical import NaiveBayesClassifier
from llmdisc.cli import main
from llmdisc.comparison.evaluation import drop_words, robustness_probabilities
from llmdisc.comparison.grid import parse_sizes

REPO = Path(__file__).resolve().parents[1]
CHEAP = "naive_bayes,logistic_regression"


def run(*args: str) -> int:
    return main(["compare", *args])


def test_two_cheap_approaches_end_to_end(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert run("--approaches", CHEAP, "--sizes", "8,32,all", "--seeds", "2", "--output-dir", str(out)) == 0
    records = json.loads((out / "results.json").read_text())
    # 2 approaches and the majority baseline x 3 sizes x 2 seeds x 2 splits, every one a success with every metric.
    assert len(records) == 36 and all(r["status"] == "ok" for r in records)
    assert {(r["approach"], r["train_examples"], r["seed"]) for r in records} == {
        (a, n, s) for a in [*CHEAP.split(","), "majority"] for n in (8, 32, 320) for s in (0, 1)
    }
    for r in records:
        assert 0 <= r["accuracy"] <= 1 and r["peak_rss_mib"] > 0 and r["parameters_total"] > 0
        assert sum(b["count"] for b in r["reliability"]) == r["examples"]
    assert all(r["schema_version"] == 2 for r in records)
    robust = [r for r in records if r["robustness"]]
    # Measured once per approach: at the largest size, first seed, on test.
    assert [(r["approach"], r["train_examples"], r["seed"], r["split"]) for r in robust] == [
        ("naive_bayes", 320, 0, "test"),
        ("logistic_regression", 320, 0, "test"),
        ("majority", 320, 0, "test"),
    ]
    assert list(robust[0]["robustness"]) == ["0", "0.1", "0.25", "0.5"]
    plain = next(
        r
        for r in records
        if r["approach"] == "naive_bayes" and r["train_examples"] == 320 and r["seed"] == 0 and r["split"] == "test"
    )
    assert robust[0]["robustness"]["0"] == plain["accuracy"]
    # Identical subsets across approaches: the same (size, seed) trains on the same examples...
    subsets = {}
    for r in records:
        subsets.setdefault((r["train_examples"], r["seed"]), set()).add(r["train_subset"])
    assert all(len(hashes) == 1 for hashes in subsets.values())
    # ... and different seeds draw different subsets (below the whole training set).
    assert subsets[(8, 0)] != subsets[(8, 1)] and subsets[(320, 0)] == subsets[(320, 1)]
    report = (out / "report.md").read_text()
    for heading in ("## Summary", "## Learning curves", "## Calibration", "## Robustness to missing words", "## Cost"):
        assert heading in report
    printed = capsys.readouterr().out
    assert "| naive_bayes | generative | 320 | 2 |" in printed and "report:" in printed
    assert (out / "results.csv").read_text().count("\n") == 37  # a header and the 36 records


def test_plots_are_written_and_not_empty(tmp_path):
    out = tmp_path / "cmp"
    assert run("--approaches", CHEAP, "--sizes", "16,all", "--output-dir", str(out)) == 0
    names = {p.name for p in (out / "plots").iterdir()}
    assert names == {"learning_curves.png", "reliability.png", "robustness.png", "cost.png", "confusion_matrices.png"}
    for name in names:
        image = imread(out / "plots" / name)
        assert image.shape[0] > 200 and image.shape[1] > 300
        # Something is drawn: many distinct colours, not a blank canvas.
        assert len(np.unique(image.reshape(-1, image.shape[-1])[:, :3], axis=0)) > 50, name
        assert f"plots/{name}" in (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert html.count("src='data:image/png;base64,") == 5  # self-contained
    assert "## Confusion matrices" in (out / "report.md").read_text()


def test_resume_reuses_cached_runs_and_adds_only_the_new_approach(tmp_path, monkeypatch):
    out = tmp_path / "cmp"
    calls = []
    original = NaiveBayesClassifier._fit

    def counting_fit(self, texts, labels, eval_data):
        calls.append(len(texts))
        if os.environ.get("INTERRUPT_AT") == str(len(calls)):
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C during the third run
        return original(self, texts, labels, eval_data)

    monkeypatch.setattr(NaiveBayesClassifier, "_fit", counting_fit)
    monkeypatch.setattr("llmdisc.comparison.costs.REPEATS", 1)  # one fit per cell: the timing repeats refit
    monkeypatch.setenv("INTERRUPT_AT", "3")
    args = ["--approaches", "naive_bayes", "--sizes", "8,32,128,all", "--output-dir", str(out), "--drop-rates", "0"]
    assert run(*args) == 130
    assert calls == [8, 32, 128]
    # The finished runs are on disk, each with its per-example predictions.
    assert sorted(p.name for p in (out / "runs" / "naive_bayes").iterdir()) == [
        "n32-seed0.json",
        "n32-seed0.parquet",
        "n8-seed0.json",
        "n8-seed0.parquet",
    ]

    monkeypatch.delenv("INTERRUPT_AT")
    assert run(*args) == 2  # no silent reuse (or loss) without --resume
    calls.clear()
    assert run(*args, "--resume") == 0
    assert calls == [128, 320]  # only what was not finished
    first = json.loads((out / "results.json").read_text())

    calls.clear()
    args[1] = "naive_bayes,logistic_regression"
    assert run(*args, "--resume") == 0
    assert calls == []  # naive_bayes fully cached: only logistic_regression ran
    records = json.loads((out / "results.json").read_text())
    assert [r for r in records if r["approach"] == "naive_bayes"] == [
        r for r in first if r["approach"] == "naive_bayes"
    ]
    assert {r["approach"] for r in records} == {"naive_bayes", "logistic_regression", "majority"}


@pytest.mark.parametrize(
    "change, named",
    [
        (["--data", "train=DATA/train.jsonl,test=DATA/test.jsonl"], "data.train"),
        (["--drop-rates", "0,0.3"], "robustness.rates"),
        (["--splits", "test"], "splits"),
    ],
)
def test_resume_on_a_different_run_is_refused_with_the_difference(tmp_path, capsys, change, named):
    out = tmp_path / "cmp"
    base = ["--approaches", "naive_bayes", "--output-dir", str(out)]
    assert run(*base) == 0
    demo = REPO / "llmdisc" / "data" / "demo_data"
    shutil.copy(demo / "test.jsonl", tmp_path / "test.jsonl")
    (tmp_path / "train.jsonl").write_text("".join((demo / "train.jsonl").read_text().splitlines(True)[:200]))
    change = [c.replace("DATA", str(tmp_path)) for c in change]
    capsys.readouterr()
    assert run(*base, *change, "--resume") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"llmdisc: error: cannot resume {out}") and named in err and "\n" not in err


def test_resume_with_other_approach_settings_is_refused(tmp_path, capsys):
    out = tmp_path / "cmp"
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"approaches:\n  naive_bayes: {{alpha: 1.0}}\noutput_dir: {out}\n")
    assert run("--config", str(recipe)) == 0
    recipe.write_text(f"approaches:\n  naive_bayes: {{alpha: 0.5}}\noutput_dir: {out}\n")
    capsys.readouterr()
    assert run("--config", str(recipe), "--resume") == 2
    assert "naive_bayes was run with different settings (alpha: 1.0 -> 0.5)" in capsys.readouterr().err


def test_a_size_larger_than_the_training_set_is_capped_with_a_note(tmp_path, caplog):
    assert parse_sizes([8, "all", 5000, "32"], 320) == (
        [8, 32, 320],
        ["size 5000 is larger than the training set; capped at 320"],
    )
    with pytest.raises(llmdisc.LlmdiscError, match="neither a number nor 'all'"):
        parse_sizes(["lots"], 320)
    with caplog.at_level(logging.WARNING):
        assert run("--approaches", "naive_bayes", "--sizes", "10000", "--output-dir", str(tmp_path / "c")) == 0
    assert "capped at 320" in caplog.text
    assert (
        "Note: size 10000 is larger than the training set; capped at 320" in (tmp_path / "c" / "report.md").read_text()
    )


def test_progress_names_the_run_and_gives_an_eta(tmp_path, caplog):
    # The grid's bar shows it; the log has it at debug level (--verbose), one line per cell.
    with caplog.at_level(logging.DEBUG, logger="llmdisc.comparison.grid"):
        assert run("--approaches", CHEAP, "--sizes", "8,all", "--output-dir", str(tmp_path), "--no-baseline") == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "llmdisc.comparison.grid"]
    assert lines[0].startswith("[1/4] naive_bayes, size 8, seed 0") and lines[0].endswith(
        "ETA unknown: 4 runs left of approaches not timed yet)"
    )
    assert lines[1].startswith("[2/4] naive_bayes, size 320, seed 0")
    assert lines[1].endswith("+ 2 runs of approaches not timed yet)")  # logistic_regression's
    assert lines[3].startswith("[4/4] logistic_regression, size 320, seed 0") and lines[3].endswith("s)")
    assert "ETA 0m" in lines[3] and "not timed" not in lines[3]


def test_zero_shot_runs_once_as_a_flat_line(tiny_gpt2, tmp_path):
    data = llmdisc.load_text_dataset("demo")
    small = llmdisc.stratified_subset(data["test"], 20, seed=0)
    data = type(data)({"train": data["train"], "test": small})
    records = llmdisc.compare(
        {"naive_bayes": {}, "zs": {"approach": "zeroshot", "model": str(tiny_gpt2)}},
        data,
        splits=["test"],
        sizes=[8, 64],
    )
    zs = [r for r in records if r.variant == "zs"]
    assert len(zs) == 1 and zs[0].approach == "zeroshot" and zs[0].flat and zs[0].size is None
    assert zs[0].train_examples == 0 and zs[0].to_dict()["size"] == "zero-shot"
    from llmdisc.analysis.analyse import analyse
    from llmdisc.reporting.plots import plot_learning_curves

    analysis = analyse(records)
    assert analysis.curves["zs"].flat and analysis.curves["naive_bayes"].sizes == [8, 64]
    # The flat line spans the plot; the x axis shows only real training sizes (a log axis has no 0).
    path = plot_learning_curves(analysis, tmp_path / "lc.png")
    assert path.stat().st_size > 10_000


def test_drop_words():
    texts = ["a b c d e f g h i j"] * 200 + ["one"]
    assert drop_words(texts, 0.0) == texts
    damaged = drop_words(texts, 0.3, seed=1)
    assert damaged == drop_words(texts, 0.3, seed=1)  # the same words for every classifier
    kept = np.mean([len(t.split()) for t in damaged[:200]]) / 10
    assert 0.65 < kept < 0.75
    assert all(t.strip() for t in drop_words(texts, 0.99))  # never an empty text


def test_robustness_predicts_every_rate_in_one_call_and_reuses_the_undamaged_probabilities():
    data = llmdisc.load_text_dataset("demo")
    clf = llmdisc.get_classifier("naive_bayes").fit(data["train"])
    calls = []
    predict = clf.predict_proba
    clf.predict_proba = lambda texts, **kw: calls.append(list(texts)) or predict(texts, **kw)
    rates = [0.0, 0.1, 0.25, 0.5]
    per_rate = {f"{r:g}": predict(drop_words(list(data["test"]["text"]), r)) for r in rates}
    undamaged = per_rate["0"].copy()
    undamaged[0] = [1.0, 0.0]  # marked, so that its reuse shows
    got = robustness_probabilities(clf, data["test"], rates, undamaged=undamaged)
    # One call, holding the damaged texts of the three positive rates, in order.
    assert len(calls) == 1 and len(calls[0]) == 3 * len(data["test"])
    assert list(got) == ["0", "0.1", "0.25", "0.5"] and got["0"] is undamaged
    for key in ("0.1", "0.25", "0.5"):
        np.testing.assert_allclose(got[key], per_rate[key])
    # Without probabilities given, rate 0 is predicted with the rest (in the same one call).
    calls.clear()
    got = robustness_probabilities(clf, data["test"], rates)
    assert len(calls) == 1 and len(calls[0]) == 4 * len(data["test"])
    np.testing.assert_allclose(got["0"], per_rate["0"])
    with pytest.raises(ValueError, match="undamaged holds 3 rows"):
        robustness_probabilities(clf, data["test"], rates, undamaged=undamaged[:3])


def test_report_opens_in_a_headless_browser_with_every_image(tmp_path):
    """report.html in a real browser (Debian's chromium): every image loads; keep a screenshot."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver must be installed in CI (make test installs them)")
        pytest.skip("chromium / chromedriver not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    out = tmp_path / "cmp"
    assert run("--approaches", CHEAP, "--sizes", "16,all", "--output-dir", str(out)) == 0
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,2400"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    try:
        browser.set_window_size(1280, 900)  # a laptop's screen: the verdict must be read without scrolling
        browser.get((out / "report.html").as_uri())
        top, bottom, inner = browser.execute_script(
            "const r = document.querySelector('ul.verdict').getBoundingClientRect();"
            "return [r.top, r.bottom, window.innerHeight]"
        )
        assert 0 < top and bottom < inner, (top, bottom, inner)
        # The verdict's table per size leads, then its sentences: both above the first other table.
        tables = browser.execute_script(
            "return Array.from(document.querySelectorAll('table')).map(t => t.getBoundingClientRect().top)"
        )
        assert 0 < tables[0] < top and tables[1] > bottom, (tables[:2], top, bottom)
        images = browser.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
        )
        assert len(images) == 5  # learning curves, calibration, confusion matrices, robustness, cost
        for alt, complete, width, height in images:
            assert complete and width > 300 and height > 200, alt
        assert browser.title.startswith("llmdisc comparison")
        # The whole page in one screenshot: grow the window to the page's height first.
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1200, height + 200)
        artifacts = REPO / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(artifacts / "report.png"))
    finally:
        browser.quit()
    shot = imread(artifacts / "report.png")
    assert shot.shape[1] == 1200 and shot.shape[0] >= height
    assert len(np.unique(shot.reshape(-1, shot.shape[-1])[:, :3], axis=0)) > 100  # not a blank page


def test_an_approach_can_stop_at_smaller_sizes_and_fewer_seeds():
    data = llmdisc.load_text_dataset("demo")
    records = llmdisc.compare(
        {"naive_bayes": {"sizes": [8], "seeds": 1, "alpha": 0.5}, "logistic_regression": {}},
        data,
        splits=["test"],
        sizes=[8, 32],
        seeds=2,
        drop_rates=[0, 0.5],
        baseline=False,
    )
    runs = sorted({(r.variant, r.train_examples, r.seed) for r in records})
    assert runs == [
        ("logistic_regression", 8, 0),
        ("logistic_regression", 8, 1),
        ("logistic_regression", 32, 0),
        ("logistic_regression", 32, 1),
        ("naive_bayes", 8, 0),
    ]
    assert [(r.variant, r.train_examples) for r in records if r.robustness is not None] == [
        ("naive_bayes", 8),
        ("logistic_regression", 32),
    ]


def test_resume_after_the_largest_size_changed_moves_the_robustness_curve(tmp_path):
    data = llmdisc.load_text_dataset("demo")
    common = dict(splits=["test"], drop_rates=[0, 0.5], output_dir=tmp_path, baseline=False)
    llmdisc.compare(["naive_bayes"], data, sizes=[8, 32], **common)
    records = llmdisc.compare(["naive_bayes"], data, sizes=[8, 32, 64], resume=True, **common)
    assert [r.train_examples for r in records if r.robustness is not None] == [64]
    records = llmdisc.compare(["naive_bayes"], data, sizes=[8, 32], resume=True, **common)
    assert [r.train_examples for r in records if r.robustness is not None] == [32]  # recomputed, not lost


def test_resume_accepts_settings_given_as_tuples(tmp_path):
    data = llmdisc.load_text_dataset("demo")
    approaches = {"naive_bayes": {"ngram_range": (1, 1)}}
    llmdisc.compare(approaches, data, splits=["test"], output_dir=tmp_path)
    assert llmdisc.compare(approaches, data, splits=["test"], output_dir=tmp_path, resume=True)


@pytest.mark.parametrize(
    "config, named",
    [
        ({"approach": "naive_bayes", "alpha": "x"}, "alpha: cannot read 'x' as float"),
        ({"approach": "naive_bayes", "alhpa": 1.0}, "unknown naive_bayes config key(s): alhpa"),
        ({"approach": "bayes"}, "unknown approach 'bayes'"),
        ({"approach": "zeroshot", "model": "no-such-model/at-all/here"}, "model file or folder not found"),
        ({"approach": "zeroshot", "templates": ["Review: {text}"]}, "must hold {text} and {label} once each"),
        ({"approach": "zeroshot", "verbalizers": {"neutral": "meh"}}, "verbalizers name unknown labels ['neutral']"),
        (
            {"approach": "lora", "head": "channel", "verbalizers": {"neutral": "meh"}},
            "verbalizers name unknown labels",
        ),
        ({"approach": "encoder", "model": "./missing-folder"}, "model file or folder not found"),
    ],
)
def test_a_bad_last_approach_fails_before_the_first_run(monkeypatch, config, named):
    calls = []
    monkeypatch.setattr(NaiveBayesClassifier, "_fit", lambda self, *a: calls.append(1))
    data = llmdisc.load_text_dataset("demo")
    with pytest.raises(llmdisc.LlmdiscError) as error:
        llmdisc.compare(
            {"naive_bayes": {}, "logistic_regression": {}, "last": config},
            data,
            splits=["test"],
            sizes=[8, 32],
            seeds=2,
        )
    message = str(error.value)
    assert message.startswith("approach 'last': ") and named in message and "\n" not in message
    assert calls == []  # nothing was trained


def test_the_cli_reports_a_bad_recipe_in_one_line_before_any_run(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"approaches:\n  naive_bayes: {{}}\n  zs: {{approach: zeroshot, mode: chanel}}\noutput_dir: {tmp_path / 'o'}\n"
    )
    assert run("--config", str(recipe)) == 2
    err = capsys.readouterr().err.strip()
    assert err == "llmdisc: error: approach 'zs': unknown scoring mode 'chanel'; use direct or channel"
    assert not (tmp_path / "o" / "runs").exists()


def test_a_cache_of_an_older_schema_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert run("--approaches", "naive_bayes", "--output-dir", str(out)) == 0
    cached = next((out / "runs" / "naive_bayes").glob("*.json"))
    old = json.loads(cached.read_text())
    for record in old["records"]:
        del record["schema_version"]  # as llmdisc 0.1.0 wrote them
    cached.write_text(json.dumps(old))
    capsys.readouterr()
    assert run("--approaches", "naive_bayes", "--output-dir", str(out), "--resume") == 2
    err = capsys.readouterr().err.strip()
    assert "schema version 1" in err and "--overwrite" in err and "\n" not in err


def test_a_second_comparison_on_the_same_folder_is_refused(tmp_path, demo):
    import subprocess
    import sys

    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys\nfrom llmdisc.plumbing.locks import FolderLock\n"
            f"with FolderLock({str(out)!r}):\n    print('held', flush=True)\n    sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(llmdisc.LlmdiscError, match=rf"output folder {out} is in use by process {holder.pid}"):
            llmdisc.compare("naive_bayes", demo, sizes=[8], output_dir=out)
        assert not (out / "runs").exists() and not (out / "comparison.json").exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    llmdisc.compare("naive_bayes", demo, sizes=[8], output_dir=out)  # once the first has ended
    assert not (out / ".llmdisc.lock").exists()


def test_a_killed_comparison_leaves_its_checkpoints_in_the_output_folder_for_the_next(tiny_bert, tmp_path, caplog):
    import signal
    import subprocess
    import sys

    out, system_tmp = tmp_path / "out", tmp_path / "system-tmp"
    system_tmp.mkdir()
    # The encoder cell is killed (SIGKILL, from a Trainer callback) once its first checkpoint is saved.
    code = f"""
import os, signal
from transformers import Trainer, TrainerCallback
import llmdisc

class Kill(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

init = Trainer.__init__
def patched(self, *a, **k):
    init(self, *a, **k)
    self.add_callback(Kill())
Trainer.__init__ = patched
llmdisc.compare({{"encoder": {{"model": {str(tiny_bert)!r}, "max_steps": 4, "eval_steps": 2, "batch_size": 4}}}},
                llmdisc.load_text_dataset("demo"), sizes=[16], output_dir={str(out)!r})
"""
    env = {**os.environ, "TMPDIR": str(system_tmp), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert not list(system_tmp.glob("llmdisc-checkpoints-*"))
    (left,) = (out / "tmp").glob("llmdisc-checkpoints-*")
    assert (left / "checkpoint-2").is_dir()

    with caplog.at_level("WARNING"):
        llmdisc.compare("naive_bayes", llmdisc.load_text_dataset("demo"), sizes=[16], output_dir=out, resume=True)
    assert "took over the lock" in caplog.text
    assert not (out / "tmp").exists() and not (out / ".llmdisc.lock").exists()


# ---- faults: damaged caches, refusals that change nothing (issue 29) ------------------------------


@pytest.mark.parametrize(
    "damage",
    ["truncated json", "empty json", "truncated parquet", "empty parquet"],
)
def test_a_damaged_cache_cell_is_run_again_with_a_warning_naming_it(damage, tmp_path, caplog):
    out = tmp_path / "cmp"
    args = ("--approaches", "naive_bayes", "--sizes", "8,32", "--output-dir", str(out))
    assert run(*args) == 0
    before = json.loads((out / "results.json").read_text())
    suffix = ".json" if "json" in damage else ".parquet"
    damaged = out / "runs" / "naive_bayes" / f"n8-seed0{suffix}"
    content = damaged.read_bytes()
    damaged.write_bytes(content[: len(content) // 2] if "truncated" in damage else b"")
    kept = (out / "runs" / "naive_bayes" / "n32-seed0.json").stat().st_mtime_ns
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert run(*args, "--resume") == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and str(damaged) in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].endswith("running naive_bayes, size 8, seed 0 again"), warnings
    after = json.loads((out / "results.json").read_text())
    assert [r["accuracy"] for r in after] == [r["accuracy"] for r in before]  # the same run, again
    assert damaged.stat().st_size > 0 and json.loads(damaged.with_suffix(".json").read_text())["records"]
    assert (out / "runs" / "naive_bayes" / "n32-seed0.json").stat().st_mtime_ns == kept  # the sound cell is reused


def test_a_damaged_manifest_is_one_line(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert run("--approaches", "naive_bayes", "--sizes", "8", "--output-dir", str(out)) == 0
    (out / "comparison.json").write_text('{"data": ')
    capsys.readouterr()
    assert run("--approaches", "naive_bayes", "--sizes", "8", "--output-dir", str(out), "--resume") == 2
    err = capsys.readouterr().err.strip()
    assert "comparison.json is damaged" in err and "--overwrite" in err and "\n" not in err


def test_an_output_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    taken = tmp_path / "results.txt"
    taken.write_text("mine")
    assert run("--approaches", "naive_bayes", "--sizes", "8", "--output-dir", str(taken)) == 2
    assert capsys.readouterr().err.strip() == f"llmdisc: error: --output-dir {taken} is a file; pass a folder"
    assert taken.read_text() == "mine"


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its content (None for a folder)."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("refusal", ["no --resume", "other settings"])
def test_a_refused_comparison_changes_nothing(refusal, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert run("--approaches", "naive_bayes", "--sizes", "8", "--output-dir", str(out)) == 0
    # What a killed comparison left: checkpoints in tmp/ (the next accepted run removes them).
    (out / "tmp" / "llmdisc-checkpoints-1-host-x").mkdir(parents=True)
    (out / "tmp" / "llmdisc-checkpoints-1-host-x" / "trainer_state.json").write_text("{}")
    before = _tree(out)
    extra = ["--sizes", "8"] if refusal == "no --resume" else ["--sizes", "8", "--seeds", "1", "--splits", "test"]
    capsys.readouterr()
    status = run(
        "--approaches", "naive_bayes", "--output-dir", str(out), *extra, *(["--resume"] * (refusal != "no --resume"))
    )
    assert status == 2 and "\n" not in capsys.readouterr().err.strip()
    assert _tree(out) == before


def test_a_comparison_refused_before_it_ran_creates_no_folder(tmp_path, capsys):
    out = tmp_path / "new" / "cmp"
    assert run("--approaches", "naive_bayes", "--sizes", "8", "--splits", "nonexistent", "--output-dir", str(out)) == 2
    assert "none of the splits" in capsys.readouterr().err and not out.exists()
