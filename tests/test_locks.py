"""Locks, claims and leftovers: what a second process or a killed one finds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from llmdisc import LlmdiscError
from llmdisc.plumbing.atomic_files import atomic_dir, remove_stale, temp_dir, temp_root
from llmdisc.plumbing.locks import FileLock, FolderLock, claim, process_tag


def child(code: str) -> subprocess.Popen:
    """A Python process running ``code`` with this llmdisc; its stdin and stdout are pipes."""
    return subprocess.Popen(
        [sys.executable, "-c", "import os, signal, sys\n" + code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def killed(code: str) -> None:
    """Run ``code`` in a child that then kills itself with SIGKILL (no cleanup of any kind)."""
    proc = child(code + "\nos.kill(os.getpid(), signal.SIGKILL)\n")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err


def test_a_second_comparison_on_a_folder_is_refused_until_the_first_ends(tmp_path):
    holder = child(
        f"from llmdisc.plumbing.locks import FolderLock\nwith FolderLock({str(tmp_path)!r}):\n"
        "    print('held', flush=True)\n    sys.stdin.read()\n"
    )
    try:
        assert holder.stdout.readline().strip() == "held"  # no sleeping: the child says when
        with pytest.raises(
            LlmdiscError,
            match=rf"output folder {tmp_path} is in use by process {holder.pid} "
            r"on this host \(since .+\); wait for it .* another --output-dir",
        ):
            FolderLock(tmp_path).__enter__()
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    with FolderLock(tmp_path):
        assert json.loads((tmp_path / ".llmdisc.lock").read_text())["pid"] == os.getpid()
    assert not (tmp_path / ".llmdisc.lock").exists()  # released: nothing left in the folder


def test_the_lock_of_a_killed_process_is_taken_over_with_a_line(tmp_path, caplog):
    killed(
        f"from llmdisc.plumbing.locks import FolderLock\nlock = FolderLock({str(tmp_path)!r}).__enter__()\n"
        "print(os.getpid(), flush=True)\n"
    )
    dead = json.loads((tmp_path / ".llmdisc.lock").read_text())["pid"]
    with caplog.at_level("WARNING"), FolderLock(tmp_path):
        pass
    assert f"took over the lock of process {dead}" in caplog.text and "no longer running" in caplog.text


def test_a_lock_of_another_host_is_refused_with_the_fix(tmp_path):
    (tmp_path / ".llmdisc.lock").write_text(json.dumps({"pid": 1, "host": "elsewhere", "since": "today"}))
    with pytest.raises(LlmdiscError, match=r"locked by process 1 on elsewhere .*remove .*\.llmdisc\.lock"):
        FolderLock(tmp_path).__enter__()


def test_a_cell_claim_is_exclusive_and_freed_by_release_or_death(tmp_path):
    path = tmp_path / "claims" / "naive_bayes" / "n8-seed0.lock"
    first = claim(path)
    assert first is not None and claim(path) is None  # a second claimant (even in this process)
    lock = FileLock(path)
    assert not lock.acquire() and lock.holder["pid"] == os.getpid()
    first.release()
    assert not path.exists()
    killed(f"from llmdisc.plumbing.locks import claim\nc = claim({str(path)!r})\nassert c is not None\n")
    again = claim(path)
    assert again is not None  # the dead process's claim is free
    again.release()


def test_a_killed_save_leaves_nothing_the_next_save_keeps(tmp_path):
    target = tmp_path / "model"
    killed(
        f"from llmdisc.plumbing.atomic_files import atomic_dir\nwith atomic_dir({str(target)!r}) as tmp:\n"
        "    (tmp / 'weights').write_text('half')\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert [p.name.startswith(".model.tmp-") for p in tmp_path.iterdir()] == [True]
    live = tmp_path / f".model.tmp-{process_tag()}-abcdefgh"  # a live process's: not to be touched
    live.mkdir()
    with atomic_dir(target) as tmp:
        (tmp / "weights").write_text("whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "model"]


def test_a_save_killed_between_its_renames_gets_the_old_folder_back(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "weights").write_text("old")
    # The kill comes after the old folder was moved aside and before the new one moved in.
    killed(
        f"import llmdisc.plumbing.atomic_files as io\nreal = os.replace\n"
        "def replace(a, b):\n    real(a, b)\n    if str(b).endswith('/x'):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        f"io.os.replace = replace\nwith io.atomic_dir({str(target)!r}) as tmp:\n"
        "    (tmp / 'weights').write_text('new')\n"
    )
    assert not target.exists()
    with atomic_dir(tmp_path / "other"):
        pass
    assert not target.exists()  # only a save of that target looks after it
    with pytest.raises(RuntimeError):
        with atomic_dir(target):
            raise RuntimeError("a save that fails")
    assert (target / "weights").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "other"]


def test_temp_dirs_go_under_the_temp_root_and_dead_ones_are_removed(tmp_path):
    root = tmp_path / "out" / "tmp"
    killed(
        f"from llmdisc.plumbing.atomic_files import temp_dir, temp_root\nwith temp_root({str(root)!r}):\n"
        "    (temp_dir('llmdisc-checkpoints-') / 'checkpoint-2').mkdir()\n"
    )
    (left,) = root.iterdir()
    with temp_root(root):
        mine = temp_dir("llmdisc-checkpoints-")
    assert list(root.iterdir()) == [mine] and mine.name.startswith(f"llmdisc-checkpoints-{process_tag()}-")
    assert remove_stale(root, "llmdisc-checkpoints-") == 0  # mine is alive
