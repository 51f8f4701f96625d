"""``no_grad``: ``@torch.no_grad()`` for functions in modules that must not import torch when loaded.

``import llmdisc`` (and so every ``llmdisc`` command, ``--help`` included) imports no torch:
that takes seconds. A module-level ``@torch.no_grad()`` would import it; this decorator imports
it on the first call instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

__all__ = ["no_grad"]

F = TypeVar("F", bound=Callable)


def no_grad(fn: F) -> F:
    """Run ``fn`` under ``torch.no_grad()`` (torch is imported when ``fn`` is first called)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import torch

        with torch.no_grad():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
