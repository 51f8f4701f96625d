"""Local data files: which file holds which split, and reading one safely.

A folder is searched for ``train``/``validation`` (or ``dev``, ``val``...)/``test`` files in csv,
tsv, json, jsonl or parquet; every problem a user can fix in a file (missing, unknown format, not
UTF-8, empty, a malformed line) is a one-line :class:`~llmdisc.errors.LlmdiscError` before
``datasets`` parses it. :mod:`llmdisc.data.loading` turns what is read here into ``text`` + ``label``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llmdisc.errors import LlmdiscError, first_line

if TYPE_CHECKING:
    import datasets

__all__ = [
    "DEMO_DATA",
    "DEMO_DIR",
    "DEMO_TOPICS",
    "DEMO_TOPICS_DIR",
    "FORMATS",
    "SPLIT_NAMES",
    "check_file",
    "find_split_files",
    "parse_data_source",
    "parse_splits_map",
    "peek_columns",
    "read_data_file",
    "source_files",
    "tsv_options",
]

logger = logging.getLogger(__name__)

DEMO_DATA = "demo"
DEMO_DIR = Path(__file__).parent / "demo_data"
#: The built-in multi-class set: short texts on four topics (sports, tech, food, weather).
DEMO_TOPICS = "demo-topics"
DEMO_TOPICS_DIR = DEMO_DIR / "topics"

SPLIT_NAMES = {
    "train": ("train",),
    "validation": ("validation", "valid", "val", "dev"),
    "test": ("test",),
}
# file suffix -> (datasets builder, extra builder arguments)
FORMATS: dict[str, tuple[str, dict]] = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"delimiter": "\t"}),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
    ".parquet": ("parquet", {}),
}


def parse_data_source(source: str | Mapping[str, str]) -> str | dict[str, str]:
    """Turn the command-line form ``train=a.csv,test=b.csv`` into a dict; pass others through.

    Args:
        source: ``"demo"``, a folder, a file, a Hub id, ``"split=path,..."`` or a mapping.

    Returns:
        A mapping of split to path, or the source string unchanged.
    """
    if isinstance(source, Mapping):
        return dict(source)
    pieces = [p.strip() for p in source.split(",") if p.strip()]
    pairs = [p.split("=", 1) for p in pieces]
    # Only "split=path" pieces with known split names; a path that merely holds "=" is a path.
    if pieces and all(len(kv) == 2 and kv[0].strip() in SPLIT_NAMES for kv in pairs):
        return {k.strip(): v.strip() for k, v in pairs}
    return source


def parse_splits_map(value: str | Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """Read a split mapping: ``"validation=dev,test=eval"`` (or its list or dict form).

    Each key is one of llmdisc's splits (train, validation, test); its value names the split (a
    Hub data set's split, or a file's stem in a folder) that fills it.

    Returns:
        llmdisc split -> source split name.
    """
    if not value:
        return {}
    if isinstance(value, Mapping):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    else:
        pieces = [p.strip() for p in (value.split(",") if isinstance(value, str) else value) if str(p).strip()]
        bad = [p for p in pieces if "=" not in p]
        if bad:
            raise LlmdiscError(f"splits_map: '{bad[0]}' is not SPLIT=NAME; write e.g. validation=dev,test=eval")
        pairs = [tuple(x.strip() for x in p.split("=", 1)) for p in pieces]  # type: ignore[misc]
    out = dict(pairs)
    unknown = sorted(set(out) - set(SPLIT_NAMES))
    if unknown:
        raise LlmdiscError(
            f"splits_map: unknown split(s) {', '.join(unknown)}; the keys are train, validation and "
            "test, the values the names in the data (validation=dev)"
        )
    return out


def find_split_files(folder: Path, splits_map: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Map split names to files in ``folder`` (``train.csv``, ``dev.tsv``, ``test.jsonl``...).

    ``splits_map`` names a split's file stem where it is not one of the usual names.
    """
    found: dict[str, Path] = {}
    for split, name in (splits_map or {}).items():
        matches = [p for p in sorted(folder.iterdir()) if p.stem == name and p.suffix.lower() in FORMATS]
        if not matches:
            raise LlmdiscError(f"splits_map: no file {name}.csv/.tsv/.json/.jsonl/.parquet in {folder} for {split}")
        found[split] = matches[0]
    for split, aliases in SPLIT_NAMES.items():
        for path in sorted(folder.iterdir()):
            if path.stem.lower() in aliases and path.suffix.lower() in FORMATS:
                found.setdefault(split, path)
    if "train" not in found:
        raise LlmdiscError(
            f"no train file in folder {folder}: expected train.csv/.tsv/.json/.jsonl/.parquet "
            f"(found: {', '.join(p.name for p in sorted(folder.iterdir())) or 'nothing'})"
        )
    return found


