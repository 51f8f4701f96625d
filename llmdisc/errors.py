"""The one exception type users see, and how other libraries' errors are cut to one line.

Every problem a user can fix (a missing file, a bad column name, an unknown alias) is raised as
:class:`LlmdiscError` with a single line that names the problem and the fix. The CLI prints that
line and exits with status 2; notebook users get an ordinary exception with the same message.
"""

from __future__ import annotations

__all__ = ["LlmdiscError", "first_line"]


class LlmdiscError(Exception):
    """A user-facing error: one line, naming the problem and how to fix it."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first non-blank line of an exception's message, for quoting it in a one-line error.

    Args:
        exc: any exception; its message may be empty or span many lines.
        limit: the most characters kept.

    Returns:
        That line, stripped and cut to ``limit`` characters; the exception's type name when the
        message is empty (``str(KeyError())`` is ``''``, and ``''.splitlines()[0]`` would raise).
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:limit] if lines else type(exc).__name__
