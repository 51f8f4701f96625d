"""Locks and claims on files, so that two processes never do the same work at once.

A lock is a small file that names its holder (pid, host, start time) and is locked with
``flock(2)`` while held. The kernel drops that lock when the holder dies, however it dies
(kill -9 included), so a lock left by a dead process is taken over, with a warning naming it;
nobody has to delete it by hand. A holder on *another* host cannot be checked from here (not
every network file system shares flock locks), so such a file is refused with the command that
removes it.

* :class:`FolderLock`: one comparison at a time per output folder.
* :func:`claim`: a non-blocking claim of one unit of work, such as one (approach, size, seed)
  cell of a comparison's grid. Several processes sharing an output folder (``--shard I/N``, a job
  array, ``accelerate launch``) each try to claim a cell before running it and skip the cells
  that others hold; the claim of a process that died is free again. It is the same
  :class:`FileLock`, so both behave alike.

Temporary files and folders carry :func:`process_tag` (pid and host) in their names, so a later
run can tell the leftovers of a dead process (:func:`tag_is_dead`) from those of a live one.

POSIX only (``fcntl``), like the rest of llmdisc's multi-process support.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

from llmdisc.errors import LlmdiscError

__all__ = ["FileLock", "FolderLock", "LOCK_FILE", "claim", "process_tag", "tag_is_dead"]

logger = logging.getLogger(__name__)

LOCK_FILE = ".llmdisc.lock"
_HOST = socket.gethostname()


def _host_id(host: str = _HOST) -> str:
    """A short, file-name-safe id of a host name."""
    return hashlib.sha1(host.encode()).hexdigest()[:8]


def process_tag() -> str:
    """``PID-HOSTID``: put in temporary names so that :func:`tag_is_dead` can judge them later."""
    return f"{os.getpid()}-{_host_id()}"


_TAG = re.compile(r"(\d+)-([0-9a-f]{8})-")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and someone else's
        return True
    return True


def tag_is_dead(name: str) -> bool:
    """Whether the name holds a :func:`process_tag` of a process of this host that has ended.

    A tag of another host, or none, is never judged dead: its owner may be running.
    """
    match = _TAG.search(name)
    return bool(match) and match.group(2) == _host_id() and not _pid_alive(int(match.group(1)))


class FileLock:
    """An exclusive, non-blocking lock on ``path`` that names its holder.

    Args:
        path: the lock file (created; removed again on release).
        what: what the lock guards, for messages ("output folder out/").
    """

    def __init__(self, path: str | os.PathLike, what: str | None = None) -> None:
        self.path = Path(path)
        self.what = what or str(self.path)
        self.holder: dict[str, Any] | None = None  # who holds it, after a failed acquire
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False (and ``holder`` set) when another live process holds it."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this lock object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                self.holder = _read(self.path)
                return False
            # The holder before us may have removed the file between our open and our flock:
            # then we hold a lock on a file nobody else sees; start again.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = _read(self.path)
        if previous and previous.get("host") != _HOST:
            # flock may not reach across hosts: that process may be alive. Let a person decide.
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            self.holder = previous
            return False
        if previous:
            logger.warning(
                "%s: took over the lock of process %s (started %s), which is no longer running",
                self.what,
                previous.get("pid"),
                previous.get("since"),
            )
        os.ftruncate(fd, 0)
        os.write(
            fd, json.dumps({"pid": os.getpid(), "host": _HOST, "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode()
        )
        self._fd, self.holder = fd, None
        return True

    def release(self) -> None:
        """Give the lock up and remove its file (before unlocking, so no one locks a dead file)."""
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def refusal(self) -> str:
        """The one-line message for a failed acquire."""
        h = self.holder or {}
        who = f"process {h.get('pid', '?')} on {'this host' if h.get('host') == _HOST else h.get('host', '?')}"
        if h.get("host") not in (None, _HOST):
            return (
                f"{self.what} is locked by {who} (since {h.get('since', '?')}); if that process has ended, "
                f"remove {self.path}"
            )
        return f"{self.what} is in use by {who} (since {h.get('since', '?')}); wait for it to finish"

    def __enter__(self) -> FileLock:
        if not self.acquire():
            raise LlmdiscError(self.refusal())
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class FolderLock(FileLock):
    """The lock of a whole folder (``FOLDER/.llmdisc.lock``): one comparison per output folder."""

    def __init__(self, folder: str | os.PathLike) -> None:
        super().__init__(Path(folder) / LOCK_FILE, f"output folder {folder}")

    def refusal(self) -> str:
        return super().refusal() + " or use another --output-dir"


def claim(path: str | os.PathLike, what: str | None = None) -> FileLock | None:
    """Claim one unit of work: the held lock, to release when done; None if a live process has it.

    Args:
        path: the claim file, one per unit (say ``OUTPUT_DIR/claims/APPROACH/n8-seed0.lock``).
        what: the unit, for messages.
    """
    lock = FileLock(path, what)
    return lock if lock.acquire() else None


def _read(path: Path) -> dict[str, Any] | None:
    """The holder a lock file names, or None (empty: released, or never written)."""
    try:
        content = path.read_text(encoding="utf-8")
        return json.loads(content) if content.strip() else None
    except (OSError, ValueError):
        return None
