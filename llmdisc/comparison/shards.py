"""Which cells of a comparison's grid this process runs: ``--shard I/N`` and ``accelerate launch``.

A comparison's unit of work is a cell (approach, size, seed), run whole by one process. Two
ways share the cells out, and they compose:

* ``--shard I/N`` (1-based: ``1/4`` to ``4/4``) keeps the cells whose position in the grid,
  counted from 0, leaves ``I - 1`` when divided by ``N``. The grid is the same for every shard
  (it depends on the settings only, never on what is cached), so the N slices are disjoint and
  together hold every cell, wherever and whenever they run: a Slurm, Ray or Kubernetes job array
  with a shared output folder. ``--resume`` without ``--shard`` then merges them into the report.
* Under ``accelerate launch --num_processes P`` (or ``torchrun``), process ``r`` takes every
  P-th cell of its slice the same way, on its own device; the processes gather their records at
  the end and the main one writes the report.

Round-robin over the grid's order (sizes within seeds within approaches) mixes cheap and
expensive cells in every share. Each cell is also claimed (:func:`~llmdisc.plumbing.locks.claim`) before
it runs, so two runs that share a folder by mistake never compute one cell twice at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llmdisc.errors import LlmdiscError

__all__ = ["Share", "parse_shard"]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` as ``(I, N)`` (1 <= I <= N), None for None or ``""``; else a one-line error."""
    if text is None or not str(text).strip():
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match:
        raise LlmdiscError(f"shard {text!r} is not I/N; use e.g. --shard 1/4 (slice 1 of 4; slices count from 1)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise LlmdiscError(
            f"shard {text!r} does not exist: slices count from 1, so I goes from 1 to N "
            "(e.g. --shard 1/4 to --shard 4/4)"
        )
    return index, count


@dataclass(frozen=True)
class Share:
    """This process's share of a grid: its ``--shard`` slice, then its rank's part of that.

    Attributes:
        shard: ``(I, N)`` from ``--shard``, or None for the whole grid.
        rank: this process's index among ``processes``.
        processes: how many processes share the slice (``accelerate launch --num_processes``).
    """

    shard: tuple[int, int] | None = None
    rank: int = 0
    processes: int = 1

    @property
    def whole(self) -> bool:
        """Whether this one process runs the whole grid."""
        return self.shard is None and self.processes == 1

    def slice(self, positions: range) -> list[int]:
        """The positions (in the grid) of the ``--shard`` slice, for every process."""
        if self.shard is None:
            return list(positions)
        index, count = self.shard
        return [p for p in positions if p % count == index - 1]

    def mine(self, positions: range) -> list[int]:
        """The positions this process runs: every ``processes``-th of the slice, from ``rank``."""
        return self.slice(positions)[self.rank :: self.processes]

    def describe(self) -> str:
        """``shard 2/4``, ``process 1 of 8`` or both, for messages."""
        parts = [f"shard {self.shard[0]}/{self.shard[1]}"] if self.shard else []
        if self.processes > 1:
            parts.append(f"process {self.rank} of {self.processes}")
        return ", ".join(parts) or "the whole grid"
