"""Labelled text data sets: load from anywhere, normalise to ``text`` + ``label``.

Whatever the source (the built-in demo set, a folder of split files, explicit files, or a Hub
id), :func:`load_text_dataset` returns a :class:`datasets.DatasetDict` with exactly two columns:
``text`` (str) and ``label`` (a :class:`datasets.ClassLabel`, so the label names travel with the
data). It always has ``train`` and ``validation`` splits, and ``test`` when the source has one.

Every problem a user can fix is a one-line :class:`~llmdisc.errors.LlmdiscError`.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from .config import DEFAULT_SEED, arg
from .errors import LlmdiscError, first_line
from .offline import hub_reachable

if TYPE_CHECKING:
    import datasets

__all__ = [
    "DEMO_DATA",
    "DEMO_TOPICS",
    "DataConfig",
    "load_text_dataset",
    "label_names",
    "hold_out",
    "stratified_subset",
    "parse_data_source",
    "parse_splits_map",
    "peek_columns",
]

logger = logging.getLogger(__name__)

DEMO_DATA = "demo"
DEMO_DIR = Path(__file__).parent / "demo_data"
#: The built-in multi-class set: short texts on four topics (sports, tech, food, weather).
DEMO_TOPICS = "demo-topics"
DEMO_TOPICS_DIR = DEMO_DIR / "topics"

TEXT_COLUMNS = ("text", "sentence", "review", "content", "document")
LABEL_COLUMNS = ("label", "labels")
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
        raise LlmdiscError(f"splits_map: unknown split(s) {', '.join(unknown)}; the keys are train, validation and "
                           "test, the values the names in the data (validation=dev)")
    return out


def _find_split_files(folder: Path, splits_map: Mapping[str, str] | None = None) -> dict[str, Path]:
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


def _check_file(path: Path) -> None:
    """Fail early, with one line, on a file that is missing, of unknown format, not UTF-8 or empty."""
    if not path.is_file():
        raise LlmdiscError(f"data file not found: {path}; check the path (or pass 'demo' for the built-in set)")
    if path.suffix.lower() not in FORMATS:
        raise LlmdiscError(
            f"unsupported data file format '{path.suffix}' for {path}; use one of {', '.join(FORMATS)}"
        )
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
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if len(lines) == 1:
            raise LlmdiscError(f"{path} has a header line but no rows ({lines[0][:60]!r}); add one example per line")


def _tsv_options(path: Path) -> dict:
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
    text = path.read_text(encoding="utf-8")
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
        raise LlmdiscError(f"{path.name} line {bad} has {count} tab-separated fields, the header {width}; fix that "
                           "line (a tab or line break inside a text needs the text quoted)") from None
    if spans:
        first, n = spans[0]
        more = f" ({len(spans) - 1} more such rows)" if len(spans) > 1 else ""
        logger.warning("%s line %d: a quoted text runs over %d lines and is read as one row%s; if that is not "
                       "meant, fix the quotes there", path.name, first, n, more)
    return {"delimiter": "\t"}


def _load_file(path: Path) -> datasets.Dataset:
    import datasets
    _check_file(path)
    builder, kwargs = FORMATS[path.suffix.lower()]
    if path.suffix.lower() == ".tsv":
        kwargs = _tsv_options(path)
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
        with open(path, encoding="utf-8", newline="") as f:
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


def _source_files(source: str | Mapping[str, str], splits_map: Mapping[str, str] | None = None) -> dict[str, Path] | None:
    """The local file of each split of ``source``; None for a Hub data set."""
    if isinstance(source, Mapping):
        files = {split: Path(p) for split, p in source.items()}
        unknown = set(files) - set(SPLIT_NAMES)
        if unknown:
            raise LlmdiscError(f"unknown split name(s) {sorted(unknown)}; use train, validation and test")
        if "train" not in files:
            raise LlmdiscError("no train file given; pass train=PATH (validation=PATH and test=PATH are optional)")
    elif source == DEMO_DATA:
        files = _find_split_files(DEMO_DIR)
    elif source == DEMO_TOPICS:
        files = _find_split_files(DEMO_TOPICS_DIR)
    elif os.path.isdir(source):
        files = _find_split_files(Path(source), splits_map)
    elif os.path.isfile(source) or Path(source).suffix.lower() in FORMATS or source.startswith((".", "/", "~")):
        files = {"train": Path(source).expanduser()}
    else:
        return None
    return files


def _load_raw(source: str | Mapping[str, str], hub: Mapping[str, str | None],
              splits_map: Mapping[str, str]) -> datasets.DatasetDict:
    """Load the splits of ``source`` without touching their columns."""
    import datasets
    files = _source_files(source, splits_map)
    if files is None:
        return _load_hub(source, hub.get("data_config"), hub.get("revision"), splits_map)
    return datasets.DatasetDict({split: _load_file(path) for split, path in files.items()})


def _hub_load_error(repo_id: str, config_name: str | None, revision: str | None, error: Exception) -> LlmdiscError:
    """One line for a Hub data set that did not load: a config or revision that is not there, or else."""
    message = str(error)
    if config_name and "BuilderConfig" in message and "not found" in message:
        available = message.split("Available:", 1)[1].strip() if "Available:" in message else "unknown"
        return LlmdiscError(f"data set '{repo_id}' has no config '{config_name}'; its configs: {available}")
    if revision and "revision" in message.lower():
        return LlmdiscError(f"data set '{repo_id}' has no revision '{revision}'; pass a branch, tag or commit of it")
    return LlmdiscError(
        f"could not load data set '{repo_id}' from the Hugging Face Hub ({type(error).__name__}: "
        f"{first_line(error, 160)}); check the id and your connection, or pass a local folder, files, or 'demo'")


def _load_hub(repo_id: str, config_name: str | None = None, revision: str | None = None,
              splits_map: Mapping[str, str] | None = None) -> datasets.DatasetDict:
    import datasets
    if not hub_reachable() and not os.environ.get("HF_HUB_OFFLINE"):
        raise LlmdiscError(
            f"'{repo_id}' is not a local file or folder and the Hugging Face Hub is unreachable; "
            "pass a local folder, files, or 'demo' (or set HF_HUB_OFFLINE=1 to use a cached Hub data set)"
        )
    try:
        loaded = datasets.load_dataset(repo_id, config_name, revision=revision)
    except Exception as e:
        raise _hub_load_error(repo_id, config_name, revision, e) from None
    if not isinstance(loaded, datasets.DatasetDict):  # a data set of one split
        loaded = datasets.DatasetDict({"train": loaded})
    out = {}
    for split, name in (splits_map or {}).items():
        if name not in loaded:
            raise LlmdiscError(f"splits_map: data set '{repo_id}' has no split '{name}' (it has: {', '.join(loaded)})")
        out[split] = loaded[name]
    for split, aliases in SPLIT_NAMES.items():
        for alias in aliases:
            if alias in loaded and split not in out:
                out[split] = loaded[alias]
    if "train" not in out:
        raise LlmdiscError(f"data set '{repo_id}' has no train split (it has: {', '.join(loaded)})")
    return datasets.DatasetDict(out)


def _pick_column(columns: Sequence[str], wanted: str | None, candidates: Sequence[str], kind: str) -> str:
    """Choose the text or label column: the one asked for, or the only known name present."""
    flag = f"--{kind}-column"
    if wanted is not None:
        if wanted not in columns:
            raise LlmdiscError(f"{kind} column '{wanted}' not found; columns found: {', '.join(columns)}")
        return wanted
    present = [c for c in candidates if c in columns]
    if len(present) == 1:
        return present[0]
    if not present:
        raise LlmdiscError(
            f"no {kind} column found (looked for {', '.join(candidates)}); columns found: "
            f"{', '.join(columns)}; pass {flag} NAME"
        )
    raise LlmdiscError(f"several possible {kind} columns ({', '.join(present)}); pass {flag} NAME to choose")


def _label_names_for(train: datasets.Dataset, column: str, given: Sequence[str] | None) -> list[str]:
    """Label names: given, from a ClassLabel feature, or the sorted distinct values of train."""
    import datasets
    feature = train.features[column]
    if given:
        return [str(n) for n in given]
    if isinstance(feature, datasets.ClassLabel):
        return list(feature.names)
    return [str(v) for v in sorted(set(train[column]))]


def _integer_label_map(values: Sequence, names: list[str]) -> dict[int, int] | None:
    """For integer labels: identity when they are 0..k-1, else their sorted values in order."""
    if not len(values) or isinstance(values[0], str):
        return None
    distinct = sorted({int(v) for v in values})
    if all(0 <= v < len(names) for v in distinct):
        return {i: i for i in range(len(names))}
    if len(distinct) != len(names):
        raise LlmdiscError(f"train has {len(distinct)} distinct integer labels {distinct[:10]} but "
                           f"{len(names)} label names {names}; pass one name per label")
    return {v: i for i, v in enumerate(distinct)}  # e.g. star ratings 1..5


def _encode_labels(
    ds: datasets.Dataset, split: str, column: str, names: list[str], int_names: dict[int, int] | None
) -> list[int]:
    """Map a split's raw labels to indices into ``names``; unknown labels are an error."""
    values = ds[column]
    index = {n: i for i, n in enumerate(names)}
    out, unknown = [], set()
    for v in values:
        if isinstance(v, str):
            i = index.get(v)
        elif int_names is not None:
            i = int_names.get(int(v))
        else:
            i = index.get(str(v))
        if i is None:
            unknown.add(v)
        out.append(i)
    if unknown:
        raise LlmdiscError(
            f"labels in {split} not in the training labels {names}: {sorted(map(str, unknown))[:5]}; "
            "fix the data or pass --label-names with every label"
        )
    return out


