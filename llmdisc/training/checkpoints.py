"""Trainer checkpoints a run can resume from, and the ones a kill left half-written.

Trainer writes ``checkpoint-N`` in place; a run stopped during that write leaves a folder that
Trainer refuses or fails on. :func:`last_complete_checkpoint` finds the newest complete one and
removes the incomplete ones, naming them and why.
"""

from __future__ import annotations

import json
import logging
import shutil
import struct
import zipfile
from pathlib import Path

from llmdisc.plumbing import distributed

__all__ = ["last_complete_checkpoint"]

logger = logging.getLogger(__name__)


def _incomplete(folder: Path) -> str | None:
    """Why a checkpoint folder cannot be resumed from, or None when it is complete.

    Trainer writes ``checkpoint-N`` in place: the weights, then the optimizer, scheduler and RNG
    states, and ``trainer_state.json`` last. A kill during that write leaves a folder that
    Trainer refuses ("Can't find a valid checkpoint") or fails on (a truncated safetensors file).
    """
    state = folder / "trainer_state.json"
    if not state.is_file():
        return "no trainer_state.json"
    try:
        step = json.loads(state.read_text(encoding="utf-8"))["global_step"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return "trainer_state.json is unreadable"
    if f"checkpoint-{step}" != folder.name:
        return f"trainer_state.json is of step {step}"
    weights = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
    if not weights:
        return "no weights file"
    for path in weights:
        problem = _safetensors_problem(path) if path.suffix == ".safetensors" else None
        if problem:
            return f"{path.name} {problem}"
    for name in ("optimizer.pt", "scheduler.pt"):  # torch.save writes zip files
        if (folder / name).exists() and not zipfile.is_zipfile(folder / name):
            return f"{name} is truncated"
    return None


def _safetensors_problem(path: Path) -> str | None:
    """'is truncated' (or similar) when a safetensors file's header and size disagree, else None."""
    size = path.stat().st_size
    try:
        with open(path, "rb") as f:
            (header_size,) = struct.unpack("<Q", f.read(8))
            if header_size > size - 8:
                return "is truncated"
            header = json.loads(f.read(header_size))
    except (struct.error, ValueError, UnicodeDecodeError):
        return "has an unreadable header"
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    return "is truncated" if size < 8 + header_size + end else None


def last_complete_checkpoint(folder: str | Path) -> str | None:
    """The newest ``checkpoint-N`` in ``folder`` that a run can resume from, or None.

    Incomplete ones (a kill while Trainer wrote them) are skipped with a warning that names them
    and why, and removed, so that Trainer writes that step's checkpoint afresh.
    """
    found = [
        (int(p.name.split("-")[1]), p)
        for p in Path(folder).glob("checkpoint-*")
        if p.is_dir() and p.name.split("-")[1].isdigit()
    ]
    for _, path in sorted(found, reverse=True):
        why = _incomplete(path)
        if why is None:
            return str(path)
        logger.warning(
            "skipping %s (incomplete: %s; it was being written when the run stopped): removing it", path.name, why
        )
        distributed.barrier()  # every process has looked at it before the main one removes it
        if distributed.is_main_process():
            shutil.rmtree(path, ignore_errors=True)
    return None
