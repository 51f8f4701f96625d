"""Batches that fit: ``batch_size: auto`` and recovery from out-of-memory errors by halving.

Inference (log-likelihood scoring, encoder and sequence-head prediction) runs its items in
batches through :func:`run_in_batches`:

* a fixed ``batch_size`` is used as given, until a batch runs out of memory: then that batch is
  retried at half the size (down to one item), with a warning, and the smaller size is kept;
* ``batch_size: auto`` starts large (:data:`AUTO_START` items) and halves on out-of-memory, as
  accelerate's ``find_executable_batch_size`` does, but per length group: the items come sorted
  longest first, and once a batch of ``b`` items of ``L`` tokens fits, later (shorter) batches
  get ``b * L`` tokens' worth of items, so short texts are not run at the long texts' size.

Halving never changes a result: items are computed independently of their batch (tested to
1e-4 in the scorer). Out-of-memory is recognised by accelerate's ``should_reduce_batch_size``
(CUDA, MPS, XPU and CPU allocator messages), and the device cache is cleared before the retry.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence, TypeVar

from .errors import LlmdiscError

__all__ = ["AUTO", "AUTO_START", "DISTRIBUTED_AUTO_BATCH", "check_batch_size", "is_out_of_memory", "run_in_batches"]

logger = logging.getLogger(__name__)

X = TypeVar("X")
Y = TypeVar("Y")

AUTO = "auto"
#: The batch ``auto`` tries first; out-of-memory halves it.
AUTO_START = 256
#: ``auto`` under several processes: the batches are fixed there (every process must agree on
#: them, see :func:`llmdisc.distributed.map_batches`), so auto means this size, halved where a
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


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a device (or CPU allocator) out-of-memory error."""
    from accelerate.utils.memory import should_reduce_batch_size
    return isinstance(error, Exception) and should_reduce_batch_size(error)


def _free_memory() -> None:
    from accelerate.utils.memory import clear_device_cache
    clear_device_cache(garbage_collection=True)


def run_in_batches(fn: Callable[[list[X]], Sequence[Y]], items: Sequence[X], batch_size: int | str,
                   length: Callable[[X], int] = lambda _: 1) -> list[Y]:
    """``fn`` over ``items`` in batches, halving a batch that runs out of memory.

    Args:
        fn: computes one batch; returns one result per item, in order.
        items: the items, longest first when ``length`` is given (the first batch fails fast).
        batch_size: items per batch, or ``"auto"`` (the largest that fits, per length group).
        length: an item's size in tokens (``auto`` keeps the tokens per batch, not the items).

    Returns:
        One result per item, in the order of ``items``.
    """
    auto = check_batch_size(batch_size) == AUTO
    size = AUTO_START if auto else int(batch_size)
    budget: int | None = None  # tokens per batch known to fit (auto)
    ceiling: int | None = None  # the fewest tokens per batch that ran out of memory (auto)
    out: list[Y] = []
    start = 0
    while start < len(items):
        if auto and budget is not None:
            tokens = max(length(items[start]), 1)
            size = min(AUTO_START, budget // tokens)
            if ceiling is not None:  # do not try again what already failed
                size = min(size, (ceiling - 1) // tokens)
            size = max(1, size)
        batch = list(items[start:start + size])
        try:
            results = fn(batch)
        except Exception as e:
            if not is_out_of_memory(e):
                raise
            if len(batch) == 1:
                raise LlmdiscError("out of memory with a batch of one item; use a smaller model, a shorter "
                                   "max_length, a lower-precision dtype or another device") from None
            _free_memory()
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
