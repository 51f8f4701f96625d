"""A comparison shared out: ``--shard I/N`` slices merged by ``--resume``, and ``accelerate launch``
with two CPU processes, each giving the records of a one-process run (costs aside)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from llmdisc.api.records import Costs
from llmdisc.cli import main as cli
from llmdisc.comparison.shards import Share, parse_shard

CHEAP = "naive_bayes,logistic_regression"
# What a run measures about itself: the only fields allowed to differ between two runs.
# The timings and memory of a run differ between processes; everything else must not.
COSTS = {f.name for f in dataclasses.fields(Costs) if not f.name.startswith("parameters_")}


def _results(folder: Path) -> list[dict]:
    rows = json.loads((folder / "results.json").read_text())
    return [{k: v for k, v in row.items() if k not in COSTS} for row in rows]


def _compare(out: Path, *flags: str) -> int:
    return cli(
        [
            "compare",
            "--approaches",
            CHEAP,
            "--sizes",
            "8,32,all",
            "--drop-rates",
            "0.1",
            "--output-dir",
            str(out),
            "--no-baseline",  # these tests count the grid's cells
            *flags,
        ]
    )


@pytest.mark.parametrize(
    "shard, problem",
    [("3/2", "does not exist"), ("0/2", "does not exist"), ("a/b", "is not I/N"), ("2", "is not I/N")],
)
def test_a_bad_shard_is_one_line_before_any_work(shard, problem, tmp_path, capsys):
    assert _compare(tmp_path / "out", "--shard", shard) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and problem in err[0] and "--shard 1/4" in err[0]
    assert not (tmp_path / "out").exists()


def test_shards_are_disjoint_and_cover_the_grid():
    grid = range(23)
    slices = [Share((i, 4)).slice(grid) for i in range(1, 5)]
    assert sorted(p for s in slices for p in s) == list(grid)
    assert parse_shard("2/4") == (2, 4) and parse_shard(None) is None
    # Two processes within shard 1/2 split its slice between them.
    processes = [Share((1, 2), rank, 2).mine(grid) for rank in range(2)]
    assert sorted(processes[0] + processes[1]) == Share((1, 2)).slice(grid)
    assert not set(processes[0]) & set(processes[1])


def test_shards_then_resume_give_the_one_process_report(tmp_path, capsys):
    assert _compare(tmp_path / "whole") == 0
    shared = tmp_path / "shared"
    for i in (1, 2):  # as two tasks of a job array would, without --resume
        assert _compare(shared, "--shard", f"{i}/2") == 0
        assert "run the same command with --resume" in capsys.readouterr().out
        assert not (shared / "report.md").exists()
    cells = sorted(p.name for p in (shared / "runs").rglob("*.json"))
    assert len(cells) == 6
    assert _compare(shared, "--resume") == 0
    assert "report:" in capsys.readouterr().out
    assert _results(shared) == _results(tmp_path / "whole")
    assert sorted(p.name for p in (shared / "runs").rglob("*.json")) == cells  # nothing was run again


def test_overwrite_is_refused_for_a_shard(tmp_path, capsys):
    assert _compare(tmp_path / "out", "--shard", "1/2", "--overwrite") == 2
    assert "remove" in capsys.readouterr().err


# Run by `accelerate launch` in each process: the unchanged CLI, counting the cells each process ran.
DRIVER = """
import json, os, sys
from pathlib import Path

from llmdisc.comparison import grid as comparison
from llmdisc.cli import main

out, ran, run_cell = Path(sys.argv[1]), [], comparison._run_cell


def counting(cell, *args, **kwargs):
    # Alone in the cell: no launcher variables, so Trainer and scoring stay in this process.
    ran.append([cell.name, cell.size, os.environ.get("WORLD_SIZE")])
    return run_cell(cell, *args, **kwargs)


