"""Labelled text data sets: load from anywhere, normalise to ``text`` + ``label``.

Whatever the source (the built-in demo set, a folder of split files, explicit files, or a Hub
id), :func:`load_text_dataset` returns a :class:`datasets.DatasetDict` with exactly two columns:
``text`` (str) and ``label`` (a :class:`datasets.ClassLabel`, so the label names travel with the
data). It always has ``train`` and ``validation`` splits, and ``test`` when the source has one.

Every problem a user can fix is a one-line :class:`~llmdisc.errors.LlmdiscError`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from llmdisc.data.files import (
    DEMO_DATA,
    DEMO_TOPICS,
    SPLIT_NAMES,
    parse_data_source,
    parse_splits_map,
    peek_columns,
    read_data_file,
    source_files,
)
from llmdisc.errors import LlmdiscError, first_line
from llmdisc.plumbing.config import SeedSettings, arg, replace_config
from llmdisc.plumbing.offline import hub_reachable

if TYPE_CHECKING:
    import datasets

__all__ = ["DataConfig", "LABEL_COLUMNS", "TEXT_COLUMNS", "label_names", "load_text_dataset", "pick_column"]

logger = logging.getLogger(__name__)

TEXT_COLUMNS = ("text", "sentence", "review", "content", "document")
LABEL_COLUMNS = ("label", "labels")


def _load_raw(
    source: str | Mapping[str, str], hub: Mapping[str, str | None], splits_map: Mapping[str, str]
) -> datasets.DatasetDict:
    """Load the splits of ``source`` without touching their columns."""
    import datasets

    files = source_files(source, splits_map)
    if files is None:
        return _load_hub(source, hub.get("data_config"), hub.get("revision"), splits_map)
    return datasets.DatasetDict({split: read_data_file(path) for split, path in files.items()})


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
        f"{first_line(error, 160)}); check the id and your connection, or pass a local folder, files, or 'demo'"
    )


def _load_hub(
    repo_id: str,
    config_name: str | None = None,
    revision: str | None = None,
    splits_map: Mapping[str, str] | None = None,
) -> datasets.DatasetDict:
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


def pick_column(columns: Sequence[str], wanted: str | None, candidates: Sequence[str], kind: str) -> str:
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


def _label_names_for(train: datasets.Dataset, column: str, given: Sequence[str] | None, values: list) -> list[str]:
    """Label names: given, from a ClassLabel feature, or the sorted distinct ``values`` of train."""
    import datasets

    feature = train.features[column]
    if given:
        return [str(n).strip() for n in given]
    if isinstance(feature, datasets.ClassLabel):
        return list(feature.names)
    return [str(v) for v in sorted(set(values))]


def _not_scalar(values: Sequence, split: str, column: str, what: str, fix: str) -> None:
    """A one-line error for a column of lists or mappings (a text's ``str`` would be their repr)."""
    bad = next((i for i, v in enumerate(values) if isinstance(v, (list, tuple, dict))), None)
    if bad is not None:
        kind = "mappings" if isinstance(values[bad], dict) else "lists"
        raise LlmdiscError(
            f"{split} split: column {column!r} holds {kind}, not {what} (row {bad + 1}: {values[bad]!r:.60}); {fix}"
        )


def _label_values(raw: Mapping[str, datasets.Dataset], column: str) -> dict[str, list]:
    """Each split's raw labels, string labels stripped of surrounding spaces (with one note of how many).

    ``"pos "`` and ``"pos"`` are one label: left apart they were two classes of one.
    """
    out, changed, example = {}, 0, None
    for split, ds in raw.items():
        values = ds[column]
        _not_scalar(
            values,
            split,
            column,
            "one label per row (multi-label data is not supported)",
            "pass --label-column with a single-label column",
        )
        stripped = [v.strip() if isinstance(v, str) else v for v in values]
        for before, after in zip(values, stripped):
            if before != after:
                changed, example = changed + 1, example or (before, after)
        out[split] = stripped
    if changed:
        logger.warning("stripped the spaces around %d labels (such as %r -> %r)", changed, *example)
    return out


def _integer_label_map(values: Sequence, names: list[str]) -> dict[int, int] | None:
    """For integer labels: identity when they are 0..k-1, else their sorted values in order."""
    if not len(values) or isinstance(values[0], str):
        return None
    distinct = sorted({int(v) for v in values})
    if all(0 <= v < len(names) for v in distinct):
        return {i: i for i in range(len(names))}
    if len(distinct) != len(names):
        raise LlmdiscError(
            f"train has {len(distinct)} distinct integer labels {distinct[:10]} but "
            f"{len(names)} label names {names}; pass one name per label"
        )
    return {v: i for i, v in enumerate(distinct)}  # e.g. star ratings 1..5


def _encode_labels(values: Sequence, split: str, names: list[str], int_names: dict[int, int] | None) -> list[int]:
    """Map a split's raw labels to indices into ``names``; unknown labels are an error."""
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
    source: str | Mapping[str, str] = DEMO_DATA, settings: DataConfig | None = None, **options: Any
) -> datasets.DatasetDict:
    """Load a labelled text data set and normalise it to ``text`` + ``label`` columns.

    Args:
        source: ``"demo"`` (the built-in reviews), ``"demo-topics"`` (four topics), a folder holding
            ``train``/``validation`` (or ``dev``)/``test`` files, one file (used as train), a mapping
            of split to file, or a Hugging Face Hub id. Files may be csv, tsv, json, jsonl or parquet.
        settings: how to read it, a :class:`DataConfig` (its ``data`` is ignored: ``source`` wins).
        **options: any field of :class:`DataConfig` as a keyword, replacing the settings' value:
            ``text_column`` (by default the only one of ``text``/``sentence``/``review``/``content``/
            ``document`` present), ``label_column`` (``label`` or ``labels``), ``label_names`` (for
            integer labels ``label_names[i]`` names label ``i``; for string labels it fixes their
            order; by default a ``ClassLabel``'s names, else the sorted distinct training labels),
            ``validation_size`` (the fraction of train carved off, stratified, when there is no
            validation split; 0 carves none), ``seed`` (of that carving), ``data_config`` (a Hub
            data set's config name, ``sst2`` of ``nyu-mll/glue``), ``data_revision`` (its branch,
            tag or commit; ``revision`` is accepted too), ``splits_map`` (which split of the
            source fills llmdisc's ``train``/``validation``/``test`` where the names differ:
            ``{"validation": "dev"}`` or ``"validation=dev,test=eval"``).

    Returns:
        A ``DatasetDict`` with ``train``, ``validation`` and perhaps ``test``; each split has a
        ``text`` column and a ``ClassLabel`` ``label`` column. Empty or whitespace-only texts are
        dropped, with a logged count.
    """
    if "revision" in options:  # the keyword's name before DataConfig named it data_revision
        options["data_revision"] = options.pop("revision")
    settings = replace_config(settings if settings is not None else DataConfig(), options, "load_text_dataset option")
    source, splits_map = _check_local(source, settings)
    import datasets

    raw = _load_raw(source, {"data_config": settings.data_config, "revision": settings.data_revision}, splits_map)
    text_col, label_col, label_values = _columns_and_labels(raw, settings)
    names = _label_names_for(raw["train"], label_col, settings.label_names, label_values["train"])
    if len(set(names)) != len(names):
        raise LlmdiscError(f"label names must be distinct, got {names}")
    int_names = _integer_label_map(label_values["train"], names)
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
    out = {}
    for split, ds in raw.items():
        texts = ds[text_col]
        _not_scalar(texts, split, text_col, "texts", "pick the text column with --text-column")
        texts = [t if isinstance(t, str) else ("" if t is None else str(t)) for t in texts]
        labels = _encode_labels(label_values[split], split, names, int_names)
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
    if "validation" not in out and settings.validation_size != 0:  # 0: carve none (evaluating a whole file)
        out["train"], out["validation"] = _carve_validation(out["train"], present, settings)
    order = [s for s in ("train", "validation", "test") if s in out]
    return datasets.DatasetDict({s: out[s] for s in order})


