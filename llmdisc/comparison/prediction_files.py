"""Per-example predictions in Parquet: one file per comparison cell, and one export of them all.

Each row is one example of one run: who ran (``variant``, ``approach``, ``paradigm``, ``size``,
``seed``), where (``split``, ``drop_rate``: null on the clean texts, the word-drop rate on the
robustness copies), ``index`` (the example's position in the split), ``label`` (its gold id)
and one float32 ``prob_LABEL`` column per label. The identity columns are constant within a
cell's file and cost almost nothing once compressed; they make every file, and the export, one
table that ``datasets.load_dataset("parquet", data_files=...)`` or pandas reads as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from llmdisc.api.records import Predictions, RunRecord
from llmdisc.plumbing.atomic_files import atomic_file

__all__ = ["PROB_PREFIX", "prediction_table", "write_predictions", "read_predictions", "attach_predictions"]

#: The prefix of the probability columns (``prob_positive``).
PROB_PREFIX = "prob_"


def _rows(record: RunRecord) -> list[tuple[float | None, Predictions]]:
    """(drop rate or None, predictions) for each set of predictions the record holds."""
    out = [(None, record.per_example)] if record.per_example is not None else []
    out += [(float(rate), p) for rate, p in (record.robustness_per_example or {}).items()]
    return out


def prediction_table(records: Sequence[RunRecord]):
    """The records' per-example predictions as one ``pyarrow.Table`` (rows as described above).

    Args:
        records: records holding ``per_example`` (others add no rows); all with the same labels.

    Returns:
        The table; empty (with the identity columns only) when no record holds predictions.
    """
    import pyarrow as pa

    labels = next((r.labels for r in records if r.per_example is not None), [])
    columns: dict[str, list] = {
        k: [] for k in ("variant", "approach", "paradigm", "size", "seed", "split", "drop_rate", "index", "label")
    }
    probs = []
    for r in records:
        for rate, p in _rows(r):
            n = len(p.index)
            for key, value in (
                ("variant", r.variant),
                ("approach", r.approach),
                ("paradigm", r.paradigm),
                ("size", r.size),
                ("seed", r.seed),
                ("split", r.split),
                ("drop_rate", rate),
            ):
                columns[key].append(np.full(n, value, dtype=object))
            columns["index"].append(np.asarray(p.index))
            columns["label"].append(np.asarray(p.gold))
            probs.append(np.asarray(p.probabilities, dtype=np.float32))
    types = {
        "variant": pa.string(),
        "approach": pa.string(),
        "paradigm": pa.string(),
        "size": pa.int32(),
        "seed": pa.int32(),
        "split": pa.string(),
        "drop_rate": pa.float64(),
        "index": pa.int32(),
        "label": pa.int32(),
    }
    arrays = {k: pa.array(np.concatenate(v) if v else [], type=types[k], from_pandas=True) for k, v in columns.items()}
    stacked = np.concatenate(probs) if probs else np.zeros((0, len(labels)), dtype=np.float32)
    for j, name in enumerate(labels):
        arrays[f"{PROB_PREFIX}{name}"] = pa.array(stacked[:, j], type=pa.float32())
    return pa.table(arrays)


def write_predictions(records: Sequence[RunRecord], path: str | Path) -> Path:
    """Write the records' predictions to ``path`` (Parquet, zstd), atomically; the folder must exist."""
    import pyarrow.parquet as pq

    path = Path(path)
    with atomic_file(path) as tmp:
        pq.write_table(prediction_table(records), tmp, compression="zstd")
    return path


def read_predictions(path: str | Path, records: Sequence[RunRecord]) -> bool:
    """Attach the predictions stored in ``path`` to the records they belong to (by variant, size,
    seed and split); return whether every record found its clean predictions."""
    import pyarrow.parquet as pq

    table = pq.read_table(path).to_pandas()
    found = True
    probs = [c for c in table.columns if c.startswith(PROB_PREFIX)]
    for r in records:
        mine = table[
            (table["variant"] == r.variant)
            & (table["split"] == r.split)
            & (table["size"].isna() if r.size is None else table["size"] == r.size)
            & (table["seed"].isna() if r.seed is None else table["seed"] == r.seed)
        ]
        by_rate: dict[float | None, Predictions] = {}
        for rate, rows in mine.groupby(mine["drop_rate"].fillna(-1.0), sort=False):
            by_rate[None if rate < 0 else float(rate)] = Predictions(
                rows["index"].to_numpy(np.int64), rows["label"].to_numpy(np.int64), rows[probs].to_numpy(np.float32)
            )
        r.per_example = by_rate.pop(None, None)
        found = found and (r.per_example is not None or not r.ok)
        if r.robustness is not None:
            keys = {float(k): k for k in r.robustness}
            r.robustness_per_example = {keys[rate]: p for rate, p in by_rate.items() if rate in keys} or None
    return found


def attach_predictions(records: Sequence[RunRecord], root: str | Path) -> None:
    """Load the predictions of records read back from ``results.json`` (their ``predictions`` path is
    relative to ``root``, the comparison's output folder); records without a file are left alone."""
    paths: dict[str, list[RunRecord]] = {}
    for r in records:
        if r.predictions and r.per_example is None:
            paths.setdefault(r.predictions, []).append(r)
    for rel, group in paths.items():
        if (Path(root) / rel).is_file():
            read_predictions(Path(root) / rel, group)
