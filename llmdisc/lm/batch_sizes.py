"""Batches that fit: ``batch_size: auto`` and recovery from out-of-memory errors by halving.

Inference (log-likelihood scoring, encoder and sequence-head prediction) runs its items in
batches through :func:`run_in_batches`:

* a fixed ``batch_size`` is used as given, until a batch runs out of memory: then that batch is
  retried at half the size (down to one item), with a warning, and the smaller size is kept;
* ``batch_size: auto`` starts large (:data:`AUTO_START` items) and halves on out-of-memory, as
  accelerate's ``find_executable_batch_size`` does, but per length group: the items come sorted
  longest first, and once a batch of ``b`` items of ``L`` tokens fits, later (shorter) batches
  get ``b * L`` tokens' worth of items, so short texts are not run at the long texts' size.

* a token budget (``max_tokens``, the scorer's default): each batch takes as many of the items
  (sorted longest first) as fit the budget, counting a batch's padded size, rows x its longest
  item, so short texts run many to a batch and long ones few; ``batch_size`` (or ``auto``'s
  start) still caps the rows. An item longer than the budget runs alone. Out-of-memory halves
  the budget as it halves a batch.

Halving never changes a result: items are computed independently of their batch (tested to
1e-4 in the scorer). Out-of-memory is recognised by accelerate's ``should_reduce_batch_size``
(CUDA, MPS, XPU and CPU allocator messages), and the device cache is cleared before the retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from llmdisc.errors import LlmdiscError

__all__ = [
    "AUTO",
    "AUTO_START",
    "DISTRIBUTED_AUTO_BATCH",
    "check_batch_size",
    "check_max_tokens",
    "is_out_of_memory",
    "padded_tokens",
    "rows_within",
    "run_in_batches",
]

logger = logging.getLogger(__name__)

X = TypeVar("X")
Y = TypeVar("Y")

AUTO = "auto"
#: The batch ``auto`` tries first; out-of-memory halves it.
AUTO_START = 256
#: ``auto`` under several processes: the batches are fixed there (every process must agree on
#: them, see :func:`llmdisc.plumbing.distributed.map_batches`), so auto means this size, halved where a
#: batch runs out of memory.
DISTRIBUTED_AUTO_BATCH = 32


def check_batch_size(value: int | str, name: str = "batch_size") -> int | str:
    """``value`` as a positive int, or ``"auto"``; anything else is a one-line error.

    Args:
        value: an int, a string of digits (from the command line) or ``"auto"``.
        name: the setting's name, for the message.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text == AUTO:
            return AUTO
        if text.isdigit():
            value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LlmdiscError(f"{name} must be a positive integer or 'auto', not {value!r}")
    return value


def check_max_tokens(value: int | str | None, name: str = "max_tokens") -> int | None:
    """``value`` as a positive int, or None (no token budget: batches of ``batch_size`` rows)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "")):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LlmdiscError(f"{name} must be a positive integer or none, not {value!r}")
    return value


def padded_tokens(lengths: Sequence[int]) -> int:
    """The padded size of a batch of items of these lengths: rows x the longest."""
    return len(lengths) * max(lengths, default=0)


def rows_within(lengths: Sequence[int], start: int, max_tokens: int, max_rows: int) -> int:
    """How many items from ``start`` make one batch within ``max_tokens`` padded tokens (at least one).

    Args:
        lengths: every item's length in tokens.
        start: the batch's first item.
        max_tokens: the budget for the batch's padded size (:func:`padded_tokens`).
        max_rows: the most rows a batch may have.
    """
    rows, longest = 1, max(lengths[start], 1)
    while start + rows < len(lengths) and rows < max_rows:
        wider = max(longest, lengths[start + rows])
        if (rows + 1) * wider > max_tokens:
            break
        rows, longest = rows + 1, wider
    return rows


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a device (or CPU allocator) out-of-memory error."""
    from accelerate.utils.memory import should_reduce_batch_size

    return isinstance(error, Exception) and should_reduce_batch_size(error)


def _free_memory() -> None:
    from accelerate.utils.memory import clear_device_cache

    clear_device_cache(garbage_collection=True)


def run_in_batches(
    fn: Callable[[list[X]], Sequence[Y]],
    items: Sequence[X],
    batch_size: int | str,
    length: Callable[[X], int] = lambda _: 1,
    max_tokens: int | None = None,
) -> list[Y]:
    """``fn`` over ``items`` in batches, halving a batch that runs out of memory.

    Args:
        fn: computes one batch; returns one result per item, in order.
        items: the items, longest first when ``length`` is given (the first batch fails fast).
        batch_size: items per batch, or ``"auto"`` (the largest that fits, per length group);
            with ``max_tokens``, the most items per batch.
        length: an item's size in tokens (``auto`` keeps the tokens per batch, not the items).
        max_tokens: size batches by tokens: each holds as many items as keep its padded size
            (:func:`padded_tokens`) within this budget (None: by ``batch_size`` alone).

    Returns:
        One result per item, in the order of ``items``.
    """
    auto = check_batch_size(batch_size) == AUTO
    size = AUTO_START if auto else int(batch_size)
    budget: int | None = None  # tokens per batch known to fit (auto)
    ceiling: int | None = None  # the fewest tokens per batch that ran out of memory (auto)
    lengths = [max(length(item), 1) for item in items] if max_tokens is not None else []
    out: list[Y] = []
    start = 0
    while start < len(items):
        if max_tokens is not None:
            size = rows_within(lengths, start, max_tokens, AUTO_START if auto else int(batch_size))
        elif auto and budget is not None:
            tokens = max(length(items[start]), 1)
            size = min(AUTO_START, budget // tokens)
            if ceiling is not None:  # do not try again what already failed
                size = min(size, (ceiling - 1) // tokens)
            size = max(1, size)
        batch = list(items[start : start + size])
        try:
            results = fn(batch)
        except Exception as e:
            if not is_out_of_memory(e):
                raise
            if len(batch) == 1:
                raise LlmdiscError(
                    "out of memory with a batch of one item; use a smaller model, a shorter "
                    "max_length, a lower-precision dtype or another device"
                ) from None
            _free_memory()
            if max_tokens is not None:  # the budget did not fit: halve it, as a batch is halved
                max_tokens = max(1, padded_tokens(lengths[start : start + len(batch)]) // 2)
                logger.warning(
                    "out of memory with a batch of %d texts: continuing with max_tokens %d", len(batch), max_tokens
                )
                continue
            tokens = len(batch) * max(length(batch[0]), 1)
            ceiling = tokens if ceiling is None else min(ceiling, tokens)
            size, budget = max(1, len(batch) // 2), None
            if not auto:
                logger.warning("out of memory with a batch of %d: continuing with batches of %d", len(batch), size)
            continue
        out.extend(results)
        start += len(batch)
        if auto:
            budget = len(batch) * max(length(batch[0]), 1)
    return out
