"""The discriminative workhorse: a pretrained encoder fine-tuned with a classification head.

``EncoderClassifier`` learns P(y|x) directly: the text goes through a BERT-style encoder, a
linear head reads it, and cross-entropy trains both. Any model that
``AutoModelForSequenceClassification`` supports and that is an encoder (BERT, DistilBERT,
RoBERTa, MiniLM...) works; the default is the packaged all-MiniLM-L6-v2.

``pooling`` says what the head reads: ``cls``, transformers' own head (the first token through
the model's pooler), or ``mean``, the attention-masked mean of the token vectors that
sentence-embedding models such as MiniLM were trained to produce
(:mod:`~llmdisc.classifiers.mean_pooling`).

With ``cls`` the saved folder is a standard transformers folder (``config.json`` with
``id2label``, ``model.safetensors``, the tokenizer), so ``pipeline("text-classification",
model=folder)`` works on it with no llmdisc installed; with ``mean`` (the default) it is the
encoder's own folder (``AutoModel`` loads it) plus the head's ``classification_head.safetensors``.
No transformers architecture reads a BERT encoder's masked mean, so ``pipeline()`` does not load a
``mean`` folder: it would put a fresh random head on the encoder (0.5/0.5 on two labels, with only
a load warning). Its model card therefore claims neither ``library_name: transformers`` nor a
``pipeline_tag`` (the Hub's widget would do the same), and says what loads it:
``llmdisc.TextClassifier.from_pretrained``, or the card's few lines of transformers code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from llmdisc.classifiers.base import TextClassifier, register
from llmdisc.classifiers.class_weights import class_weight_indices, class_weight_vector
from llmdisc.classifiers.logits import predict_logits, tokenize_texts
from llmdisc.errors import LlmdiscError, first_line
from llmdisc.hub.repos import ModelCardInfo
from llmdisc.lm.devices import model_placement, place_for_inference
from llmdisc.lm.loading import (
    NO_REMOTE_CODE,
    check_model_available,
    load_model,
    load_model_config,
    remote_code_error,
)
from llmdisc.metrics.classification import softmax
from llmdisc.plumbing.config import arg
from llmdisc.training.trainer import TrainerSettings, TrainingTask, check_run_options, train_model

if TYPE_CHECKING:
    import datasets

__all__ = ["EncoderClassifier"]

logger = logging.getLogger(__name__)

#: ``pooling`` settings: what the classification head reads.
POOLINGS = ("mean", "cls")
DEFAULT_POOLING = "mean"
#: The model card's first limit for a ``mean`` folder: what does not load it, and what does.
MEAN_POOLING_LIMIT = (
    '`transformers.pipeline("text-classification")` does not load this folder correctly: no transformers '
    "architecture reads the mean of the token vectors, so it would put a fresh, random head on the encoder. "
    "Load it with llmdisc (`TextClassifier.from_pretrained`) or with the transformers code above."
)


def _check_encoder(name: str) -> None:
    """A clear error for a model that is not an encoder or has no classification head."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
        MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
    )

    model_type = load_model_config(name).model_type
    if model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        raise LlmdiscError(
            f"model '{name}' (type '{model_type}') has no sequence-classification head in "
            "transformers; pick a BERT-style encoder such as minilm-l6"
        )
    # Encoders are the models with a masked-LM head; decoders (gpt2, llama) have none.
    if model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        raise LlmdiscError(
            f"model '{name}' (type '{model_type}') is not an encoder; the encoder approach takes "
            "BERT-style models (use lora for decoder LMs such as gpt2 or llama)"
        )


