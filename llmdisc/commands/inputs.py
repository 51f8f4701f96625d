"""Where ``generate`` and ``score`` read their texts: arguments, a file, or standard input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import LlmdiscError

__all__ = ["read_inputs", "write_jsonl"]


def read_inputs(args: list[str], file: str | None, field: str = "text") -> list[str]:
    """Texts from arguments, else from ``file`` (one per line, or JSONL with ``field``), else stdin.

    A JSONL line may also carry ``prompt`` (for generation). Blank lines are skipped.
    """
    if args:
        return list(args)
    if file:
        path = Path(file)
        if not path.is_file():
            raise LlmdiscError(f"input file not found: {file}")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise LlmdiscError(f"{file} is not UTF-8; re-save it as UTF-8") from None
    elif not sys.stdin.isatty():
        lines = sys.stdin.read().splitlines()
    else:
        raise LlmdiscError("no input: give texts as arguments, --file FILE, or pipe them on stdin")
    texts = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise LlmdiscError(f"line {n} of the input is not valid JSON: {e.msg}") from None
            value = record.get(field, record.get("prompt", record.get("text")))
            if not isinstance(value, str):
                raise LlmdiscError(f"line {n} of the input has no '{field}' string")
            texts.append(value)
        else:
            texts.append(line)
    if not texts:
        raise LlmdiscError("the input holds no text")
    return texts


def write_jsonl(records: list[dict], output: str | None) -> None:
    """Print records as JSONL, or write them atomically to ``output``."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if output:
        from ..io import atomic_write_text

        atomic_write_text(output, text)
    else:
        sys.stdout.write(text)
