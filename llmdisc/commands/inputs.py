"""Where ``generate``, ``score`` and ``predict`` read their texts (arguments, a file, or standard
input) and where ``predict`` writes its records (standard output, .jsonl, .csv or .parquet).

``predict`` streams: :func:`iter_inputs` yields the texts one at a time and :func:`record_writer`
writes each batch's records as they come, so its memory does not grow with the input's length."""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from llmdisc.errors import LlmdiscError

__all__ = [
    "TABLE_SUFFIXES",
    "OUTPUT_SUFFIXES",
    "check_output",
    "iter_inputs",
    "read_inputs",
    "record_writer",
    "write_jsonl",
    "write_records",
]

# Files read as a table with a text column (a .jsonl file too, when --text-column is given).
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
OUTPUT_SUFFIXES = (".jsonl", ".csv", ".parquet")
# Rows of a table file read at a time, and records per Parquet row group written: memory stays flat.
TABLE_BATCH = 1024
ROW_GROUP = 4096


def _table_texts(path: Path, text_column: str | None) -> Iterator[str]:
    """The text column of a csv / tsv / parquet / jsonl file, a batch of rows at a time; the columns
    are checked from the header first, so that a wrong name is reported before anything slow runs."""
    from llmdisc.data.files import peek_columns, read_data_file
    from llmdisc.data.loading import TEXT_COLUMNS, pick_column

    columns = peek_columns(path)
    if columns is not None:  # a wrong name: reported before datasets is imported
        pick_column(columns, text_column, TEXT_COLUMNS, "text")
    ds = read_data_file(path)  # the same parsing as training data; Arrow on disk, not Python objects
    column = pick_column(ds.column_names, text_column, TEXT_COLUMNS, "text")
    if not len(ds):
        raise LlmdiscError(f"{path} holds no rows")
    row = 0
    for batch in ds.select_columns([column]).iter(batch_size=TABLE_BATCH):
        for text in batch[column]:
            row += 1
            if text is None:
                raise LlmdiscError(f"row {row} of {path} has no text in column '{column}'; fill it in or drop the row")
            if not isinstance(text, str):
                raise LlmdiscError(
                    f"row {row} of {path}: column '{column}' holds a {type(text).__name__} ({text!r:.60}), not a "
                    "text; pass the column of texts with --text-column"
                )
            yield text


def _file_lines(path: Path) -> Iterator[str]:
    """The lines of a UTF-8 text file, one at a time (a byte order mark dropped)."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            yield from f
    except UnicodeDecodeError:
        raise LlmdiscError(f"{path} is not UTF-8; re-save it as UTF-8") from None


def _line_texts(lines: Iterable[str], field: str) -> Iterator[str]:
    """The texts of lines: each line is one, or a JSON object with ``field`` (or ``prompt``, ``text``)."""
    for n, line in enumerate(lines, 1):
        line = line.lstrip("\ufeff") if n == 1 else line  # a byte order mark on standard input
        line = line.rstrip("\r\n")
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
            yield value
        else:
            yield line


def iter_inputs(
    args: list[str], file: str | None, field: str = "text", text_column: str | None = None
) -> Iterator[str]:
    """Texts from arguments, else from ``file``, else stdin, one at a time: however long the input,
    only the texts being worked on are in memory.

    ``file`` holds one text per line, or JSONL with ``field``; a .csv, .tsv or .parquet file
    (or a .jsonl one with ``text_column`` given) is read as a table: its ``text_column``, by
    default the only one of text/sentence/review/content/document. A JSONL line may also carry
    ``prompt`` (for generation). Blank lines are skipped; a byte order mark is dropped. A problem
    (a missing file, a wrong column...) is raised when the first text is asked for; one in a
    later line, when that line is reached.
    """
    if args:
        yield from args
        return
    if file:
        path = Path(file)
        if not path.is_file():
            raise LlmdiscError(f"input file not found: {file}")
        if path.suffix.lower() in TABLE_SUFFIXES or (text_column and path.suffix.lower() in (".jsonl", ".json")):
            yield from _table_texts(path, text_column)
            return
        yield from _line_texts(_file_lines(path), field)
    elif not sys.stdin.isatty():
        yield from _line_texts(sys.stdin, field)
    else:
        raise LlmdiscError("no input: give texts as arguments, --file FILE, or pipe them on stdin")


def read_inputs(args: list[str], file: str | None, field: str = "text", text_column: str | None = None) -> list[str]:
    """All the texts of :func:`iter_inputs` in a list; none is an error."""
    texts = list(iter_inputs(args, file, field, text_column))
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


@contextlib.contextmanager
def record_writer(output: str | None) -> Iterator[Callable[[list[dict[str, Any]]], None]]:
    """A function writing records batch by batch: JSON lines to stdout (flushed after each batch),
    or ``output`` (.jsonl, .csv or .parquet by its extension) through a temporary file renamed
    when the block ends, so a failed run leaves no partial file.

    Nothing is held beyond one batch (a Parquet row group: :data:`ROW_GROUP` records).
    """
    if output is None:

        def to_stdout(records: list[dict[str, Any]]) -> None:
            sys.stdout.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
            sys.stdout.flush()

        yield to_stdout
        return
    check_output(output)
    from llmdisc.plumbing.atomic_files import atomic_file

    with atomic_file(output) as tmp:
        if Path(output).suffix.lower() == ".parquet":
            with _parquet_writer(tmp) as write:
                yield write
            return
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            csv_writer = None

            def to_file(records: list[dict[str, Any]]) -> None:
                nonlocal csv_writer
                if Path(output).suffix.lower() == ".jsonl":
                    f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
                    return
                if csv_writer is None:
                    csv_writer = csv.DictWriter(f, fieldnames=list(records[0]) if records else [], lineterminator="\n")
                    csv_writer.writeheader()
                csv_writer.writerows(records)

            yield to_file


@contextlib.contextmanager
def _parquet_writer(path: Path) -> Iterator[Callable[[list[dict[str, Any]]], None]]:
    """Records to a Parquet file in row groups of :data:`ROW_GROUP`, every group of the first one's schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pending: list[dict[str, Any]] = []
    writer: pq.ParquetWriter | None = None

    def flush() -> None:
        nonlocal writer
        table = pa.Table.from_pylist(pending, schema=writer.schema if writer is not None else None)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
        pending.clear()

    def write(records: list[dict[str, Any]]) -> None:
        pending.extend(records)
        if len(pending) >= ROW_GROUP:
            flush()

    try:
        yield write
        if pending or writer is None:
            flush()
    finally:
        if writer is not None:
            writer.close()


def write_records(records: list[dict[str, Any]], output: str | None) -> None:
    """Write records as JSON lines to stdout, or to ``output`` (.jsonl, .csv or .parquet by its
    extension), all at once (see :func:`record_writer`)."""
    with record_writer(output) as write:
        write(records)
