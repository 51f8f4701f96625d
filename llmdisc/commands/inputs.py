"""Where ``generate``, ``score`` and ``predict`` read their texts (arguments, a file, or standard
input) and where ``predict`` writes its records (standard output, .jsonl, .csv or .parquet)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

from llmdisc.errors import LlmdiscError

__all__ = ["TABLE_SUFFIXES", "OUTPUT_SUFFIXES", "check_output", "read_inputs", "write_jsonl", "write_records"]

# Files read as a table with a text column (a .jsonl file too, when --text-column is given).
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
OUTPUT_SUFFIXES = (".jsonl", ".csv", ".parquet")


def _table_texts(path: Path, text_column: str | None) -> list[str]:
    """The text column of a csv / tsv / parquet / jsonl file; the columns are checked from the
    header first, so that a wrong name is reported before anything slow runs."""
    from llmdisc.data.files import peek_columns, read_data_file
    from llmdisc.data.loading import TEXT_COLUMNS, pick_column

    columns = peek_columns(path)
    if columns is not None:  # a wrong name: reported before datasets is imported
        pick_column(columns, text_column, TEXT_COLUMNS, "text")
    ds = read_data_file(path)  # the same parsing as training data
    column = pick_column(ds.column_names, text_column, TEXT_COLUMNS, "text")
    texts = ds[column]
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise LlmdiscError(
            f"row {bad + 1} of {path} has no text in column '{column}' ({texts[bad]!r}); fill it in or drop the row"
        )
    if not texts:
        raise LlmdiscError(f"{path} holds no rows")
    return list(texts)


def read_inputs(args: list[str], file: str | None, field: str = "text", text_column: str | None = None) -> list[str]:
    """Texts from arguments, else from ``file``, else stdin.

    ``file`` holds one text per line, or JSONL with ``field``; a .csv, .tsv or .parquet file
    (or a .jsonl one with ``text_column`` given) is read as a table: its ``text_column``, by
    default the only one of text/sentence/review/content/document. A JSONL line may also carry
    ``prompt`` (for generation). Blank lines are skipped.
    """
    if args:
        return list(args)
    if file:
        path = Path(file)
        if not path.is_file():
            raise LlmdiscError(f"input file not found: {file}")
        if path.suffix.lower() in TABLE_SUFFIXES or (text_column and path.suffix.lower() in (".jsonl", ".json")):
            return _table_texts(path, text_column)
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
        from llmdisc.plumbing.atomic_files import atomic_write_text

        atomic_write_text(output, text)
    else:
        sys.stdout.write(text)


def check_output(output: str | None) -> None:
    """Before any work: ``output`` has a known extension and its folder exists."""
    if output is None:
        return
    path = Path(output)
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise LlmdiscError(
            f"--output {output}: unknown format '{path.suffix}'; end it in {', '.join(OUTPUT_SUFFIXES)}"
        )
    if path.is_dir():
        raise LlmdiscError(f"--output {output} is a folder; pass a file path")
    if not path.parent.is_dir():
        raise LlmdiscError(f"--output {output}: folder {path.parent} does not exist; create it or pick another path")


def write_records(records: list[dict[str, Any]], output: str | None) -> None:
    """Write records as JSON lines to stdout, or to ``output`` (.jsonl, .csv or .parquet by its
    extension) through a temporary file and a rename: a failed run leaves no partial file."""
    if output is None or Path(output).suffix.lower() == ".jsonl":
        write_jsonl(records, output)
        return
    check_output(output)
    from llmdisc.plumbing.atomic_files import atomic_file

    with atomic_file(output) as tmp:
        if Path(output).suffix.lower() == ".csv":
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(records[0]) if records else [], lineterminator="\n")
                writer.writeheader()
                writer.writerows(records)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(records), tmp)
