"""Render every text llmdisc writes for people from fixed inputs, to diff two trees' outputs byte for byte.

    PYTHONPATH=/path/to/tree-a python benchmarks/rendered_outputs.py /tmp/render/a --runs /tmp/render/runs
    PYTHONPATH=/path/to/tree-b python benchmarks/rendered_outputs.py /tmp/render/b --runs /tmp/render/runs
    diff -r /tmp/render/a /tmp/render/b

Written for issue 28 (cards and reports rendered from templates, their output unchanged). The
outputs: ``report.md``, ``report.html`` and the dataset card (``README.md``) of four comparisons
(two cheap approaches on 8, 32 and all examples; one with a FAILED approach; a zero-shot one on a
tiny random GPT-2 with two templates, prompt selection and anomaly detection; one where nothing
ran), model cards (naive Bayes, logistic regression with a local data path, an encoder on a tiny
random BERT, zero-shot, a LoRA adapter on a packaged alias, an approach with no stand-alone
form) and one model's evaluation (``llmdisc evaluate``'s ``report.md`` / ``report.html``).

Timings differ from run to run, so nothing timed is rendered fresh: the comparisons run once into
``--runs`` (their cells cached there), then each tree renders them from a copy with ``--resume``
in the same folder (the folder is one of the settings the report lists); the model cards and the
evaluation are given fixed times. Run a tree twice to see that the outputs are deterministic.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = "someone/tiny-comparison"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from tiny_models import save_tiny_bert, save_tiny_gpt2  # noqa: E402 (the tests' builders, on the path above)


def tiny_gpt2(folder: Path) -> Path:
    """The tests' tiny random GPT-2 (tests/tiny_models.py), seeded: the same weights for every tree."""
    return folder if (folder / "config.json").is_file() else save_tiny_gpt2(folder, seed=0)


def tiny_bert(folder: Path) -> Path:
    """The tests' tiny random BERT (tests/tiny_models.py), seeded likewise."""
    return folder if (folder / "config.json").is_file() else save_tiny_bert(folder, seed=0)


def comparisons(runs: Path) -> dict[str, list[str]]:
    """name -> the ``llmdisc compare`` arguments (the output folder and --resume added later)."""
    gpt2 = tiny_gpt2(runs / "tiny-gpt2")
    failing = runs / "failing.yaml"
    failing.write_text("approaches:\n  naive_bayes: {alpha: -1}\n  logistic_regression: {}\n")
    only_failing = runs / "only-failing.yaml"
    only_failing.write_text("approaches:\n  naive_bayes: {alpha: -1}\n")
    zeroshot = runs / "zeroshot.yaml"
    zeroshot.write_text(
        "approaches:\n"
        "  naive_bayes: {}\n"
        f"  zs_two: {{approach: zeroshot, model: '{gpt2}', templates: [\"Text: {{text}}\\nLabel: {{label}}\", "
        '"Review: {text}\\nSentiment: {label}"]}\n'
        f"  zs_select: {{approach: zeroshot, model: '{gpt2}', select: true, sizes: [8, 32]}}\n"
    )
    hub = ["--push-to-hub", REPO, "--hub-dry-run"]
    return {
        "tiny": ["--approaches", "naive_bayes,logistic_regression", "--sizes", "8,32,all", *hub],
        "failed": ["--config", str(failing), "--sizes", "8,all", *hub],
        "nothing_ran": ["--config", str(only_failing), "--sizes", "all", "--drop-rates", "", *hub],
        "zeroshot": ["--config", str(zeroshot), "--sizes", "8,32", "--robustness-examples", "40", *hub],
    }


def render_comparisons(out: Path, runs: Path) -> None:
    from llmdisc.cli import main

    for name, args in comparisons(runs).items():
        cached = runs / "comparisons" / name
        if not cached.is_dir():  # the first tree runs the grid; every tree then renders from a copy
            main(["compare", "--data", "demo", *args, "--output-dir", str(cached)])
        work = runs / "work" / name
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(cached, work)
        main(["compare", "--data", "demo", *args, "--output-dir", str(work), "--resume"])
        (out / name).mkdir(parents=True)
        for file in ("report.md", "report.html", "README.md"):
            shutil.copy(work / file, out / name / file)


