"""Benchmark: a comparison's plain zero-shot entry picks its prompt on training examples (issue 31, item 7).

    .venv/bin/python benchmarks/zeroshot_pick_sst2.py                        # every variant below
    .venv/bin/python benchmarks/zeroshot_pick_sst2.py --variants pick        # one of them

SST-2 is loaded with ``--label-names negative,positive``. Every variant is ``zeroshot``
(SmolLM2-135M, direct) run through ``llmdisc.compare`` (the product's own code path: the same plan,
pick and records as ``llmdisc compare``), evaluated on SST-2 validation (872 sentences), with no
temperature, no selection split and no robustness curve:

* ``neutral``: ``pick_prompt: false``, no task: the task-neutral template ``Text: {text}\\nLabel: {label}``
  (what a comparison without ``--task`` scored before the pick).
* ``task``: ``task: sentiment`` for the whole comparison: the review template, nothing picked.
* ``pick``: the plain entry, no task: it picks its template on the comparison's smallest training
  subset; the comparison's sizes are ``--pick-sizes`` one at a time (32 and 128 by default), its
  first seed each of ``--seeds`` seeds (0, 1, 2), so each run picks on one stratified subset.
* ``templates``: the four candidate templates averaged, which records each one's accuracy alone on
  validation (``template_accuracy``): what each possible pick would score.

Target: ``pick`` within 0.02 of ``task`` at every size and seed. Prints one line per run (accuracy,
the prompt picked) and writes them to OUTPUT/summary.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import llmdisc
from llmdisc.lm.prompt_selection import candidate_templates

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"
ZEROSHOT = {"approach": "zeroshot", "model": "smollm2-135m", "mode": "direct"}
VARIANTS = ("neutral", "task", "pick", "templates")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SST2))
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated: " + ", ".join(VARIANTS))
    parser.add_argument("--pick-sizes", default="32,128", help="the comparison's (smallest) sizes, one run each")
    parser.add_argument("--seeds", type=int, default=3, help="pick runs per size, with first seeds 0, 1, ...")
    parser.add_argument("--output-dir", default="outputs/bench-zeroshot-pick")
    return parser


def run(name: str, approaches: dict, data, output: Path, **settings) -> list:
    """One comparison of the zero-shot entry alone, on validation; its records (failures raise)."""
    start = time.perf_counter()
    records = llmdisc.compare(
        approaches,
        data,
        splits=["validation"],
        selection_split=None,
        calibration="none",
        drop_rates=[],
        output_dir=output / name,
        overwrite=True,
        **settings,
    )
    failed = [r.error for r in records if not r.ok]
    if failed:
        raise SystemExit(f"{name} failed: {failed[0]}")
    for r in records:
        print(
            f"{name}: accuracy {r.metrics['accuracy']:.4f} ({time.perf_counter() - start:.0f} s) "
            f"prompt: {r.prompt or '(none picked)'}",
            flush=True,
        )
    return records


def row(name: str, record, **extra) -> dict:
    return {
        "variant": name,
        **extra,
        "accuracy": round(record.metrics["accuracy"], 4),
        "macro_f1": round(record.metrics["macro_f1"], 4),
        "prompt": record.prompt,
        "train_seconds": record.costs.train_seconds,
        "template_accuracy": record.template_accuracy,
    }


def main(config: argparse.Namespace) -> list[dict]:
    data = llmdisc.load_text_dataset(config.data, label_names=["negative", "positive"])
    names = [v.strip() for v in config.variants.split(",") if v.strip()]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; use {', '.join(VARIANTS)}")
    output = Path(config.output_dir)
    rows = []
    if "neutral" in names:
        (r,) = run("neutral", {"zeroshot": {**ZEROSHOT, "pick_prompt": False}}, data, output, sizes=[32])
        rows.append(row("neutral", r))
    if "task" in names:
        (r,) = run("task", {"zeroshot": dict(ZEROSHOT)}, data, output, sizes=[32], task="sentiment")
        rows.append(row("task", r))
    if "pick" in names:
        for size in (int(s) for s in config.pick_sizes.split(",")):
            for seed in range(config.seeds):
                name = f"pick-n{size}-seed{seed}"
                (r,) = run(name, {"zeroshot": dict(ZEROSHOT)}, data, output, sizes=[size], seed=seed)
                rows.append(row("pick", r, size=size, seed=seed))
    if "templates" in names:
        every = {**ZEROSHOT, "templates": candidate_templates(None, None)}
        (r,) = run("templates", {"zeroshot": every}, data, output, sizes=[32])
        rows.append(row("templates", r))
    picks = [x["accuracy"] for x in rows if x["variant"] == "pick"]
    task = [x["accuracy"] for x in rows if x["variant"] == "task"]
    if picks and task:
        gaps = [task[0] - p for p in picks]
        print(f"pick: mean {np.mean(picks):.4f}, largest shortfall against task {max(gaps):+.4f}", flush=True)
    summary = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} ({platform.machine()})",
        "rows": rows,
    }
    output.mkdir(parents=True, exist_ok=True)
    (output / "summary.json").write_text(json.dumps(summary, indent=2))
    return rows


if __name__ == "__main__":
    main(make_parser().parse_args())