@register("encoder")
class EncoderClassifier(TextClassifier):
    """A fine-tuned BERT-style encoder with a classification head (P(y|x))."""

    paradigm = "discriminative"
    description = "A pretrained encoder fine-tuned with a classification head: models P(y|x) directly."
    hub_library = "transformers"
    takes_seed = True
    checkpoints = True

    @dataclass
    class Config(TrainerSettings):
        model: str = arg("minilm-l6", "encoder: an alias, a folder or a Hub id")
        pooling: str = arg(
            DEFAULT_POOLING,
            "what the head reads: mean (the attention-masked mean of the token "
            "vectors, as sentence-embedding models are trained) or cls (the "
            "first token through the model's pooler: transformers' own head)",
        )

    def _check(self, labels: list[str]) -> None:
        if self.config.pooling not in POOLINGS:
            raise LlmdiscError(f"unknown pooling '{self.config.pooling}'; use one of {', '.join(POOLINGS)}")
        class_weight_indices(self.config.class_weight, labels, self.name)
        check_run_options(self.config)
        check_model_available(self.config.model)
        _check_encoder(self.config.model)

    def _fit(self, texts: list[str], labels: np.ndarray, eval_data: datasets.Dataset | None) -> None:
        from transformers import DataCollatorWithPadding, set_seed

        from llmdisc.classifiers.mean_pooling import (
            MeanPooledClassifier,
        )  # torch: not at import (the CLI answers at once)

        c = self.config
        _check_encoder(c.model)
        set_seed(c.seed)  # the new classification head is initialised from the global RNG
        id2label = dict(enumerate(self.labels))
        # float32 weights for training; a half dtype runs as mixed precision, then for prediction.
        if c.pooling == "mean":
            encoder, self.tokenizer = load_model(c.model, task="base", device=c.device, dtype="float32")
            self.model = MeanPooledClassifier(encoder, id2label)
        else:
            self.model, self.tokenizer = load_model(
                c.model,
                task="sequence-classification",
                num_labels=len(self.labels),
                id2label=id2label,
                label2id={v: k for k, v in id2label.items()},
                # A checkpoint fine-tuned with another number of labels gets a fresh head.
                ignore_mismatched_sizes=True,
                device=c.device,
                dtype="float32",
            )
        limit = getattr(self.model.config, "max_position_embeddings", None) or c.max_length
        if c.max_length > limit:
            logger.warning("max_length %d exceeds %s's %d positions; using %d", c.max_length, c.model, limit, limit)
            c.max_length = limit
        train_ds = self._tokenized(texts, labels, "train")
        eval_ds = None
        if eval_data is not None:
            eval_ds = self._tokenized(list(eval_data["text"]), np.asarray(eval_data["label"]), "validation")
        run = train_model(
            self.model,
            self.tokenizer,
            train_ds,
            eval_ds,
            c,
            TrainingTask(
                DataCollatorWithPadding(self.tokenizer),
                class_weights=class_weight_vector(c.class_weight, self.labels, labels, self.name),
            ),
        )
        self.info.trainer = run
        place_for_inference(self.model, c.device, c.dtype).eval()
        self.info.device, self.info.dtype = model_placement(self.model)

    def _tokenized(self, texts: list[str], labels: np.ndarray, split: str) -> datasets.Dataset:
        import datasets

        enc, n_truncated = tokenize_texts(self.tokenizer, texts, self.config.max_length, split)
        self.info.truncated[split] = n_truncated
        # `length` feeds the length-grouped sampler; Trainer drops it before the forward pass.
        return datasets.Dataset.from_dict(
            {**enc, "labels": labels.tolist(), "length": [len(ids) for ids in enc["input_ids"]]}
        )

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        logits, _ = predict_logits(
            self.model, self.tokenizer, texts, self.config.max_length, self.config.eval_batch_size
        )
        return softmax(logits)

    def num_parameters(self) -> dict[str, int]:
        return {
            "total": sum(p.numel() for p in self.model.parameters()),
            "trainable": sum(p.numel() for p in self.model.parameters() if p.requires_grad),
        }

    def _card_approach(self) -> str:
        read = (
            "the mean of its token vectors (padding excluded)"
            if self.config.pooling == "mean"
            else "the first token's vector, through the model's pooler,"
        )
        return (
            f"{self.description} The text goes through the encoder; {read} feeds a linear "
            f"head over the {len(self.labels)} labels, and cross-entropy trains both."
        )

    def _card_usage(self, repo: str) -> tuple[str, str]:
        from llmdisc.classifiers.mean_pooling import HEAD_FILE  # torch: not at import (the CLI answers at once)

        if self.config.pooling == "mean":
            return (
                "transformers",
                f"""
import os

import torch
from huggingface_hub import snapshot_download
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer

repo = {repo!r}
folder = repo if os.path.isdir(repo) else snapshot_download(repo)
encoder, tokenizer = AutoModel.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)
head = load_file(os.path.join(folder, "{HEAD_FILE}"))  # the linear head over the mean-pooled tokens
texts = ["a text to classify", "another one"]
batch = tokenizer(texts, padding=True, truncation=True, max_length={self.config.max_length}, return_tensors="pt")
with torch.no_grad():
    hidden = encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    probs = (pooled @ head["weight"].T + head["bias"]).softmax(-1)  # columns: encoder.config.id2label
""",
            )
        return (
            "transformers",
            f"""
from transformers import pipeline

classifier = pipeline("text-classification", model={repo!r}, top_k=None)
texts = ["a text to classify", "another one"]
# One {{label: probability}} dict per text; llmdisc truncated texts to {self.config.max_length} tokens.
probs = [{{d["label"]: d["score"] for d in row}} \
for row in classifier(texts, truncation=True, max_length={self.config.max_length})]
""",
        )

    def _card_limits(self) -> list[str]:
        limits = [
            f"Texts longer than {self.config.max_length} tokens are truncated: only their start is read.",
            "It inherits its base encoder's language coverage and biases.",
        ]
        if self.config.pooling == "mean":
            limits.insert(0, MEAN_POOLING_LIMIT)
        return limits

    def card_info(self, repo: str) -> ModelCardInfo:
        info = super().card_info(repo)
        if self.config.pooling == "mean":  # pipeline() would load it wrongly: claim neither (module docstring)
            info.library, info.pipeline_tag = "llmdisc", None
        return info

    def _save(self, folder: Path) -> None:
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)

    def _load(self, folder: Path) -> None:
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

        from llmdisc.classifiers.mean_pooling import (
            HEAD_FILE,
            MeanPooledClassifier,
        )  # torch: not at import (the CLI answers at once)

        # The head's file says which head it is: folders saved before the pooling setting have none.
        mean = (Path(folder) / HEAD_FILE).is_file()
        self.config.pooling = "mean" if mean else "cls"
        try:
            # config.json's labels first: a folder whose two files disagree is refused before any weight loads.
            saved = AutoConfig.from_pretrained(folder, **NO_REMOTE_CODE)
            self._check_saved_labels([saved.id2label[i] for i in range(saved.num_labels)], folder / "config.json")
            # llmdisc saves safetensors only: a pickled pytorch_model.bin is never read.
            model = (
                MeanPooledClassifier.from_pretrained(folder)
                if mean
                else AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True, **NO_REMOTE_CODE)
            )
            self.tokenizer = AutoTokenizer.from_pretrained(folder, **NO_REMOTE_CODE)
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise remote_code_error(str(folder), e) or LlmdiscError(
                f"{folder} holds no readable encoder ({first_line(e, 200)}); save the model again"
            ) from None
        self.model = place_for_inference(model, self.config.device, self.config.dtype).eval()
