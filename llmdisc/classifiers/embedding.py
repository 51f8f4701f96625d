"""Frozen sentence embeddings + logistic regression: the cheapest use of a pretrained encoder.

``EmbeddingLogisticRegression`` encodes each text once with a sentence-transformers model (by
default the packaged all-MiniLM-L6-v2), never updating it, and fits scikit-learn's logistic
regression on the vectors. Against ``encoder`` (the whole network fine-tuned) it shows how much
of the gain is the pretrained representation and how much the fine-tuning.

Saved as ``model.skops`` (the logistic regression, loaded through the same exact allow-list as
the classical approaches) plus the encoder's alias, folder or Hub id in ``llmdisc_config.json``;
loading re-creates the encoder from that setting. An encoder from a local folder is saved too,
in ``encoder/``: that folder would not travel to the Hub, and may be gone when the model loads.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from llmdisc.classifiers.base import TextClassifier, register
from llmdisc.classifiers.class_weights import class_weight_indices, present_class_weight
from llmdisc.classifiers.sentence_encoders import encoder_hub_id, load_sentence_encoder, require
from llmdisc.classifiers.skops_files import MODEL_FILE, load_logistic_head
from llmdisc.errors import LlmdiscError, first_line
from llmdisc.lm.devices import check_placement, device_field, dtype_field, model_placement
from llmdisc.lm.loading import ALIASES, check_model_available, is_repo_id
from llmdisc.plumbing.config import arg

if TYPE_CHECKING:
    import datasets
    from sentence_transformers import SentenceTransformer

__all__ = [
    "EmbeddingLogisticRegression",
    "choose_c",
]

logger = logging.getLogger(__name__)

ENCODER_DIR = "encoder"
# The C search of choose_c, and its fallback (the middle of the plateau measured on SST-2).
C_GRID = np.logspace(-2, 4, 13)
CV_FOLDS = 5
FALLBACK_C = 100.0


def choose_c(features: np.ndarray, labels: np.ndarray, class_weight, max_iter: int) -> float:
    """Logistic regression's C, by cross-validated log loss on the training examples themselves.

    Unit-norm sentence embeddings need far less regularisation than scikit-learn's C = 1 (on
    SST-2 with 32 examples C = 1 scored 0.56, C = 10..1000 about 0.63: benchmarks/RESULTS.md, issue
    13). ``LogisticRegressionCV`` searches 13 values from 1e-2 to 1e4 with stratified folds, as
    many as the rarest class allows (at most 5); with a class of one example there is no fold to
    hold out, and C is :data:`FALLBACK_C`.

    Returns:
        The chosen C.
    """
    from sklearn.linear_model import LogisticRegressionCV

    folds = min(CV_FOLDS, int(np.bincount(labels)[np.unique(labels)].min()))
    if folds < 2:
        return FALLBACK_C
    search = LogisticRegressionCV(
        Cs=C_GRID, cv=folds, scoring="neg_log_loss", max_iter=max_iter, class_weight=class_weight
    )
    with warnings.catch_warnings():
        # scikit-learn >= 1.8 warns that l1_ratios' default becomes (0.0,) (plain L2, as now) and
        # that the fitted attributes will be simplified (C_ is read through np.ravel, either way).
        # Passing the new settings would make older versions warn or fail instead.
        for message in ("The default value for l1_ratios", "The fitted attributes of LogisticRegressionCV"):
            warnings.filterwarnings("ignore", message=message, category=FutureWarning)
        search.fit(features, labels)
    return float(np.ravel(search.C_)[0])


@register("embedding_lr")
class EmbeddingLogisticRegression(TextClassifier):
    """Logistic regression on frozen sentence embeddings."""

    paradigm = "discriminative"
    description = (
        "Logistic regression on frozen sentence embeddings (a sentence-transformers encoder, "
        "mean-pooled, not fine-tuned): models P(y|x) on a pretrained representation."
    )
    hub_library = "sentence-transformers"

    @dataclass
    class Config:
        model: str = arg("minilm-l6", "the sentence encoder: an alias, a folder or a Hub id")
        C: float | None = arg(
            None,
            "inverse L2 regularisation strength (default: chosen by cross-validated log "
            "loss on the training examples, 1e-2..1e4; 100 when a class has one example)",
        )
        max_iter: int = arg(1000, "solver iterations at most")
        class_weight: str | dict[str, float] | None = arg(
            None, "re-weight the classes: none, 'balanced' (inverse class frequency) or {label: weight} (YAML)"
        )
        batch_size: int = arg(32, "texts encoded at a time (memory, not results)")
        device: str = device_field()
        dtype: str = dtype_field()

    def _check(self, labels: list[str]) -> None:
        require("sentence_transformers", "sentence-transformers", self.name)
        check_placement(self.config.device, self.config.dtype)
        class_weight_indices(self.config.class_weight, labels, self.name)
        if self.config.batch_size < 1:
            raise LlmdiscError(f"{self.name}.batch_size must be at least 1, not {self.config.batch_size}")
        check_model_available(self.config.model)

    def _encoder(self) -> SentenceTransformer:
        if getattr(self, "encoder", None) is None:
            self.encoder = load_sentence_encoder(self.config.model, self.config.device, self.config.dtype)
            self.info.device, self.info.dtype = model_placement(self.encoder)
        return self.encoder

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(
            self._encoder().encode(
                texts, batch_size=self.config.batch_size, convert_to_numpy=True, show_progress_bar=False
            ),
            dtype=np.float64,
        )

    def _fit(self, texts: list[str], labels: np.ndarray, eval_data: datasets.Dataset | None) -> None:
        from sklearn.linear_model import LogisticRegression

        self._check(self.labels)  # fit may be called without check (a notebook)
        weights = present_class_weight(class_weight_indices(self.config.class_weight, self.labels, self.name), labels)
        features = self._embed(texts)
        try:
            c = (
                self.config.C
                if self.config.C is not None
                else choose_c(features, labels, weights, self.config.max_iter)
            )
            self.head = LogisticRegression(C=c, max_iter=self.config.max_iter, class_weight=weights).fit(
                features, labels
            )
        except ValueError as e:  # a bad C...
            raise LlmdiscError(f"{self.name} could not be trained: {first_line(e)}; check its settings") from None

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        probs = np.zeros((len(texts), len(self.labels)))
        # The regression only knows classes seen in training; unseen ones get probability 0.
        probs[:, self.head.classes_] = self.head.predict_proba(self._embed(texts))
        return probs

    def num_parameters(self) -> dict[str, int]:
        head = int(self.head.coef_.size + self.head.intercept_.size)
        encoder = sum(p.numel() for p in self._encoder().parameters())
        return {"total": head + int(encoder), "trainable": head}

    def _bundles_encoder(self) -> bool:
        """Whether the encoder is saved with the model (it comes from a local folder)."""
        return self.config.model not in ALIASES and not is_repo_id(self.config.model)

    def _save(self, folder: Path) -> None:
        import skops.io as sio

        sio.dump(self.head, folder / MODEL_FILE)
        if self._bundles_encoder():
            self._encoder().save(str(folder / ENCODER_DIR), create_model_card=False)

    def _load(self, folder: Path) -> None:
        head = load_logistic_head(folder / MODEL_FILE)
        self._check_saved_classes(head.classes_, folder / MODEL_FILE)
        self.head = head
        bundled = folder / ENCODER_DIR
        # Loaded now, so that a missing encoder fails here and not at the first prediction.
        self.encoder = load_sentence_encoder(
            str(bundled) if bundled.is_dir() else self.config.model, self.config.device, self.config.dtype
        )

    def _encoder_id(self) -> str:
        return encoder_hub_id(self.config.model)

    def _card_approach(self) -> str:
        how = "set" if self.config.C is not None else "chosen by cross-validated log loss on the training examples"
        return f"{self.description} Encoder: {self._encoder_id()}. Regularisation: C = {self.head.C:.4g} ({how})."

    def _card_usage(self, repo: str) -> tuple[str, str]:
        if self._bundles_encoder():  # saved in the folder's encoder/
            encoder = (
                f'os.path.join(repo, "{ENCODER_DIR}") if os.path.isdir(repo) else '
                f'os.path.join(snapshot_download(repo, allow_patterns=["{ENCODER_DIR}/*"]), "{ENCODER_DIR}")'
            )
        else:
            encoder = repr(self._encoder_id())
        return (
            "sentence-transformers, scikit-learn and skops",
            f"""