def load_text_dataset(
    source: str | Mapping[str, str] = DEMO_DATA,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    label_names: Sequence[str] | None = None,
    validation_size: float = 0.1,
    seed: int = DEFAULT_SEED,
    data_config: str | None = None,
    revision: str | None = None,
    splits_map: str | Sequence[str] | Mapping[str, str] | None = None,
) -> datasets.DatasetDict:
    """Load a labelled text data set and normalise it to ``text`` + ``label`` columns.

    Args:
        source: ``"demo"`` (the built-in reviews), ``"demo-topics"`` (four topics), a folder holding ``train``/``validation``
            (or ``dev``)/``test`` files, one file (used as train), a mapping of split to file, or
            a Hugging Face Hub id. Files may be csv, tsv, json, jsonl or parquet.
        text_column: name of the text column; by default the only one of
            ``text``/``sentence``/``review``/``content``/``document`` present.
        label_column: name of the label column; by default ``label`` or ``labels``.
        label_names: names for the labels. For integer labels, ``label_names[i]`` names label
            ``i``; for string labels it fixes their order. By default a ``ClassLabel``'s names,
            else the sorted distinct training labels.
        validation_size: fraction of train carved off (stratified) when there is no validation split;
            0 carves none (then there is no validation split: ``llmdisc evaluate`` on one file).
        seed: seed for that carving.
        data_config: a Hub data set's config name (``sst2`` of ``nyu-mll/glue``).
        revision: a Hub data set's branch, tag or commit.
        splits_map: which split of the source fills llmdisc's ``train``/``validation``/``test``,
            where the names differ: ``{"validation": "dev"}`` or ``"validation=dev,test=eval"``
            (a Hub split, or a file's stem in a folder).

    Returns:
        A ``DatasetDict`` with ``train``, ``validation`` and perhaps ``test``; each split has a
        ``text`` column and a ``ClassLabel`` ``label`` column. Empty or whitespace-only texts are
        dropped, with a logged count.
    """
    source = parse_data_source(source)
    splits_map = parse_splits_map(splits_map)
    files = _source_files(source, splits_map)
    if files is not None and (data_config or revision):
        raise LlmdiscError("data_config and revision name a Hub data set's config and version; "
                           f"{source!r} is local (drop them, or pass a Hub id)")
    columns = peek_columns(files["train"]) if files and files["train"].is_file() else None
    if columns is not None:  # a wrong column name: in milliseconds, before datasets is even imported
        _pick_column(columns, text_column, TEXT_COLUMNS, "text")
        _pick_column(columns, label_column, LABEL_COLUMNS, "label")
    import datasets
    raw = _load_raw(source, {"data_config": data_config, "revision": revision}, splits_map)
    columns = raw["train"].column_names
    text_col = _pick_column(columns, text_column, TEXT_COLUMNS, "text")
    label_col = _pick_column(columns, label_column, LABEL_COLUMNS, "label")
    for split, ds in raw.items():
        missing = [c for c in (text_col, label_col) if c not in ds.column_names]
        if missing:
            raise LlmdiscError(
                f"{split} split has no column {missing[0]!r}; columns found: {', '.join(ds.column_names)}"
            )

    for split in list(raw):
        values = raw[split][label_col]
        missing = sum(v is None or (isinstance(v, float) and np.isnan(v)) for v in values)
        unlabelled = sum(isinstance(v, (int, np.integer)) and v == -1 for v in values)
        if unlabelled == len(values) and split != "train":
            # GLUE-style hidden test labels (all -1): nothing to evaluate on.
            logger.warning("%s split has no labels (all -1); dropping it", split)
            del raw[split]
        elif missing:
            raise LlmdiscError(f"{split} split has {missing} rows with no label in column {label_col!r}; "
                               "fill them in or drop those rows")

    names = _label_names_for(raw["train"], label_col, label_names)
    if len(set(names)) != len(names):
        raise LlmdiscError(f"label names must be distinct, got {names}")
    int_names = _integer_label_map(raw["train"][label_col], names)

    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
    out = {}
    for split, ds in raw.items():
        texts = [t if isinstance(t, str) else ("" if t is None else str(t)) for t in ds[text_col]]
        labels = _encode_labels(ds, split, label_col, names, int_names)
        keep = [i for i, t in enumerate(texts) if t.strip()]
        if len(keep) < len(texts):
            logger.warning("%s: skipped %d empty or whitespace-only texts", split, len(texts) - len(keep))
        if not keep:
            raise LlmdiscError(f"{split} split has no non-empty texts; check --text-column ({text_col!r})")
        out[split] = datasets.Dataset.from_dict(
            {"text": [texts[i] for i in keep], "label": [labels[i] for i in keep]}, features=features
        )

    present = sorted(set(out["train"]["label"]))
    if len(present) < 2:
        only = names[present[0]] if present else "none"
        raise LlmdiscError(f"the training set has one class ({only!r}); a classifier needs at least two")

    if "validation" not in out and validation_size != 0:  # 0: carve none (evaluating a whole file)
        if not 0 < validation_size < 1:
            raise LlmdiscError(f"validation_size must be between 0 and 1, got {validation_size}")
        logger.info("no validation split: carving %.0f%% of train (stratified, seed %d)", 100 * validation_size, seed)
        if min(np.bincount(out["train"]["label"])[present]) < 2:
            raise LlmdiscError("a class has a single training example, so no stratified validation split can be "
                               "carved; add examples of it or pass a validation file")
        # At least one validation example per class, however small the fraction.
        n_val = max(round(len(out["train"]) * validation_size), len(present))
        if len(out["train"]) - n_val < len(present):
            raise LlmdiscError(
                f"train has {len(out['train'])} examples: too few to carve a validation split; "
                "add data or pass a validation file"
            )
        parts = out["train"].train_test_split(test_size=n_val, stratify_by_column="label", seed=seed)
        out["train"], out["validation"] = parts["train"], parts["test"]
    order = [s for s in ("train", "validation", "test") if s in out]
    return datasets.DatasetDict({s: out[s] for s in order})


