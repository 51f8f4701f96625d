"""``llmdisc predict`` and ``llmdisc evaluate`` on saved classifiers, and their bad inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest

from llmdisc import LlmdiscError, TextClassifier, evaluate_classifier, get_classifier
from llmdisc.cli import main

TEXTS = ["a delightful little film", "dull and far too long"]


def llmdisc(*args, stdin=None, cwd=None):
    exe = Path(sys.executable).parent / "llmdisc"
    return subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


@pytest.fixture(scope="module")
def nb(tmp_path_factory, demo=None):
    import llmdisc

    data = llmdisc.load_text_dataset("demo")
    folder = tmp_path_factory.mktemp("nb") / "nb"
    get_classifier("naive_bayes").fit(data["train"]).save_pretrained(folder)
    return folder


def test_predict_texts_as_arguments_prints_one_json_line_each(nb):
    out = llmdisc("predict", str(nb), *TEXTS)
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    expected = TextClassifier.from_pretrained(nb).predict_proba(TEXTS)
    assert [r["text"] for r in records] == TEXTS
    for r, p in zip(records, expected):
        assert set(r) == {"text", "label", "prob_negative", "prob_positive"}
        np.testing.assert_allclose([r["prob_negative"], r["prob_positive"]], p, atol=1e-12)
        assert r["label"] == ["negative", "positive"][int(p.argmax())]


def test_predict_reads_stdin_and_table_files_and_writes_each_format(nb, tmp_path, capsys):
    assert llmdisc("predict", str(nb), stdin="\n".join(TEXTS) + "\n").stdout.count("\n") == 2
    csv_in = tmp_path / "in.csv"
    csv_in.write_text('id,review\n1,a delightful little film\n2,"dull, and far too long"\n')
    for suffix in (".jsonl", ".csv", ".parquet"):
        out = tmp_path / f"out{suffix}"
        assert (
            main(
                [
                    "predict",
                    str(nb),
                    "--file",
                    str(csv_in),
                    "--text-column",
                    "review",
                    "--output",
                    str(out),
                    "--batch-size",
                    "1",
                ]
            )
            == 0
        )
        builder = {".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}[suffix]
        ds = datasets.load_dataset(builder, data_files=str(out), split="train")
        assert ds["text"] == ["a delightful little film", "dull, and far too long"]
        assert set(ds.column_names) == {"text", "label", "prob_negative", "prob_positive"}
    assert capsys.readouterr().out == ""  # written to the file, not stdout


def test_evaluate_prints_the_table_and_writes_metrics_predictions_and_report(nb, tmp_path, capsys, demo):
    out = tmp_path / "ev"
    assert main(["evaluate", str(nb), "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| naive_bayes | generative | test |" in printed
    metrics = json.loads((out / "metrics.json").read_text())["splits"]["test"]
    expected = evaluate_classifier(TextClassifier.from_pretrained(nb), demo["test"])
    assert metrics["accuracy"] == pytest.approx(expected.metrics["accuracy"])
    assert metrics["confusion"] == expected.confusion and np.sum(metrics["confusion"]) == len(demo["test"])
    preds = datasets.load_dataset("parquet", data_files=str(out / "predictions.parquet"), split="train")
    assert preds.column_names == ["split", "index", "text", "gold", "predicted", "prob_negative", "prob_positive"]
    assert preds["text"] == demo["test"]["text"] and len(preds) == len(demo["test"])
    assert np.mean(np.array(preds["gold"]) == np.array(preds["predicted"])) == pytest.approx(
        expected.metrics["accuracy"]
    )
    assert {p.name for p in (out / "plots").iterdir()} == {"reliability-test.png", "confusion-test.png"}
    assert "plots/confusion-test.png" in (out / "report.md").read_text()


def test_evaluate_a_single_file_evaluates_all_of_it(nb, tmp_path, capsys):
    data = tmp_path / "new.csv"
    data.write_text("sentence,label\na delightful film,positive\nawful,negative\nso boring,negative\n")
    assert main(["evaluate", str(nb), "--data", str(data)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "naive_bayes" in line)
    assert "| new.csv |" in row


def test_confusion_matrix_rows_are_gold_labels(demo):
    clf = get_classifier("naive_bayes").fit(demo["train"])
    m = evaluate_classifier(clf, demo["test"]).confusion
    gold = np.asarray(demo["test"]["label"])
    assert [sum(row) for row in m] == np.bincount(gold, minlength=2).tolist()


def _plain_transformers_folder(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["BertForSequenceClassification"]}))
    return folder


@pytest.mark.parametrize(
    "case",
    [
        "plain transformers",
        "other folder",
        "missing folder",
        "hub offline",
        "no text column",
        "empty input",
        "missing output folder",
        "bad output format",
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(case, nb, tmp_path):
    model, extra, stdin, expected = str(nb), [], None, None
    output = tmp_path / "out.jsonl"
    if case == "plain transformers":
        model = str(_plain_transformers_folder(tmp_path))
        expected = "holds a plain transformers model (BertForSequenceClassification)"
    elif case == "other folder":
        (tmp_path / "junk").mkdir()
        (tmp_path / "junk" / "notes.txt").write_text("hi")
        model, expected = (
            str(tmp_path / "junk"),
            "holds no llmdisc classifier (no llmdisc_config.json; it has: notes.txt)",
        )
    elif case == "missing folder":
        model, expected = str(tmp_path / "nothing-here"), "does not exist"
    elif case == "hub offline":
        model, expected = "someone/not-cached-model", "the Hub is unreachable and it is not in the local cache"
    elif case == "no text column":
        table = tmp_path / "in.csv"
        table.write_text("id,body\n1,hello\n")
        extra, expected = (
            ["--file", str(table)],
            "no text column found (looked for text, sentence, review, content, document); columns found: id, body",
        )
    elif case == "empty input":
        stdin, expected = "\n\n", "the input holds no text"
    elif case == "missing output folder":
        output, expected = tmp_path / "no" / "such" / "out.jsonl", "does not exist"
    elif case == "bad output format":
        output, expected = tmp_path / "out.xlsx", "unknown format '.xlsx'"
    args = ["predict", model, *([] if extra or stdin is not None else TEXTS), *extra, "--output", str(output)]
    result = llmdisc(*args, stdin=stdin if stdin is not None else "")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("llmdisc: error")]
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not output.exists() and not [p for p in output.parent.glob(".*tmp*")] if output.parent.exists() else True


def test_a_failed_prediction_leaves_no_partial_output(nb, tmp_path, monkeypatch):
    out = tmp_path / "out.parquet"
    calls = []

    def failing(self, texts):
        calls.append(len(texts))
        if len(calls) > 1:
            raise RuntimeError("out of memory, say")
        return np.full((len(texts), 2), 0.5)

    monkeypatch.setattr(type(TextClassifier.from_pretrained(nb)), "_predict_proba", failing)
    with pytest.raises(RuntimeError):
        main(["predict", str(nb), *TEXTS, "--output", str(out), "--batch-size", "1"])
    assert list(tmp_path.iterdir()) == []


def test_predict_checks_the_text_column_before_importing_torch(nb, tmp_path):
    table = tmp_path / "in.csv"
    table.write_text("id,body\n1,hello\n")
    code = (
        "import sys\nfrom llmdisc.cli import main\n"
        f"code = main(['predict', {str(nb)!r}, '--file', {str(table)!r}, '--text-column', 'text'])\n"
        "print(code, 'torch' in sys.modules, 'transformers' in sys.modules, 'datasets' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["2", "False", "False", "False"], out.stderr
    assert "text column 'text' not found; columns found: id, body" in out.stderr


# ---- a tampered llmdisc_config.json (issue 29) --------------------------------------------------


@pytest.fixture(scope="module")
def saved_kinds(tiny_bert, tiny_gpt2, tmp_path_factory):
    """One saved folder of each kind of file set: classical, encoder (default settings), LoRA, zero-shot."""
    import llmdisc

    data = llmdisc.load_text_dataset("demo")
    train = llmdisc.stratified_subset(data["train"], 16)
    root = tmp_path_factory.mktemp("kinds")
    made = {
        "naive_bayes": get_classifier("naive_bayes").fit(data["train"]),
        "topics": get_classifier("naive_bayes").fit(llmdisc.load_text_dataset("demo-topics")["train"]),
        "encoder": get_classifier("encoder", model=str(tiny_bert), max_steps=1, batch_size=8).fit(train),
        "lora": get_classifier("lora", model=str(tiny_gpt2), max_steps=1, batch_size=4).fit(train),
        "zeroshot": get_classifier("zeroshot", model=str(tiny_gpt2), calibrate=True).fit(train),
    }
    return {name: clf.save_pretrained(root / name) for name, clf in made.items()}


THREE = ["negative", "positive", "neutral"]
PLATT = {"method": "platt", "temperature": None, "fitted_on": 30}


@pytest.mark.parametrize(
    "kind,change,message",
    [
        ("encoder", {"labels": THREE}, "config.json holds the labels ['negative', 'positive']"),
        ("lora", {"labels": THREE}, "lora_head.json holds 2 labels"),
        ("zeroshot", {"labels": THREE}, "zeroshot.json holds 2 labels"),
        ("topics", {"labels": ["negative", "positive"]}, "model.skops predicts the classes [0, 1, 2, 3]"),
        ("naive_bayes", {"labels": "negative,positive"}, "'labels' must be a list of two or more distinct names"),
        ("naive_bayes", {"labels": ["positive"]}, "'labels' must be a list of two or more distinct names"),
        ("naive_bayes", {"labels": ["positive", "positive"]}, "'labels' must be a list of two or more distinct"),
        ("naive_bayes", {"labels": ["negative", 1]}, "'labels' must be a list of two or more distinct names"),
        ("naive_bayes", {"approach": ["naive_bayes"]}, "names no approach"),
        ("naive_bayes", {"config": [0.5]}, "'config' must be a mapping, not a list"),
        ("naive_bayes", {"config": {"alpha": "a lot"}}, "alpha: cannot read 'a lot' as float"),
        ("naive_bayes", {"info": "yesterday"}, "'info' must be a mapping, not a str"),
        ("naive_bayes", {"info": {"trainer": "fast"}}, "'info' is damaged"),
        ("naive_bayes", {"temperature_scaling": {"temperature": 2.0}}, "must be a mapping with method"),
        ("naive_bayes", {"temperature_scaling": [2.0]}, "must be a mapping with method"),
        (
            "naive_bayes",
            {"temperature_scaling": {"method": "sideways", "temperature": 2.0, "fitted_on": 30}},
            "unknown method 'sideways'",
        ),
        (
            "naive_bayes",
            {"temperature_scaling": {"method": "temperature", "temperature": -2.0, "fitted_on": 30, "x": 1}},
            "unknown key(s) x",
        ),
        (
            "naive_bayes",
            {"temperature_scaling": {"method": "temperature", "temperature": "hot", "fitted_on": 30}},
            "temperature must be a positive number, not 'hot'",
        ),
        (
            "naive_bayes",
            {"temperature_scaling": {"method": "temperature", "temperature": 0, "fitted_on": 30}},
            "temperature must be a positive number, not 0",
        ),
        (
            "naive_bayes",
            {"temperature_scaling": {**PLATT, "parameters": [{"a": [1.0], "b": [0.0]}] * 2}},
            "parameters must hold 1 platt calibrator(s) of a and b",
        ),
        (
            "naive_bayes",
            {"temperature_scaling": {**PLATT, "parameters": [{"a": ["x"], "b": [0.0]}]}},
            "parameters must hold 1 platt calibrator(s) of a and b",
        ),
        ("zeroshot", {"zeroshot.json": None}, "lacks zeroshot.json"),
        ("zeroshot", {"zeroshot.json": [1, 2]}, "zeroshot.json holds a JSON list, not an object"),
        (
            "zeroshot",
            {"zeroshot.json": {"demonstrations": [{"text": "x", "label": "meh"}]}},
            "zeroshot.json is damaged (ValueError",
        ),
        ("lora", {"lora_head.json": None}, "has no lora_head.json"),
        ("lora", {"adapter_model.safetensors": None}, "has no adapter_model.safetensors"),
    ],
    ids=lambda v: v if isinstance(v, str) and " " not in v else None,
)
def test_a_tampered_folder_is_one_line_before_any_weight_loads(kind, change, message, saved_kinds, tmp_path, capsys):
    import shutil

    from llmdisc.classifiers.mean_pooling import MeanPooledClassifier

    folder = tmp_path / kind
    shutil.copytree(saved_kinds[kind], folder)
    meta = json.loads((folder / "llmdisc_config.json").read_text())
    for key, value in change.items():
        if "." in key:  # one of the approach's own files: removed (None) or replaced
            (folder / key).unlink()
            if value is not None:
                (folder / key).write_text(json.dumps(value))
        else:
            meta[key] = value
    (folder / "llmdisc_config.json").write_text(json.dumps(meta))

    def no_weights(*args, **kwargs):
        raise AssertionError("weights loaded from a folder whose files disagree")

    import transformers

    with pytest.MonkeyPatch.context() as mp:
        for owner, name in ((MeanPooledClassifier, "from_pretrained"), (transformers.AutoModel, "from_pretrained")):
            mp.setattr(owner, name, no_weights)
        mp.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_weights)
        with pytest.raises(LlmdiscError) as e:
            TextClassifier.from_pretrained(folder)
        assert message in str(e.value) and "\n" not in str(e.value), str(e.value)
    assert main(["predict", str(folder), *TEXTS]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err


# ---- predict streams; a killed one leaves nothing for long (issue 29) ------------------------------


def test_predict_streams_records_before_the_input_ends(nb):
    """The first batch's records are on stdout while the input is still open: nothing waits for the end."""
    import select

    exe = Path(sys.executable).parent / "llmdisc"
    proc = subprocess.Popen(
        [str(exe), "predict", str(nb), "--batch-size", "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        proc.stdin.write("a delightful little film\ndull and far too long\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready, "no record before the input ended"
        first = json.loads(proc.stdout.readline())
        assert first["text"] == "a delightful little film"
        proc.stdin.write("one more\n")
        proc.stdin.close()
        rest = proc.stdout.read().splitlines()
        assert proc.wait(timeout=120) == 0
        assert [json.loads(line)["text"] for line in rest] == ["dull and far too long", "one more"]
    finally:
        proc.kill()


def test_predict_memory_does_not_grow_with_the_input(nb, tmp_path):
    """Python's peak allocation while predicting 20x more lines stays within a quarter of the small run's
    (it held every record, then wrote them all: 596 MB for 200,000 lines; benchmarks/RESULTS.md)."""
    import tracemalloc

    def peak(lines: int) -> int:
        texts = tmp_path / f"in-{lines}.txt"
        texts.write_text("".join(f"review {i}: {TEXTS[i % 2]}\n" for i in range(lines)))
        out = tmp_path / f"out-{lines}.jsonl"
        tracemalloc.start()
        try:
            assert main(["predict", str(nb), "--file", str(texts), "--output", str(out)]) == 0
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            assert sum(1 for _ in out.open()) == lines

    peak(1000)  # imports and caches warm
    small, large = peak(2000), peak(40000)
    assert large < 1.25 * small, (small, large)


def test_a_killed_predict_leaves_no_temporary_file_behind_for_long(nb, tmp_path):
    out = tmp_path / "out.csv"
    # A writer killed with SIGKILL inside its atomic_file block (as kill -9 during predict --output).
    code = (
        "import os, signal\nfrom llmdisc.plumbing.atomic_files import atomic_file\n"
        f"with atomic_file({str(out)!r}) as tmp:\n"
        "    tmp.write_text('half')\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == -9
    (left,) = tmp_path.glob(".out.csv.tmp-*")
    assert main(["predict", str(nb), *TEXTS, "--output", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"] and not left.exists()


def test_predict_reads_a_file_with_a_byte_order_mark(nb, tmp_path, capsys):
    texts = tmp_path / "in.txt"
    texts.write_bytes(b"\xef\xbb\xbf" + "\n".join(TEXTS).encode())
    assert main(["predict", str(nb), "--file", str(texts)]) == 0
    assert [json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()] == TEXTS


def test_predict_names_a_column_of_lists_and_an_empty_row(nb, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": [["a delightful film"], ["dull"]]}), tmp_path / "lists.parquet")
    pq.write_table(pa.table({"text": ["a delightful film", None]}), tmp_path / "holes.parquet")
    for name, message in (
        ("lists", "row 1 of {}: column 'text' holds a list (['a delightful film']), not a text"),
        ("holes", "row 2 of {} has no text in column 'text'; fill it in or drop the row"),
    ):
        path = tmp_path / f"{name}.parquet"
        assert main(["predict", str(nb), "--file", str(path), "--output", str(tmp_path / "out.jsonl")]) == 2
        assert message.format(path) in capsys.readouterr().err
        assert not (tmp_path / "out.jsonl").exists()