import os

import numpy as np
import skops.io as sio
from huggingface_hub import hf_hub_download, snapshot_download
from sentence_transformers import SentenceTransformer

repo = {repo!r}
path = os.path.join(repo, "{MODEL_FILE}") if os.path.isdir(repo) else hf_hub_download(repo, "{MODEL_FILE}")
# skops trusts scikit-learn's and numpy's types; refuse a file that holds any other type.
untrusted = sio.get_untrusted_types(file=path)
if untrusted:
    raise ValueError(f"{{path}} holds types llmdisc never saves: {{untrusted}}; do not load it")
head = sio.load(path, trusted=[])
encoder = SentenceTransformer({encoder})
labels = {self.labels!r}  # llmdisc_config.json; head.classes_ holds their indices
texts = ["a text to classify", "another one"]
probs = np.zeros((len(texts), len(labels)))
probs[:, head.classes_] = head.predict_proba(encoder.encode(texts, batch_size={self.config.batch_size}))
""",
        )

    def _card_limits(self) -> list[str]:
        return [
            "The encoder is frozen: what its embeddings do not separate, the linear head cannot learn.",
            "Texts beyond the encoder's maximum length (256 word pieces for MiniLM) are truncated.",
            "It inherits its encoder's language coverage and biases.",
        ]
