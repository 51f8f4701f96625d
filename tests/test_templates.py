"""Cards and reports come from Jinja2 templates shipped in the package, under one set of rules.

What each card and report says is tested where it is written (test_hub, test_comparison,
test_predict_evaluate, test_cli); here, the rules every template renders under, the report's one
list of sections shown by both outputs, and that the templates ship with the package.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import jinja2
import pytest

from llmdisc.plumbing.templates import data_uri, markdown_table, render
from llmdisc.reporting.pages import Section, write_pages
from llmdisc.reporting.report import SECTIONS, report_sections

ROOT = Path(__file__).resolve().parents[1]
TRICKY = '<b>"it\'s" & more</b>'  # every character html.escape changes


def _report(tmp_path: Path, **values) -> tuple[str, str]:
    """report.md and report.html of the comparison templates, for the values given (defaults for the rest)."""
    defaults = dict(
        title="t",
        lead="Split reported: **test**.",
        verdict=["v"],
        notes=[],
        sections=[],
        method="m",
        metrics_note="n",
        settings={"k": "v"},
    )
    path = write_pages(tmp_path, "report", **{**defaults, **values})
    return path.read_text(encoding="utf-8"), (tmp_path / "report.html").read_text(encoding="utf-8")


def test_a_value_a_template_needs_and_is_not_given_is_an_error(tmp_path):
    with pytest.raises(jinja2.UndefinedError, match="'lead' is undefined"):
        render("llmdisc.reporting", "report.md.j2", title="t")
    with pytest.raises(jinja2.UndefinedError, match="'metrics_note' is undefined"):
        values = dict(title="t", lead="l", verdict=[], notes=[], sections=[], method="m", settings={})
        write_pages(tmp_path, "report", **values)


def test_html_is_escaped_as_html_escape_does_and_markdown_is_not(tmp_path):
    table = (["a|b", TRICKY], [["x|y", TRICKY]])
    md, page = _report(
        tmp_path,
        title=TRICKY,
        verdict=[TRICKY],
        notes=[TRICKY],
        sections=[Section("summary", TRICKY, TRICKY, table=table)],
        settings={TRICKY: TRICKY},
    )
    escaped = html.escape(TRICKY)
    assert escaped == "&lt;b&gt;&quot;it&#x27;s&quot; &amp; more&lt;/b&gt;"  # not markupsafe's &#34; / &#39;
    assert TRICKY not in page and "&#39;" not in page and "&#34;" not in page
    for shown in (
        f"<title>{escaped}</title>",
        f"<h1>{escaped}</h1>",
        f"<li>{escaped}</li>",
        f"<p class='note'>Note: {escaped}</p>",
        f"<h2>{escaped}</h2>\n<p>{escaped}</p>",
        f"<thead><tr><th>a|b</th><th>{escaped}</th></tr></thead><tbody><tr><td>x|y</td><td>{escaped}</td></tr>",
        f"<li><code>{escaped}</code>: <code>{escaped}</code></li>",
    ):
        assert shown in page, shown
    # Markdown keeps the text as given; a | inside a cell would split it, so it becomes /.
    assert md.startswith(f"# {TRICKY}\n") and f"- {TRICKY}\n" in md and f"- Note: {TRICKY}\n" in md
    assert f"## {TRICKY}\n\n{TRICKY}\n\n{markdown_table(table)}\n" in md
    assert f"| x/y | {TRICKY} |" in md and f"- `{TRICKY}`: `{TRICKY}`\n" in md
    assert "<p>Split reported: test.</p>" in page and "Split reported: **test**." in md


def test_markdown_table():
    assert markdown_table((["a", "b"], [["1", "x|y"], ["2", ""]])) == "| a | b |\n|---|---|\n| 1 | x/y |\n| 2 |  |"
    assert markdown_table((["a"], [])) == "| a |\n|---|"


def test_data_uri(tmp_path):
    path = tmp_path / "p.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n1234")
    uri = data_uri(path)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == path.read_bytes()


def test_each_section_is_shown_once_by_each_output_in_the_order_of_sections(tmp_path):
    plot = tmp_path / "plots" / "cost.png"
    plot.parent.mkdir()
    plot.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    table = (["approach"], [["nb"]])
    tables = {"runs": table, "summary": table, "not_a_section": table}
    sections = report_sections(tables, {"cost": plot})
    keys = [key for key, _, _ in SECTIONS]
    assert [s.key for s in sections] == ["summary", "cost", "runs"]  # SECTIONS' order; unknown keys left out
    assert [s.plot for s in sections] == [None, plot, None] and [s.table for s in sections] == [table, None, table]
    assert keys.index("summary") < keys.index("cost") < keys.index("runs")
    md, page = _report(tmp_path, sections=sections)
    for s in sections:
        assert md.count(f"## {s.heading}\n\n{s.text}\n") == 1 and page.count(f"<h2>{s.heading}</h2>") == 1
    assert "![Cost](plots/cost.png)" in md and f"<img alt='Cost' src='{data_uri(plot)}'>" in page
    assert md.count(markdown_table(table)) == 2 and page.count("<td>nb</td>") == 2
    # Headings in the same order in both.
    assert [line[3:] for line in md.splitlines() if line.startswith("## ")] == [
        part.split("</h2>")[0] for part in page.split("<h2>")[1:]
    ]


def test_the_templates_ship_with_the_package():
    """Every template matches a package-data pattern of pyproject.toml, and jinja2 is a dependency."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["package-data"]["llmdisc"]
    package = ROOT / "llmdisc"
    shipped = {path for pattern in patterns for path in package.glob(pattern)}  # as setuptools globs them
    templates = set(package.glob("**/*.j2"))
    assert {package / "hub/templates/model_card.md.j2", package / "reporting/templates/report.html.j2"} <= templates
    assert templates <= shipped, templates - shipped
    assert any(d.replace(" ", "").startswith("jinja2>=") for d in project["project"]["dependencies"])


