"""Atomic writes: a save either completes or leaves nothing behind.

Files are written to a temporary sibling and renamed into place (``os.replace`` is atomic on
POSIX within one file system). Folders are built in a temporary sibling folder and swapped in, so
a crash half-way through ``save_pretrained`` never leaves a half-written model where a good one
was expected.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import LlmdiscError

__all__ = ["atomic_dir", "atomic_file", "atomic_write_text", "write_json"]


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
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; a saved model is not
    old = None
    try:
        yield tmp
        if target.exists():
            # Move the old folder aside first: two renames, so at no moment is there a partial one.
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / "x")
        os.replace(tmp, target)
    except BaseException:
        if old is not None and not target.exists():
            os.replace(old / "x", target)  # put the old folder back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    Args:
        path: destination file; its folder is created if needed.
        text: UTF-8 content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (see :func:`atomic_write_text`)."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write any file to (Parquet, CSV...), renamed on success.

    Unlike :func:`atomic_write_text`, the folder must exist: a missing one is an error the
    caller should have reported before doing any work. On an exception nothing is left behind.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise LlmdiscError(f"folder {path.parent} does not exist; create it or pick another output path")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
