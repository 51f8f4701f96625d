"""The comparison's disk cache: one JSON file (and a Parquet file of predictions) per grid cell.

A cell is one (approach, size, seed) of the grid. Its records are written under
``OUTPUT_DIR/runs/APPROACH/`` as soon as it finishes, so an interrupted comparison resumes where
it stopped; the folder's manifest (``comparison.json``) holds the data set and settings, and a
folder made with other ones is refused with the difference named, rather than silently mixed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmdisc.api.records import ZERO_SHOT, RunRecord
from llmdisc.classifiers import TextClassifier
from llmdisc.comparison.prediction_files import read_predictions, write_predictions
from llmdisc.comparison.synthetic_data import SyntheticSettings
from llmdisc.errors import LlmdiscError, first_line
from llmdisc.plumbing.atomic_files import write_json

__all__ = ["MANIFEST", "Cell", "RunCache", "settings_differences"]

MANIFEST = "comparison.json"

logger = logging.getLogger(__name__)


def settings_differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``key: old -> new`` for each (nested) key whose value differs."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "(unset)"), new.get(key, "(unset)")
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += settings_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a} -> {b}")
    return out


@dataclasses.dataclass
class Cell:
    """One (approach, size, seed) of the grid; ``size`` and ``seed`` are None for a zero-shot run."""

    name: str  # the entry's name (the variant)
    registered: str  # the registered approach
    cls: type[TextClassifier]
    paradigm: str
    config: dict[str, Any]  # the approach's settings, as given
    size: int | None
    seed: int | None
    robustness: bool = False  # measure the robustness curve here (the approach's largest size, first seed)
    synthetic: SyntheticSettings | None = None  # train on texts an LM generates (synthetic_data.py)
    largest: int | None = None  # the approach's largest size (its synthetic texts are generated for it)
    generation_seconds: float = 0.0  # generating this cell's synthetic texts: counted as training time
    # A zero-shot run that picks its prompt first: the (size, seed) of the training subset it picks on.
    pick: tuple[int, int] | None = None

    @property
    def key(self) -> dict[str, Any]:
        """What a cached result must have been made with (JSON-normalised: tuples become lists)."""
        extra = {"synthetic": dataclasses.asdict(self.synthetic)} if self.synthetic else {}
        if self.pick:
            extra["pick"] = {"size": self.pick[0], "seed": self.pick[1]}
        return json.loads(json.dumps({"approach": self.registered, **self.config, **extra}))

    @property
    def label(self) -> str:
        return ZERO_SHOT if self.size is None else f"size {self.size}, seed {self.seed}"


class RunCache:
    """One JSON file per (approach, size, seed) under ``folder/runs``, and a manifest of the run."""

    def __init__(
        self, folder: str | Path | None, manifest: dict[str, Any], resume: bool, overwrite: bool, shared: bool = False
    ) -> None:
        """``shared``: other processes or shards use the folder at the same time, so an
        identical manifest is theirs (no ``resume`` needed) and nothing may be discarded."""
        self.folder = Path(folder) if folder is not None else None
        self._warned: set[Path] = set()  # damaged files already named in a warning
        if self.folder is None:
            return
        path = self.folder / MANIFEST
        if shared and overwrite:
            raise LlmdiscError(
                "--overwrite cannot be shared by several processes or shards (one would discard "
                f"the others' runs); remove {self.folder} first, then start them"
            )
        if path.exists() and overwrite:
            shutil.rmtree(self.folder / "runs", ignore_errors=True)
        elif path.exists() and not resume and not shared:
            raise LlmdiscError(
                f"{self.folder} already holds a comparison; pass --resume to continue it "
                "(cached results are reused) or --overwrite to start again"
            )
        elif path.exists():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
                old = None
            if not isinstance(old, dict):
                raise LlmdiscError(
                    f"{path} is damaged, so {self.folder} cannot be resumed; pass --overwrite to start again "
                    "or use another --output-dir"
                )
            diff = settings_differences(old, manifest)
            if diff:
                raise LlmdiscError(
                    f"cannot resume {self.folder}: it was made with different settings "
                    f"({'; '.join(diff[:3])}); use another --output-dir or --overwrite"
                )
        # Accepted: from here on the folder is this comparison's (nothing above changed it).
        if not shared and (self.folder / "tmp").exists():
            logger.info("removing %s, left by an interrupted comparison", self.folder / "tmp")
            shutil.rmtree(self.folder / "tmp", ignore_errors=True)
        write_json(path, manifest)

    def _path(self, approach: str, size: int | None, seed: int | None) -> Path:
        name = ZERO_SHOT if size is None else f"n{size}-seed{seed}"
        return self.folder / "runs" / approach / f"{name}.json"

    def claim_path(self, cell: Cell) -> Path:
        """The file a process holds while it runs the cell."""
        return (
            self.folder
            / "claims"
            / self._path(cell.name, cell.size, cell.seed).relative_to(self.folder / "runs").with_suffix(".lock")
        )

    def _predictions_path(self, cell: Cell) -> Path:
        """The cell's per-example predictions: a Parquet file beside its JSON."""
        return self._path(cell.name, cell.size, cell.seed).with_suffix(".parquet")

    def get(self, cell: Cell) -> list[RunRecord] | None:
        """The cell's cached records, or None; an error if they were made with other settings.

        A cached cell that lacks the robustness curve this plan wants is a miss (the plan's
        largest size changed); one that has a curve this plan does not want loses it.
        """
        if self.folder is None:
            return None
        path = self._path(cell.name, cell.size, cell.seed)
        if not path.exists():
            return None
        again = f"running {cell.name}, {cell.label} again"
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(cached.get("config"), dict) or not isinstance(cached.get("records"), list):
                raise ValueError("not a cached cell")
        except (ValueError, AttributeError) as e:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
            self._damaged(path, e, again)
            return None
        diff = settings_differences(cached["config"], cell.key)
        if diff:
            raise LlmdiscError(
                f"cannot resume {self.folder}: {cell.name} was run with different settings "
                f"({'; '.join(diff[:3])}); use another --output-dir or --overwrite"
            )
        records = [RunRecord.from_dict(r, where=str(path)) for r in cached["records"]]
        if cell.robustness and not any(r.robustness is not None for r in records):
            return None
        # A cell cached without its predictions (by an older llmdisc, or a lost file) is run again.
        predictions = self._predictions_path(cell)
        if not predictions.is_file():
            return None
        try:
            if not read_predictions(predictions, records):
                return None
        except (OSError, ValueError, KeyError) as e:  # pyarrow's ArrowInvalid is a ValueError
            self._damaged(predictions, e, again)
            return None
        if not cell.robustness:
            for r in records:
                r.robustness = r.robustness_per_example = None
        return records

    def _damaged(self, path: Path, error: Exception, again: str) -> None:
        """Warn, once per file, that a cached cell is unreadable and will be run again."""
        if path not in self._warned:
            self._warned.add(path)
            logger.warning("%s is damaged (%s); %s", path, first_line(error, 120), again)

    def put(self, cell: Cell, records: list[RunRecord]) -> None:
        if self.folder is not None:
            path = self._path(cell.name, cell.size, cell.seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            # The predictions first: the JSON is what marks the cell done.
            predictions = write_predictions(records, self._predictions_path(cell))
            for r in records:
                r.predictions = predictions.relative_to(self.folder).as_posix()
            write_json(path, {"config": cell.key, "records": [r.to_dict() for r in records]})