def check_file(path: Path) -> None:
    """Fail early, with one line, on a file that is missing, of unknown format, not UTF-8 or empty."""
    if not path.is_file():
        raise LlmdiscError(f"data file not found: {path}; check the path (or pass 'demo' for the built-in set)")
    if path.suffix.lower() not in FORMATS:
        raise LlmdiscError(f"unsupported data file format '{path.suffix}' for {path}; use one of {', '.join(FORMATS)}")
    if path.suffix.lower() != ".parquet":
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise LlmdiscError(
                f"{path} is not UTF-8 (byte {raw[e.start]:#x} at offset {e.start}); "
                f"re-save it as UTF-8, e.g. iconv -f latin1 -t utf-8 {path.name} > fixed{path.suffix}"
            ) from None
    if not path.read_bytes().strip():
        raise LlmdiscError(f"{path} is empty; give it a header line and one example per row")
    if path.suffix.lower() in (".csv", ".tsv"):
        lines = [line for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
        if len(lines) == 1:
            raise LlmdiscError(f"{path} has a header line but no rows ({lines[0][:60]!r}); add one example per line")


def tsv_options(path: Path) -> dict:
    """How to read a TSV file the way it was written: with quoting only if it uses it throughout.

    A TSV writer rarely quotes, so a text that merely starts with ``"`` (``"Great" he said``)
    must stay as it is; read with CSV quoting, it loses its quotes or swallows the rows up to the
    next quote. So when every line holds the header's number of fields, each line is one row, and
    quotes are removed only if every field that opens with one is a whole quoted field. Only a
    file whose lines do not all fit is read as quoted TSV (a quoted text holding a tab or a line
    break), and then a record over several lines is named in a warning.

    Returns:
        Extra ``datasets`` csv-builder arguments (the delimiter, and ``quoting`` when none).
    """
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    width = len(next(csv.reader(io.StringIO(text), delimiter="\t")))
    bad = next((n for n, line in enumerate(lines, 1) if line.strip() and line.count("\t") + 1 != width), None)
    if bad is None:
        fields = [f for line in lines for f in line.split("\t") if f.startswith('"')]
        whole = all(len(f) > 1 and f.endswith('"') and '"' not in f[1:-1].replace('""', "") for f in fields)
        if fields and not whole:
            logger.debug("%s: quotes are read as part of the texts", path)
        return {"delimiter": "\t"} if whole else {"delimiter": "\t", "quoting": csv.QUOTE_NONE}
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", strict=True)
    spans, end = [], 0  # (first line, lines) of the records spread over several lines
    try:
        for row in reader:
            if row and len(row) != width:
                raise csv.Error
            if row and reader.line_num - end > 1:
                spans.append((end + 1, reader.line_num - end))
            end = reader.line_num
    except csv.Error:
        count = lines[bad - 1].count("\t") + 1
        raise LlmdiscError(
            f"{path.name} line {bad} has {count} tab-separated fields, the header {width}; fix that "
            "line (a tab or line break inside a text needs the text quoted)"
        ) from None
    if spans:
        first, n = spans[0]
        more = f" ({len(spans) - 1} more such rows)" if len(spans) > 1 else ""
        logger.warning(
            "%s line %d: a quoted text runs over %d lines and is read as one row%s; if that is not "
            "meant, fix the quotes there",
            path.name,
            first,
            n,
            more,
        )
    return {"delimiter": "\t"}


def read_data_file(path: Path) -> datasets.Dataset:
    """Read one csv/tsv/json/jsonl/parquet file into a ``Dataset``, its columns as they are.

    Problems a user can fix (missing, not UTF-8, empty, malformed) are one-line errors.
    """
    import datasets

    check_file(path)
    builder, kwargs = FORMATS[path.suffix.lower()]
    if path.suffix.lower() == ".tsv":
        kwargs = tsv_options(path)
    try:
        return datasets.load_dataset(builder, data_files={"data": str(path)}, split="data", **kwargs)
    except Exception as e:  # datasets raises many types for a malformed file
        if "corresponds to no data" in str(e):
            raise LlmdiscError(f"{path} holds no rows; add examples to it") from None
        raise LlmdiscError(f"could not parse {path} as {path.suffix[1:]}: {first_line(e)}") from None


def peek_columns(path: str | Path) -> list[str] | None:
    """The column names of a local data file from its first line (a Parquet file: its schema).

    Milliseconds, where importing ``datasets`` and parsing the file take seconds: a wrong
    column is reported at once. None when the header cannot be read this way (``datasets``
    then reads the file and reports what is wrong with it).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        # utf-8-sig: a byte order mark (Excel's and Notepad's "UTF-8") is not part of the first column's name.
        with open(path, encoding="utf-8-sig", newline="") as f:
            if suffix in (".csv", ".tsv"):
                header = next(csv.reader(f, delimiter="\t" if suffix == ".tsv" else ","), None)
                return header or None  # a blank first line: let the full reader say what is wrong
            if suffix in (".json", ".jsonl"):
                first = next((line for line in f if line.strip()), "")
                record = json.loads(first) if first.lstrip().startswith("{") else None
                return list(record) if isinstance(record, dict) else None
    except (OSError, UnicodeDecodeError, ValueError, csv.Error, ImportError):
        return None
    return None


def source_files(
    source: str | Mapping[str, str], splits_map: Mapping[str, str] | None = None
) -> dict[str, Path] | None:
    """The local file of each split of ``source``; None for a Hub data set."""
    if isinstance(source, Mapping):
        files = {split: Path(p) for split, p in source.items()}
        unknown = set(files) - set(SPLIT_NAMES)
        if unknown:
            raise LlmdiscError(f"unknown split name(s) {sorted(unknown)}; use train, validation and test")
        if "train" not in files:
            raise LlmdiscError("no train file given; pass train=PATH (validation=PATH and test=PATH are optional)")
    elif source == DEMO_DATA:
        files = find_split_files(DEMO_DIR)
    elif source == DEMO_TOPICS:
        files = find_split_files(DEMO_TOPICS_DIR)
    elif os.path.isdir(source):
        files = find_split_files(Path(source), splits_map)
    elif os.path.isfile(source) or Path(source).suffix.lower() in FORMATS or source.startswith((".", "/", "~")):
        files = {"train": Path(source).expanduser()}
    else:
        return None
    return files