def label_names(ds: datasets.Dataset | datasets.DatasetDict) -> list[str]:
    """The label names of a data set made by :func:`load_text_dataset`."""
    import datasets
    if isinstance(ds, datasets.DatasetDict):
        ds = ds["train"]
    return list(ds.features["label"].names)


def stratified_subset(ds: datasets.Dataset, n: int | None, seed: int = DEFAULT_SEED) -> datasets.Dataset:
    """A class-stratified random subset of ``n`` examples, nested across ``n`` for one seed.

    Each class gets a share proportional to its frequency, and at least one example while ``n``
    allows. For a fixed seed the subset of size ``n`` contains the subset of any smaller size, so
    learning curves compare like with like.

    Args:
        ds: a data set with a ``label`` column.
        n: the subset size; ``None`` or ``n >= len(ds)`` returns ``ds`` unchanged.
        seed: the random seed.

    Returns:
        The subset, in the original order of ``ds``.
    """
    if n is None or n >= len(ds):
        return ds
    if n <= 0:
        raise LlmdiscError(f"subset size must be positive, got {n}")
    labels = np.asarray(ds["label"])
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    perms = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    sizes = np.array([len(p) for p in perms], dtype=float)
    # One fixed sequence of class picks, whatever n is, so that smaller subsets are prefixes of
    # larger ones (nested): first one example of each class, most frequent first, then always the
    # class furthest below its proportional share.
    counts = np.zeros(len(classes), dtype=int)
    for c in np.argsort(-sizes, kind="stable")[:n]:
        counts[c] += 1
    for step in range(counts.sum(), n):
        deficit = (step + 1) * sizes / sizes.sum() - counts
        deficit[counts >= sizes] = -np.inf  # a class that is used up
        counts[int(np.argmax(deficit))] += 1
    chosen = np.concatenate([p[:k] for p, k in zip(perms, counts)])
    return ds.select(np.sort(chosen))