def test_a_model_card_with_nothing_optional_says_so_in_each_section(tmp_path):
    """No settings, usage, metrics or limits: each section still says something, and the card parses."""
    from huggingface_hub import ModelCard

    from llmdisc.api.records import TrainInfo
    from llmdisc.hub.repos import ModelCardInfo, write_model_card

    card = ModelCardInfo("custom", "generative", "transformers", ["a", "b"], {}, None, TrainInfo(), "It <works>.")
    write_model_card(card, tmp_path)
    text = ModelCard.load(tmp_path / "README.md").text
    for expected in (
        "# llmdisc custom: a generative text classifier\n\nIt <works>.\n",
        "- **Labels:** `a`, `b`\n- **Training data:** not recorded (? training examples)\n",
        '.from_pretrained("path/to/this/folder")',
        "# columns: ['a', 'b']\n```\n\nThis approach has no stand-alone form; load it with llmdisc.\n\n## Hyper",
        "| setting | value |\n| --- | --- |\n| (none) | |\n\n## Metrics\n\nNot evaluated when saved.\n\n## Intended",
        "- Calibration was not measured; check it on your data before thresholding.\n",
    ):
        assert expected in text, expected
    assert "ECE" not in text and "With transformers only" not in text


def test_a_model_card_shows_its_usage_settings_metrics_and_limits(tmp_path):
    from huggingface_hub import ModelCard

    from llmdisc.api.records import TrainInfo
    from llmdisc.hub.repos import ModelCardInfo, write_model_card

    info = TrainInfo(metrics={"test": {"accuracy": 0.5, "macro_f1": 0.25, "log_loss": 0.7, "ece": 0.125}})
    card = ModelCardInfo(
        "custom",
        "discriminative",
        "transformers",
        ["a", "b"],
        {"alpha": 1, "checkpoint_dir": "/tmp/x"},
        None,
        info,
        "How.",
        usage=("transformers", "\nprobs = 1\n\n"),
        limits=["one", "two"],
    )
    write_model_card(card, tmp_path, repo_id="me/m")
    loaded = ModelCard.load(tmp_path / "README.md")
    assert loaded.data.model_name == "m" and len(loaded.data.eval_results) == 2  # accuracy and macro-F1
    text = loaded.text
    for expected in (
        "```\n\n### With transformers only\n\n```python\nprobs = 1\n```\n\n## Hyper-parameters",
        "| --- | --- |\n| `alpha` | `1` |\n\n## Metrics",  # where checkpoints went is no setting
        "| split | accuracy | macro-F1 | log loss | ECE |\n| --- | --- | --- | --- | --- |\n"
        "| test | 0.5000 | 0.2500 | 0.7000 | 0.1250 |\n\n## Intended",
        "- Probabilities are only as calibrated as the ECE above says; check it on your data before thresholding.\n"
        "- one\n- two\n",
    ):
        assert expected in text, expected
    assert text.endswith("- two\n") and "checkpoint_dir" not in text


def test_a_dataset_card_without_a_summary_or_a_verdict(tmp_path):
    from huggingface_hub import DatasetCard

    from llmdisc.analysis.analyse import analyse
    from llmdisc.reporting.hub_dataset import write_dataset_card

    (tmp_path / "results.csv").write_text("variant,accuracy\nnb,0.5\n")
    analysis = analyse([])
    settings = {"data": "/home/me/reviews.csv", "approaches": {"nb": {}, "lr": {}}}
    text = DatasetCard.load(write_dataset_card(tmp_path, "me/cmp", analysis, settings)).text
    assert f"## Verdict\n\n- {analysis.verdict[0]}\n\n\n## Files" in text  # no summary section
    assert "classifiers (`nb`, `lr`) trained\non the same subsets of **reviews.csv (local)**" in text
    assert "| `data` | `reviews.csv (local)` |\n| `approaches` | `{'nb': {}, 'lr': {}}` |\n" in text
    assert "/home/me" not in text
    analysis.verdict.clear()
    summary = markdown_table((["approach"], [["nb"]]))
    text = DatasetCard.load(write_dataset_card(tmp_path, "me/cmp", analysis, settings, summary)).text
    assert f"## Verdict\n\n- (no verdict: no run succeeded)\n\n## Summary\n\n{summary}\n\n## Files" in text
