"""A classification head over the mean of an encoder's token vectors (sentence-embedding models).

Sentence-embedding encoders such as all-MiniLM-L6-v2 were trained to represent a text by the
mean of its token vectors; their first token and BERT's pooler on top of it were never tuned.
``AutoModelForSequenceClassification`` reads exactly that first token, so a few hundred examples
must first teach the pooler what the model already knows. :class:`MeanPooledClassifier` reads
the attention-masked mean instead (the model's own sentence embedding), through dropout and one
linear layer, and trains with cross-entropy like the transformers heads.

The saved folder is the encoder as ``save_pretrained`` writes it (``AutoModel`` loads it, and
``config.json`` holds ``id2label`` and ``classifier_pooling: "mean"``) plus the head in
``HEAD_FILE``, so the folder still serves as a plain sentence encoder.
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["HEAD_FILE", "MeanPooledClassifier", "mean_pool"]

#: The head's weights, next to the encoder's ``model.safetensors``.
HEAD_FILE = "classification_head.safetensors"


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The mean of each text's token vectors over its real (unpadded) tokens.

    Args:
        hidden: ``(batch, tokens, width)`` last hidden states.
        attention_mask: ``(batch, tokens)``, 1 for real tokens, 0 for padding.

    Returns:
        ``(batch, width)``; padding never counts, so a text's vector does not depend on its batch.
    """
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


class MeanPooledClassifier(torch.nn.Module):
    """An encoder (``AutoModel``) + masked mean pooling + dropout + a linear head.

    Args:
        encoder: a transformers encoder without a head; its config gets ``num_labels``,
            ``id2label`` and ``label2id``, so the saved ``config.json`` names the labels.
        id2label: class index -> label name.
    """

    def __init__(self, encoder, id2label: dict[int, str]):
        super().__init__()
        self.encoder = encoder
        self.config = encoder.config
        self.config.id2label = dict(id2label)
        self.config.label2id = {v: k for k, v in id2label.items()}
        self.config.classifier_pooling = "mean"
        dropout = getattr(self.config, "classifier_dropout", None) or getattr(self.config, "hidden_dropout_prob", 0.1)
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = torch.nn.Linear(self.config.hidden_size, len(id2label))
        # BERT's own head initialisation, so both poolings start from the same kind of head.
        std = getattr(self.config, "initializer_range", 0.02)
        torch.nn.init.normal_(self.classifier.weight, std=std)
        torch.nn.init.zeros_(self.classifier.bias)
        self.classifier.to(next(encoder.parameters()).device)

    @property
    def device(self) -> torch.device:
        return self.encoder.device

    def gradient_checkpointing_enable(self, **kwargs) -> None:
        """Trainer's ``gradient_checkpointing`` setting, passed to the encoder."""
        self.encoder.gradient_checkpointing_enable(**kwargs)

    # No **kwargs on purpose: Trainer then treats the loss as a batch mean, as for transformers'
    # own classification heads (see training.train_model).
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ):
        """Logits (and the mean cross-entropy when ``labels`` are given), as transformers heads return them."""
        from transformers.modeling_outputs import SequenceClassifierOutput

        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        logits = self.classifier(self.dropout(mean_pool(hidden, attention_mask)))
        loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels.view(-1).to(logits.device))
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def save_pretrained(self, folder: str | Path) -> None:
        """The encoder's own folder, plus the head in :data:`HEAD_FILE`."""
        from safetensors.torch import save_file

        self.encoder.save_pretrained(folder)
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in self.classifier.state_dict().items()},
            str(Path(folder) / HEAD_FILE),
        )

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> MeanPooledClassifier:
        """Load a folder written by :meth:`save_pretrained` (safetensors only; never the folder's own code)."""
        from safetensors.torch import load_file
        from transformers import AutoModel

        encoder = AutoModel.from_pretrained(folder, use_safetensors=True, trust_remote_code=False)
        model = cls(encoder, {int(k): v for k, v in encoder.config.id2label.items()})
        model.classifier.load_state_dict(load_file(str(Path(folder) / HEAD_FILE)))
        return model
