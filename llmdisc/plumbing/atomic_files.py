"""Atomic writes: a save either completes or leaves nothing behind.

Files are written to a temporary sibling and renamed into place (``os.replace`` is atomic on
POSIX within one file system). Folders are built in a temporary sibling folder and swapped in, so
a crash half-way through ``save_pretrained`` never leaves a half-written model where a good one
was expected.

Temporary names carry the writer's pid and host (:func:`~llmdisc.plumbing.locks.process_tag`): what a
killed process left (``.NAME.tmp-*``, ``.NAME.old-*``, ``llmdisc-checkpoints-*``) is removed by
the next save of that target or the next :func:`temp_dir` of that kind, and what a live one is
writing is left alone. :func:`temp_root` puts temporary folders where the next run looks (a
comparison uses ``OUTPUT_DIR/tmp``) instead of the system's temporary folder.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import glob
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmdisc.errors import LlmdiscError
from llmdisc.plumbing.locks import process_tag, tag_is_dead

__all__ = [
    "atomic_dir",
    "atomic_file",
    "atomic_write_text",
    "read_cached_json",
    "remove_stale",
    "temp_dir",
    "temp_root",
    "write_json",
]

logger = logging.getLogger(__name__)

_TEMP_ROOT: contextvars.ContextVar[Path | None] = contextvars.ContextVar("llmdisc_temp_root", default=None)
# A full or read-only disk is the user's to fix: one line, not a traceback.
_DISK_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
}


class _DiskError(LlmdiscError):
    """A write failed for a reason the user fixes on the disk (see ``_DISK_ERRORS``)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _disk_reason(e: BaseException) -> str | None:
    """Why a write failed, when it is the disk's fault; None otherwise."""
    if isinstance(e, _DiskError):
        return e.reason
    if isinstance(e, OSError) and e.errno in _DISK_ERRORS:
        return _DISK_ERRORS[e.errno]
    # Writers in Rust (safetensors, tokenizers) raise their own types with the OS message inside.
    return _DISK_ERRORS[errno.ENOSPC] if "No space left on device" in str(e) else None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Build a folder in a temporary sibling, then move it to ``target`` in one step.

    Args:
        target: the folder to create, or replace.

    Yields:
        The temporary folder to write into. On an exception it is deleted and ``target`` is
        left as it was.
    """
    target = Path(target).resolve()
    if target.exists() and not target.is_dir():
        raise LlmdiscError(f"{target} is a file; pass a folder path")
    target.parent.mkdir(parents=True, exist_ok=True)
    _restore_or_remove_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{process_tag()}-", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; a saved model is not
    old = None
    try:
        yield tmp
        if target.exists():
            # Move the old folder aside first: two renames, so at no moment is there a partial one.
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{process_tag()}-", dir=target.parent))
            os.replace(target, old / "x")
        os.replace(tmp, target)
    except BaseException as e:
        if old is not None and not target.exists():
            os.replace(old / "x", target)  # put the old folder back
        shutil.rmtree(tmp, ignore_errors=True)
        reason = _disk_reason(e)
        if reason:
            kept = "the previous folder is kept" if target.exists() else "nothing was written"
            raise _DiskError(
                f"could not save {target}: {reason} ({kept}); free some space or fix the "
                "permissions, or save to another folder",
                reason,
            ) from None
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _restore_or_remove_stale(target: Path) -> None:
    """Clear what a killed save of ``target`` left beside it; bring back a folder it had moved aside.

    A process killed between atomic_dir's two renames leaves the previous folder only in
    ``.NAME.old-*/x``: that is put back, not deleted.
    """
    for path in sorted(target.parent.glob(f".{glob.escape(target.name)}.old-*")):
        if tag_is_dead(path.name) and (path / "x").is_dir() and not target.exists():
            os.replace(path / "x", target)
            logger.warning("%s: restored the folder an interrupted save had moved aside", target)
    remove_stale(target.parent, f".{target.name}.tmp-")
    remove_stale(target.parent, f".{target.name}.old-")


def remove_stale(folder: str | os.PathLike, prefix: str) -> int:
    """Remove the files and folders in ``folder`` named ``PREFIX<tag>-...`` whose process is dead.

    Returns:
        How many were removed (each is logged).
    """
    removed = 0
    for path in Path(folder).glob(f"{glob.escape(prefix)}*"):
        if not tag_is_dead(path.name[len(prefix) :]):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        logger.info("removed %s, left by an interrupted run", path)
        removed += 1
    return removed


@contextlib.contextmanager
def temp_root(folder: str | os.PathLike | None) -> Iterator[None]:
    """While the block runs, :func:`temp_dir` makes its folders in ``folder`` (None: the system's)."""
    token = _TEMP_ROOT.set(Path(folder) if folder is not None else None)
    try:
        yield
    finally:
        _TEMP_ROOT.reset(token)


def temp_dir(prefix: str) -> Path:
    """A new temporary folder ``PREFIX<pid>-<host>-XXXXXXXX`` under :func:`temp_root`'s folder.

    The leftovers of dead processes with the same prefix there are removed first.
    """
    root = _TEMP_ROOT.get() or Path(tempfile.gettempdir())
    root.mkdir(parents=True, exist_ok=True)
    remove_stale(root, prefix)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{process_tag()}-", dir=root))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    Args:
        path: destination file; its folder is created if needed.
        text: UTF-8 content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent, f".{path.name}.tmp-")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{process_tag()}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        reason = _disk_reason(e)
        if reason:
            raise _DiskError(
                f"could not write {path}: {reason}; free some space or fix the permissions, "
                "or write to another folder",
                reason,
            ) from None
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (see :func:`atomic_write_text`)."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def read_cached_json(path: str | os.PathLike, again: str) -> Any | None:
    """A cache file's JSON; None, with a warning naming the file, when it is unreadable.

    Caches are written atomically, but a disk that filled up, a copy cut short or a hand edit can
    still leave a truncated or empty file: what it held is then computed ``again`` (say "running
    naive_bayes, size 8 again"), not a traceback.
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        logger.warning("%s is damaged (%s); %s", path, e, again)
        return None


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write any file to (Parquet, CSV...), renamed on success.

    Unlike :func:`atomic_write_text`, the folder must exist: a missing one is an error the
    caller should have reported before doing any work. On an exception nothing is left behind;
    what a killed writer left (``.NAME.tmp-<pid>-<host>-*``) is removed by the next write of ``path``,
    as :func:`atomic_write_text` does.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise LlmdiscError(f"folder {path.parent} does not exist; create it or pick another output path")
    remove_stale(path.parent, f".{path.name}.tmp-")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{process_tag()}-", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
