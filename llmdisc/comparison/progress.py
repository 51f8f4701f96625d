"""The comparison grid's progress bar, with an ETA from each approach's own cell durations."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import numpy as np

from llmdisc.comparison.run_cache import Cell
from llmdisc.plumbing import distributed

__all__ = ["GridProgress", "format_seconds"]

logger = logging.getLogger("llmdisc.comparison.grid")  # its lines are the comparison's (--verbose shows them)


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
    )


class GridProgress:
    """The grid's progress bar (tqdm, on stderr): cells done of those to run, the running cell, an ETA.

    Each remaining cell is estimated by the mean duration of its approach's finished cells;
    cells of approaches not timed yet are counted apart (a zero-shot LM and Naive Bayes differ
    by orders of magnitude, so tqdm's one mean rate would mislead). The running cell's own bar
    (a Trainer's steps) opens below it. The same line is logged at debug level (``--verbose``).
    Only the main process shows a bar.
    """

    def __init__(self, todo: list[Cell]) -> None:
        self.todo, self.done, self.start = todo, 0, time.perf_counter()
        self.seconds: dict[str, list[float]] = {}
        self.bar = None

    def __enter__(self) -> GridProgress:
        from tqdm.auto import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        # Log lines while the bars show go through tqdm.write: above the bars, not through them.
        self._redirect = logging_redirect_tqdm()
        self._redirect.__enter__()
        # No ETA of tqdm's own ({remaining}): the postfix carries ours.
        self.bar = tqdm(
            total=len(self.todo),
            desc="grid",
            unit="cell",
            file=sys.stderr,
            dynamic_ncols=True,
            bar_format="{desc}: {n_fmt}/{total_fmt} cells |{bar}| {elapsed}{postfix}",
            disable=not self.todo or not distributed.shows_progress(),
        )
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.set_postfix_str("done" if self.done == len(self.todo) else "", refresh=False)
        self.bar.close()
        self._redirect.__exit__(*exc)

    def _eta(self, remaining: list[Cell]) -> str:
        untimed = sum(c.name not in self.seconds for c in remaining)
        if untimed == len(remaining):
            return f"ETA unknown: {untimed} run{'s' if untimed > 1 else ''} left of approaches not timed yet"
        eta = "ETA " + format_seconds(sum(np.mean(self.seconds[c.name]) for c in remaining if c.name in self.seconds))
        if untimed:
            eta += f" + {untimed} run{'s' if untimed > 1 else ''} of approaches not timed yet"
        return eta

    def begin(self, cell: Cell) -> None:
        eta = self._eta(self.todo[self.done :])
        self.bar.set_postfix_str(f"{cell.name}, {cell.label}; {eta}")
        logger.debug(
            "[%d/%d] %s, %s (elapsed %s, %s)",
            self.done + 1,
            len(self.todo),
            cell.name,
            cell.label,
            format_seconds(time.perf_counter() - self.start),
            eta,
        )

    def end(self, cell: Cell, seconds: float) -> None:
        self.seconds.setdefault(cell.name, []).append(seconds)
        self.skip(cell)

    def skip(self, cell: Cell) -> None:
        """The cell is settled without running here (another run computed it)."""
        self.done += 1
        self.bar.update(1)
