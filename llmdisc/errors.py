"""The one exception type users see.

Every problem a user can fix (a missing file, a bad column name, an unknown alias) is raised as
:class:`LlmdiscError` with a single line that names the problem and the fix. The CLI prints that
line and exits with status 2; notebook users get an ordinary exception with the same message.
"""

from __future__ import annotations

__all__ = ["LlmdiscError"]


class LlmdiscError(Exception):
    """A user-facing error: one line, naming the problem and how to fix it."""
