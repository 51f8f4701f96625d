"""The comparison's settings: one dataclass, declared once with one default each.

``llmdisc compare`` fills it from a recipe and its flags (its own config adds the data, the
approaches and what the command does after the grid); :func:`llmdisc.compare` takes it whole, or
its fields as keywords (``compare(approaches, data, sizes=[8, 32, "all"], seeds=3)``). Adding a
setting is one field here: the flag, the recipe key, the keyword and the default follow from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llmdisc.lm.prompts import PromptSettings
from llmdisc.plumbing.config import SeedSettings, arg

__all__ = ["CompareSettings", "lead_split"]


@dataclass
class CompareSettings(PromptSettings, SeedSettings):
    """What a comparison runs, where it evaluates, and where it keeps its cells.

    ``seed`` (the first seed), ``verbalizers`` and ``task`` come from the base classes.
    """

    splits: list[str] = arg(["validation", "test"], "splits to evaluate on (missing ones are skipped)")
    sizes: list[str] = arg(["all"], "training-set sizes for the learning curves, e.g. 8,32,128,all")
    seeds: int = arg(1, "seeds per size (each draws its own subsets)")
    drop_rates: list[float] = arg([0.0, 0.1, 0.25, 0.5], "robustness: fractions of words dropped from the texts")
    robustness_split: str = arg("test", "the split whose words are dropped")
    robustness_examples: int | None = arg(None, "drop words from a stratified subset of this many examples")
    selection_split: str | None = arg(
        "validation",
        "split that Trainer approaches pick their checkpoint on and temperatures are fitted on "
        "(none: last checkpoint, no temperature)",
    )
    holdout: int | None = arg(
        None,
        "hold out N stratified training examples as the selection split "
        "(for data whose only other labelled split is the one reported)",
    )
    calibration: str = arg(
        "temperature",
        "calibrate each trained run on the selection split: temperature, platt, "
        "isotonic, auto (lowest cross-validated log loss there) or none",
    )
    output_dir: str | None = arg(
        None,
        "where the cached runs go (none: no cache); the command writes its report there too "
        "(its default: outputs/compare-demo)",
    )
    resume: bool = arg(False, "reuse the runs cached in OUTPUT_DIR (after an interruption, or to add approaches)")
    overwrite: bool = arg(False, "discard the runs cached in OUTPUT_DIR and start again")
    shard: str | None = arg(
        None,
        "run slice I of N of the grid only (1-based, e.g. 2/4), into a shared OUTPUT_DIR; "
        "then --resume without --shard writes the report",
    )


def lead_split(splits: Sequence[str]) -> str | None:
    """Of the evaluated ``splits``, the one the report leads with: ``test``, else the first.

    The comparison refuses a selection split equal to it, and the analysis reports on it.
    """
    return "test" if "test" in splits else (splits[0] if splits else None)