def _check_local(source: str | Mapping[str, str], settings: DataConfig) -> tuple[Any, dict[str, str]]:
    """(the parsed source, the splits map), after the checks a local source allows in milliseconds,
    before datasets is even imported: Hub-only settings, and the columns' names."""
    source = parse_data_source(source)
    splits_map = parse_splits_map(settings.splits_map)
    files = source_files(source, splits_map)
    if files is not None and (settings.data_config or settings.data_revision):
        raise LlmdiscError(
            "data_config and revision name a Hub data set's config and version; "
            f"{source!r} is local (drop them, or pass a Hub id)"
        )
    columns = peek_columns(files["train"]) if files and files["train"].is_file() else None
    if columns is not None:
        pick_column(columns, settings.text_column, TEXT_COLUMNS, "text")
        pick_column(columns, settings.label_column, LABEL_COLUMNS, "label")
    return source, splits_map


def _columns_and_labels(raw: dict, settings: DataConfig) -> tuple[str, str, dict[str, list]]:
    """(the text column, the label column, split -> its label values); splits whose labels are all
    hidden (-1) are dropped from ``raw``, and a missing column or label is one line."""
    columns = raw["train"].column_names
    text_col = pick_column(columns, settings.text_column, TEXT_COLUMNS, "text")
    label_col = pick_column(columns, settings.label_column, LABEL_COLUMNS, "label")
    for split, ds in raw.items():
        missing = [c for c in (text_col, label_col) if c not in ds.column_names]
        if missing:
            raise LlmdiscError(
                f"{split} split has no column {missing[0]!r}; columns found: {', '.join(ds.column_names)}"
            )
    label_values = _label_values(raw, label_col)
    for split in list(raw):
        values = label_values[split]
        missing = sum(v is None or v == "" or (isinstance(v, float) and np.isnan(v)) for v in values)
        unlabelled = sum(isinstance(v, (int, np.integer)) and v == -1 for v in values)
        if unlabelled == len(values) and split != "train":
            # GLUE-style hidden test labels (all -1): nothing to evaluate on.
            logger.warning("%s split has no labels (all -1); dropping it", split)
            del raw[split], label_values[split]
        elif missing:
            raise LlmdiscError(
                f"{split} split has {missing} rows with no label in column {label_col!r}; "
                "fill them in or drop those rows"
            )
    return text_col, label_col, label_values