def hold_out(data: datasets.DatasetDict, n: int, seed: int = DEFAULT_SEED, name: str = "holdout") -> datasets.DatasetDict:
    """Move a stratified ``n`` training examples into a split of their own, for model selection.

    Checkpoints and temperatures picked on the split a report leads with flatter the approaches
    that pick; a held-out part of the training data avoids that when the data has only one
    labelled evaluation split (SST-2's validation, say). Training subsets are then drawn from the
    rest of ``train``.

    Args:
        data: a ``DatasetDict`` with a ``train`` split.
        n: how many training examples to hold out (fewer than the training split has).
        seed: the seed of the draw (independent of the subsets' seeds: the held-out examples
            are the same for every seed of a comparison).
        name: the new split's name.

    Returns:
        A new ``DatasetDict``: ``train`` without those examples, and ``name`` with them.
    """
    import datasets
    train = data["train"]
    if not 0 < n < len(train):
        raise LlmdiscError(f"cannot hold out {n} of the {len(train)} training examples; "
                           f"give a number between 1 and {len(train) - 1}")
    if name in data:
        raise LlmdiscError(f"the data already has a '{name}' split; use it as the selection split instead of holding out")
    # stratified_subset keeps the original order; a row-number column says which rows it chose.
    rows = np.asarray(stratified_subset(train.add_column("_row", list(range(len(train)))), n, seed)["_row"])
    rest = np.setdiff1d(np.arange(len(train)), rows)
    out = datasets.DatasetDict(dict(data))
    out["train"], out[name] = train.select(rest), train.select(rows)
    return out