comparison._run_cell = counting
code = main(sys.argv[2:])
(out.parent / f"ran-{os.environ['RANK']}.json").write_text(json.dumps({"code": code, "ran": ran}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_accelerate_launch_shares_the_cells_and_writes_one_report(tiny_bert, tmp_path):
    """Two CPU processes (accelerate launch --multi_gpu starts them through torchrun on a machine
    without GPUs); each cell whole on one process, one report equal to a one-process run's."""
    approaches = {
        "naive_bayes": {"sizes": [8, 32, "all"]},
        "logistic_regression": {"sizes": [8, "all"]},
        "encoder": {"model": str(tiny_bert), "max_steps": 3, "batch_size": 8, "sizes": [16]},
    }
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"approaches": approaches, "drop_rates": [0.1], "baseline": False}))  # JSON is YAML
    flags = ["compare", "--config", str(recipe)]
    (tmp_path / "driver.py").write_text(DRIVER)
    out = tmp_path / "launched"
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
        str(tmp_path / "driver.py"),
        str(out),
        *flags,
        "--output-dir",
        str(out),
    ]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    ran = [json.loads((tmp_path / f"ran-{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["code"] for r in ran] == [0, 0]
    cells = [tuple(c[:2]) for r in ran for c in r["ran"]]
    assert len(cells) == len(set(cells)) == 6 and all(r["ran"] for r in ran)  # shared, none twice
    assert all(c[2] is None for r in ran for c in r["ran"])  # each cell ran as a process of its own
    assert (out / "report.md").is_file() and not (tmp_path / "report.md").exists()
    assert "grid: 3/3 cells" in done.stderr.replace("\r", "\n")  # the main process's share, on its bar

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the launched processes: the encoder's sums in the same order
    try:
        assert cli([*flags, "--output-dir", str(tmp_path / "single")]) == 0
    finally:
        torch.set_num_threads(threads)
    assert _results(out) == _results(tmp_path / "single")


# ---- the console -----------------------------------------------------------------------------


@pytest.mark.parametrize("verbose", [False, True])
def test_the_console_shows_bars_not_dicts(verbose, tiny_bert, tmp_path):
    """The real console (a subprocess): the grid's bar and the cell's training bar; no Trainer dicts,
    no weight-loading or shard-writing bars, no warnings. --verbose brings each cell's line back."""
    approaches = {"naive_bayes": {"sizes": [8]}}
    if not verbose:  # a Trainer cell, with evaluations (the selection split) and checkpoints
        approaches["encoder"] = {
            "model": str(tiny_bert),
            "max_steps": 4,
            "eval_steps": 2,
            "batch_size": 8,
            "sizes": [16],
        }
        approaches["embedding_lr"] = {"model": str(tiny_bert), "sizes": [16]}  # sentence-transformers' logger
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"approaches": approaches, "drop_rates": [], "baseline": False}))
    command = [
        sys.executable,
        "-m",
        "llmdisc",
        *(["--verbose"] if verbose else []),
        "compare",
        "--config",
        str(recipe),
        "--output-dir",
        str(tmp_path / "out"),
    ]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    err = done.stderr.replace("\r", "\n")
    cells = len(approaches)
    assert f"grid: {cells}/{cells} cells" in err and "done" in err
    assert ("[1/1] naive_bayes, size 8, seed 0" in err) == verbose
    if not verbose:
        assert "train: " in err and "step/s" in err  # the encoder's own bar
        assert "val accuracy=" in err  # its evaluations, on the bar
    for noise in (
        "{'",
        "train_runtime",
        "Loading weights",
        "Writing model shards",
        "Warning",
        "warn(",
        "Loading SentenceTransformer",
    ):
        assert noise not in err + done.stdout, noise


# ---- each process on its own -----------------------------------------------------------------


@pytest.mark.parametrize(
    "visible, nvml, local_rank, expected",
    [
        ("2,3", None, 1, "3"),  # the launcher's own GPU among those visible
        (None, 8, 5, "5"),  # none named: NVML's count (no CUDA start)
        (None, 1, 1, "0"),  # more processes than GPUs: shared round-robin
        ("", None, 1, ""),  # CPUs only: unchanged
    ],
)
def test_each_process_sees_only_its_own_gpu(visible, nvml, local_rank, expected, monkeypatch):
    import torch

    from llmdisc.plumbing import distributed

    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("LOCAL_RANK", str(local_rank))
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    monkeypatch.setattr(torch.cuda, "_is_compiled", lambda: True)
    monkeypatch.setattr(torch.cuda, "_device_count_nvml", lambda: nvml)
    distributed.own_gpu_only()
    assert os.environ["CUDA_VISIBLE_DEVICES"] == expected


def test_on_its_own_hides_the_launcher_then_gives_it_back(monkeypatch):
    from llmdisc.plumbing import distributed

    for name, value in {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    with distributed.on_its_own():
        assert distributed.world_size() == 1 and distributed.rank() == 0
        assert not {"WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE"} & set(os.environ)
    assert distributed.world_size() == 2 and distributed.rank() == 1 and os.environ["LOCAL_WORLD_SIZE"] == "2"


def test_a_cell_claimed_by_another_run_is_left_to_it(demo, tmp_path, caplog):
    """A cell another run is computing (its claim held) is skipped, not computed twice; a later
    resume takes it."""
    import llmdisc
    from llmdisc.plumbing.locks import claim

    out = tmp_path / "out"
    held = claim(out / "claims" / "naive_bayes" / "n8-seed0.lock")  # as another process would
    try:
        with caplog.at_level(logging.INFO, logger="llmdisc.comparison.grid"):
            records = llmdisc.compare(["naive_bayes"], demo, sizes=[8, "all"], output_dir=out, baseline=False)
        assert held.path.exists()  # the run tidied its own claims only
    finally:
        held.release()
    assert {r.size for r in records} == {len(demo["train"])}
    assert "another run sharing the folder is computing it" in caplog.text
    assert not (out / "runs" / "naive_bayes" / "n8-seed0.json").exists()
    again = llmdisc.compare(["naive_bayes"], demo, sizes=[8, "all"], output_dir=out, resume=True, baseline=False)
    assert {r.size for r in again} == {8, len(demo["train"])}
    assert not (out / "claims").exists()