def _card(out: Path, name: str, clf, repo: str | None, seconds: float | None = 1.5) -> None:
    from llmdisc.hub.repos import REPO_PLACEHOLDER, write_model_card

    clf.info.train_seconds = seconds
    (out / name).mkdir(parents=True)
    write_model_card(clf.card_info(repo or REPO_PLACEHOLDER), out / name, repo_id=repo)


def render_model_cards(out: Path, runs: Path) -> None:
    import llmdisc
    from llmdisc.api.records import TrainInfo
    from llmdisc.comparison.evaluation import evaluate_classifier
    from llmdisc.hub.repos import ModelCardInfo, write_model_card

    demo = llmdisc.load_text_dataset("demo")
    nb = llmdisc.get_classifier("naive_bayes").fit(demo["train"])
    nb.info.metrics = {s: evaluate_classifier(nb, demo[s]).metrics for s in ("validation", "test")}
    nb.info.dataset = "llmdisc demo reviews"
    _card(out / "cards", "naive_bayes", nb, "someone/nb")
    _card(out / "cards", "naive_bayes_folder", nb, None, seconds=None)
    lr = llmdisc.get_classifier("logistic_regression").fit(demo["train"])
    lr.info.dataset = "train=/home/me/secret/train.csv,test=/home/me/secret/test.csv"
    lr.info.metrics = {"test": evaluate_classifier(lr, demo["test"]).metrics}
    _card(out / "cards", "logistic_regression_local_data", lr, "someone/lr")
    bert = tiny_bert(runs / "tiny-bert")
    encoder = llmdisc.get_classifier("encoder", model=str(bert), max_steps=2, batch_size=4, seed=0)
    encoder.fit(llmdisc.stratified_subset(demo["train"], 16))
    encoder.info.metrics = {"test": evaluate_classifier(encoder, demo["test"]).metrics}
    _card(out / "cards", "encoder", encoder, "someone/encoder")
    zeroshot = llmdisc.get_classifier("zeroshot", model=str(tiny_gpt2(runs / "tiny-gpt2"))).fit(demo["train"])
    _card(out / "cards", "zeroshot", zeroshot, "someone/zeroshot")
    lora = llmdisc.get_classifier("lora", model="smollm2-135m")
    lora.labels, lora.info = ["negative", "positive"], TrainInfo(train_seconds=1.0)
    (out / "cards" / "lora_alias").mkdir(parents=True)
    write_model_card(lora.card_info("someone/lora"), out / "cards" / "lora_alias", repo_id="someone/lora")
    bare = ModelCardInfo(
        approach="custom",
        paradigm="generative",
        library="transformers",
        labels=["a", "b", "c"],
        settings={},
        base_model=None,
        info=TrainInfo(),
        how_it_works="Something <custom> & 'quoted'.",
    )
    (out / "cards" / "no_usage").mkdir(parents=True)
    write_model_card(bare, out / "cards" / "no_usage")


def render_evaluation(out: Path) -> None:
    import llmdisc
    from llmdisc.comparison.evaluation import evaluate_classifier
    from llmdisc.reporting.evaluation_folder import write_evaluation

    demo = llmdisc.load_text_dataset("demo")
    clf = llmdisc.get_classifier("logistic_regression").fit(demo["train"])
    clf.info.train_seconds = 2.0
    splits = {"validation": demo["validation"], "test <held out> & 'x'": demo["test"]}
    results = {
        name: dataclasses.replace(evaluate_classifier(clf, ds), predict_seconds=0.5, examples_per_second=123.0)
        for name, ds in splits.items()
    }
    write_evaluation(clf, "models/lr & <co>", "demo 'reviews'", splits, results, out / "evaluation")
    for file in ("metrics.json", "predictions.parquet"):
        (out / "evaluation" / file).unlink()
    shutil.rmtree(out / "evaluation" / "plots")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="an empty or missing folder for the rendered files")
    parser.add_argument("--runs", type=Path, required=True, help="where the comparisons run once (shared by trees)")
    args = parser.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    args.runs.mkdir(parents=True, exist_ok=True)
    import llmdisc

    print(f"llmdisc from {llmdisc.__file__}", file=sys.stderr)
    render_model_cards(args.out, args.runs.resolve())
    render_evaluation(args.out)
    render_comparisons(args.out, args.runs.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