def _carve_validation(train: datasets.Dataset, present: list[int], settings: DataConfig) -> tuple[Any, Any]:
    """(train, validation): a stratified ``validation_size`` of ``train``, at least one example a class."""
    size, seed = settings.validation_size, settings.seed
    if not 0 < size < 1:
        raise LlmdiscError(f"validation_size must be between 0 and 1, got {size}")
    logger.info("no validation split: carving %.0f%% of train (stratified, seed %d)", 100 * size, seed)
    if min(np.bincount(train["label"])[present]) < 2:
        raise LlmdiscError(
            "a class has a single training example, so no stratified validation split can be "
            "carved; add examples of it or pass a validation file"
        )
    n_val = max(round(len(train) * size), len(present))  # at least one example per class
    if len(train) - n_val < len(present):
        raise LlmdiscError(
            f"train has {len(train)} examples: too few to carve a validation split; add data or pass a validation file"
        )
    parts = train.train_test_split(test_size=n_val, stratify_by_column="label", seed=seed)
    return parts["train"], parts["test"]


def label_names(ds: datasets.Dataset | datasets.DatasetDict) -> list[str]:
    """The label names of a data set made by :func:`load_text_dataset`."""
    import datasets

    if isinstance(ds, datasets.DatasetDict):
        ds = ds["train"]
    return list(ds.features["label"].names)


@dataclass
class DataConfig(SeedSettings):
    """Where the data comes from and how to read it; every recipe's config starts with these."""

    data: str | dict[str, str] = arg(
        DEMO_DATA, "'demo', a folder of train/validation/test files, a file, train=PATH,test=PATH, or a Hub id"
    )
    text_column: str | None = arg(None, "text column (default: text, sentence, review, content or document)")
    label_column: str | None = arg(None, "label column (default: label or labels)")
    label_names: list[str] | None = arg(None, "label names, comma-separated: names integer labels 0..k-1 in order")
    validation_size: float = arg(0.1, "fraction of train held out when there is no validation split")
    data_config: str | None = arg(None, "a Hub data set's config name (sst2 of nyu-mll/glue)")
    # Not `revision`: `llmdisc evaluate --revision` already names the model's Hub revision.
    data_revision: str | None = arg(None, "a Hub data set's branch, tag or commit")
    splits_map: list[str] | dict[str, str] | None = arg(
        None, "which source split fills train/validation/test where names differ: validation=dev,test=eval"
    )

    def load(self) -> datasets.DatasetDict:
        """Load the data set these settings describe (see :func:`load_text_dataset`)."""
        return load_text_dataset(self.data, self)

    def describe(self) -> str:
        """A short name for the data, for reports and model cards."""
        if isinstance(self.data, Mapping):
            return ", ".join(f"{k}={v}" for k, v in self.data.items())
        if self.data in (DEMO_DATA, DEMO_TOPICS):
            return "llmdisc demo reviews" if self.data == DEMO_DATA else "llmdisc demo topics"
        config = f" ({self.data_config})" if self.data_config else ""
        return f"{self.data}{config}" + (f" @ {self.data_revision}" if self.data_revision else "")