@dataclass
class DataConfig:
    """Where the data comes from and how to read it; every recipe's config starts with these."""

    data: str | dict[str, str] = arg(
        DEMO_DATA, "'demo', a folder of train/validation/test files, a file, train=PATH,test=PATH, or a Hub id")
    text_column: str | None = arg(None, "text column (default: text, sentence, review, content or document)")
    label_column: str | None = arg(None, "label column (default: label or labels)")
    label_names: list[str] | None = arg(None, "label names, comma-separated: names integer labels 0..k-1 in order")
    validation_size: float = arg(0.1, "fraction of train held out when there is no validation split")
    seed: int = arg(DEFAULT_SEED, "random seed (subsets, splits, training)")
    data_config: str | None = arg(None, "a Hub data set's config name (sst2 of nyu-mll/glue)")
    # Not `revision`: `llmdisc evaluate --revision` already names the model's Hub revision.
    data_revision: str | None = arg(None, "a Hub data set's branch, tag or commit")
    splits_map: list[str] | dict[str, str] | None = arg(
        None, "which source split fills train/validation/test where names differ: validation=dev,test=eval")

    def load(self) -> datasets.DatasetDict:
        """Load the data set these settings describe (see :func:`load_text_dataset`)."""
        return load_text_dataset(
            self.data, text_column=self.text_column, label_column=self.label_column,
            label_names=self.label_names, validation_size=self.validation_size, seed=self.seed,
            data_config=self.data_config, revision=self.data_revision, splits_map=self.splits_map,
        )

    def describe(self) -> str:
        """A short name for the data, for reports and model cards."""
        if isinstance(self.data, Mapping):
            return ", ".join(f"{k}={v}" for k, v in self.data.items())
        if self.data in (DEMO_DATA, DEMO_TOPICS):
            return "llmdisc demo reviews" if self.data == DEMO_DATA else "llmdisc demo topics"
        config = f" ({self.data_config})" if self.data_config else ""
        return f"{self.data}{config}" + (f" @ {self.data_revision}" if self.data_revision else "")
