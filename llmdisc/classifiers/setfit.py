"""SetFit: a sentence encoder fine-tuned contrastively on pairs, then a logistic-regression head.

``SetFitClassifier`` runs the setfit library (Tunstall et al., 2022): from the few training
examples it draws pairs (same class: similar; different classes: dissimilar), fine-tunes the
sentence-transformers body on them, then fits scikit-learn's logistic regression on the tuned
embeddings. It is the few-shot discriminative baseline between ``embedding_lr`` (body frozen) and
``encoder`` (whole network trained on the labels directly).

The saved folder is setfit's own (``SetFitModel.save_pretrained``), so ``SetFitModel.from_pretrained``
loads it without llmdisc. Its ``model_head.pkl`` is a pickle, which setfit unpickles: llmdisc
never reads it, it loads the same head from ``head.skops`` through the exact allow-list.

llmdisc never calls ``SetFitModel.from_pretrained`` either, since it unpickles any
``model_head.pkl`` it finds (a folder or Hub repo passed as ``model`` could run code that way):
the body loads through sentence-transformers (``trust_remote_code=False``) and the head is a fresh
``LogisticRegression``, which training fits from scratch as setfit's would. A ``model`` folder's
``config_setfit.json`` is not read (``normalize_embeddings`` stays False, as llmdisc saves it).
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from llmdisc.classifiers.base import TextClassifier, register
from llmdisc.classifiers.sentence_encoders import encoder_hub_id, load_sentence_encoder, require
from llmdisc.classifiers.skops_files import load_logistic_head
from llmdisc.errors import LlmdiscError, first_line
from llmdisc.lm.devices import (
    check_placement,
    device_field,
    dtype_field,
    model_placement,
    place_for_inference,
    resolve_placement,
)
from llmdisc.lm.loading import NO_REMOTE_CODE, check_model_available, remote_code_error, resolve_model
from llmdisc.plumbing.config import arg

if TYPE_CHECKING:
    import datasets

__all__ = ["SetFitClassifier"]

logger = logging.getLogger(__name__)

HEAD_FILE = "head.skops"
#: setfit's pickled head: never loaded by llmdisc (see the module docstring).
PICKLED_HEAD = "model_head.pkl"


@register("setfit")
class SetFitClassifier(TextClassifier):
    """SetFit: contrastive fine-tuning of a sentence encoder, then logistic regression."""

    paradigm = "discriminative"
    description = (
        "SetFit: a sentence-transformers encoder fine-tuned contrastively on pairs of training "
        "examples, then logistic regression on its embeddings: models P(y|x)."
    )
    hub_library = "setfit"
    takes_seed = True

    @dataclass
    class Config:
        model: str = arg("minilm-l6", "the sentence encoder: an alias, a folder or a Hub id")
        num_iterations: int = arg(20, "pairs drawn per training example (setfit's num_iterations)")
        num_epochs: int = arg(1, "epochs of contrastive fine-tuning over the pairs")
        batch_size: int = arg(16, "pairs per contrastive step; also texts encoded at a time")
        seed: int = arg(0, "seed of the pair sampling and the fine-tuning")
        device: str = device_field()
        dtype: str = dtype_field()

    def _check(self, labels: list[str]) -> None:
        require("setfit", "setfit", self.name)
        check_placement(self.config.device, self.config.dtype)
        for name in ("num_iterations", "num_epochs", "batch_size"):
            if getattr(self.config, name) < 1:
                raise LlmdiscError(f"{self.name}.{name} must be at least 1, not {getattr(self.config, name)}")
        check_model_available(self.config.model)

    def _fit(self, texts: list[str], labels: np.ndarray, eval_data: datasets.Dataset | None) -> None:
        import datasets as hf_datasets
        from setfit import SetFitModel, Trainer, TrainingArguments
        from sklearn.linear_model import LogisticRegression
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        self._check(self.labels)
        c = self.config
        pickled = Path(resolve_model(c.model)) / PICKLED_HEAD
        if pickled.is_file():
            logger.warning("%s is a pickle, which llmdisc never loads: the head is trained afresh", pickled)
        # float32 weights for the contrastive fine-tuning; the dtype asked for applies to prediction.
        # Not SetFitModel.from_pretrained: it unpickles a model_head.pkl (see the module docstring).
        body = load_sentence_encoder(c.model, c.device, "float32")
        self.model = SetFitModel(model_body=body, model_head=LogisticRegression())
        with tempfile.TemporaryDirectory(prefix="llmdisc-setfit-") as tmp:  # setfit's checkpoints: none kept
            args = TrainingArguments(
                output_dir=tmp,
                num_iterations=c.num_iterations,
                num_epochs=c.num_epochs,
                batch_size=c.batch_size,
                seed=c.seed,
                report_to="none",
                save_strategy="no",
                show_progress_bar=False,
            )
            train = hf_datasets.Dataset.from_dict({"text": texts, "label": [int(y) for y in labels]})
            try:
                trainer = Trainer(model=self.model, args=args, train_dataset=train)
                # The Trainer inside printed a progress bar and each log as a raw dict
                # ({'embedding_loss': ...}) even with show_progress_bar off: a comparison's
                # console keeps llmdisc's lines only.
                trainer.remove_callback(PrinterCallback)
                trainer.remove_callback(ProgressCallback)
                with warnings.catch_warnings():
                    # setfit's inner Trainer pins memory with no way to say otherwise; torch then
                    # warns on every CPU-only run (pinning does nothing there).
                    warnings.filterwarnings(
                        "ignore", message=".*'pin_memory' argument is set as true", category=UserWarning
                    )
                    trainer.train()
            except ValueError as e:
                raise LlmdiscError(f"{self.name} could not be trained: {first_line(e)}; check its settings") from None
        place_for_inference(self.model.model_body, c.device, c.dtype)
        self.info.device, self.info.dtype = model_placement(self.model.model_body)

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        probs = np.zeros((len(texts), len(self.labels)))
        scores = self.model.predict_proba(texts, batch_size=self.config.batch_size, as_numpy=True)
        # The head only knows classes seen in training; unseen ones get probability 0.
        probs[:, self.model.model_head.classes_] = scores
        return probs

    def num_parameters(self) -> dict[str, int]:
        head = self.model.model_head
        n_head = int(head.coef_.size + head.intercept_.size)
        n = sum(p.numel() for p in self.model.model_body.parameters()) + n_head
        return {"total": int(n), "trainable": int(n)}

    def _save(self, folder: Path) -> None:
        import skops.io as sio

        self.model.save_pretrained(folder)
        sio.dump(self.model.model_head, folder / HEAD_FILE)

    def _load(self, folder: Path) -> None:
        from sentence_transformers import SentenceTransformer
        from setfit import SetFitModel

        head = load_logistic_head(folder / HEAD_FILE)
        self._check_saved_classes(head.classes_, folder / HEAD_FILE)
        try:
            placement = resolve_placement(self.config.device, self.config.dtype)
            body = SentenceTransformer(
                str(folder), device=placement.device_name, model_kwargs={"dtype": placement.dtype}, **NO_REMOTE_CODE
            )
        except (OSError, ValueError) as e:
            raise remote_code_error(str(folder), e) or LlmdiscError(
                f"{folder} holds no readable sentence encoder ({first_line(e, 200)}); save the model again"
            ) from None
        self.model = SetFitModel(model_body=body, model_head=head)

    def _encoder_id(self) -> str:
        return encoder_hub_id(self.config.model)

    def _card_approach(self) -> str:
        return f"{self.description} Base encoder: {self._encoder_id()}."

    def _card_usage(self, repo: str) -> tuple[str, str]:
        return (
            "setfit",
            f"""
import numpy as np
from setfit import SetFitModel

# Unpickles model_head.pkl: load only repos you trust (llmdisc itself reads head.skops instead).
model = SetFitModel.from_pretrained({repo!r})
labels = {self.labels!r}  # llmdisc_config.json; model.model_head.classes_ holds their indices
texts = ["a text to classify", "another one"]
probs = np.zeros((len(texts), len(labels)))
probs[:, model.model_head.classes_] = model.predict_proba(texts, as_numpy=True)
""",
        )

    def _card_limits(self) -> list[str]:
        return [
            "model_head.pkl is a pickle, which SetFitModel.from_pretrained runs: load only repos you trust.",
            "Texts beyond the encoder's maximum length (256 word pieces for MiniLM) are truncated.",
            "It inherits its base encoder's language coverage and biases.",
        ]
