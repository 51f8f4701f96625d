"""The majority-class baseline: the training class prior, whatever the text.

Every comparison holds it as a row (free: counting the training labels is all its training), so
the verdict can say when the best approach is not shown better than always answering the most
frequent class, and name the approaches shown worse than that. Its probabilities are the
training subset's class frequencies; its prediction is their most frequent class (the first of
those tied, on balanced data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from llmdisc.classifiers.base import TextClassifier, register
from llmdisc.errors import LlmdiscError

if TYPE_CHECKING:
    import datasets

__all__ = ["MajorityClassifier", "PRIOR_FILE"]

PRIOR_FILE = "prior.json"


@register("majority")
class MajorityClassifier(TextClassifier):
    """Predicts the training class prior for every text: the floor under every verdict."""

    paradigm = "baseline"
    description = "The training class prior for every text (always the most frequent class): a floor, not a model."

    @dataclass
    class Config:
        """No settings: the prior is counted from the training labels."""

    def _fit(self, texts: list[str], labels: np.ndarray, eval_data: datasets.Dataset | None) -> None:
        counts = np.bincount(labels, minlength=len(self.labels)).astype(np.float64)
        self.prior = counts / counts.sum()

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        return np.tile(self.prior, (len(texts), 1))

    def num_parameters(self) -> dict[str, int]:
        return {"total": len(self.labels), "trainable": len(self.labels)}

    def _card_usage(self, repo: str) -> tuple[str, str]:
        return (
            "numpy",
            f"""
import json
import os

import numpy as np
from huggingface_hub import hf_hub_download

repo = {repo!r}
path = os.path.join(repo, "{PRIOR_FILE}") if os.path.isdir(repo) else hf_hub_download(repo, "{PRIOR_FILE}")
with open(path) as f:
    prior = np.array(json.load(f))  # the training class frequencies, in the order of the labels
labels = {self.labels!r}
texts = ["a text to classify", "another one"]
probs = np.tile(prior, (len(texts), 1))  # the same for every text
""",
        )

    def _save(self, folder: Path) -> None:
        (folder / PRIOR_FILE).write_text(json.dumps([float(p) for p in self.prior]), encoding="utf-8")

    def _load(self, folder: Path) -> None:
        path = folder / PRIOR_FILE
        try:
            prior = np.asarray(json.loads(path.read_text(encoding="utf-8")), dtype=np.float64)
        except (OSError, ValueError, TypeError):
            raise LlmdiscError(f"{folder} has no readable {PRIOR_FILE}; save the model again") from None
        if prior.shape != (len(self.labels),) or not np.isclose(prior.sum(), 1.0) or (prior < 0).any():
            raise LlmdiscError(f"{path} is not a class prior over the model's {len(self.labels)} labels")
        self.prior = prior
