"""Time spent loading models, kept apart from time spent training and predicting.

A classifier's ``fit`` loads its model (from the disk cache, a GGUF conversion, or the Hub) and
then trains; only the second is the approach's training cost. Every model load runs inside
:func:`loading`, which adds its wall time to one process-wide counter; ``fit`` reads the counter
before and after, and records the difference as its load time.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

__all__ = ["loading", "loading_seconds"]

_LOADING = [0.0]  # seconds spent in loading() in this process; a list so the context can add to it
_DEPTH = [0]  # loads nest (a tokenizer inside a model's load): only the outermost one counts


@contextlib.contextmanager
def loading() -> Iterator[None]:
    """Count the wall time of the block as model loading."""
    _DEPTH[0] += 1
    start = time.perf_counter()
    try:
        yield
    finally:
        _DEPTH[0] -= 1
        if _DEPTH[0] == 0:
            _LOADING[0] += time.perf_counter() - start


def loading_seconds() -> float:
    """The seconds this process has spent loading models so far."""
    return _LOADING[0]
