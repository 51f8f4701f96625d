"""Logits of a sequence-classification model for a list of texts: the encoder and LoRA's sequence head."""

from __future__ import annotations

import logging

import numpy as np

from llmdisc.lm.batch_sizes import DISTRIBUTED_AUTO_BATCH, run_in_batches
from llmdisc.plumbing.distributed import map_batches, world_size
from llmdisc.plumbing.no_grad import no_grad

__all__ = ["predict_logits", "tokenize_texts"]

logger = logging.getLogger(__name__)


def tokenize_texts(
    tokenizer, texts: list[str], max_length: int, what: str = "texts", add_special_tokens: bool = True
) -> tuple[dict[str, list], int]:
    """Tokenize ``texts``, truncating to ``max_length`` tokens; count (and log) the truncated ones.

    ``add_special_tokens=False`` for texts that hold them already (prompts rendered by a chat template).

    Returns:
        ``(encodings, n_truncated)``; encodings hold ``input_ids``, ``attention_mask`` (and
        ``token_type_ids`` where the model uses them) as lists, unpadded.
    """
    full = tokenizer(texts, truncation=False, verbose=False, add_special_tokens=add_special_tokens)
    n_truncated = sum(len(ids) > max_length for ids in full["input_ids"])
    if n_truncated == 0:
        return dict(full), 0
    logger.warning("%s: truncated %d of %d texts to %d tokens", what, n_truncated, len(texts), max_length)
    return dict(
        tokenizer(texts, truncation=True, max_length=max_length, add_special_tokens=add_special_tokens)
    ), n_truncated


@no_grad
def predict_logits(
    model, tokenizer, texts: list[str], max_length: int, batch_size: int | str, add_special_tokens: bool = True
) -> tuple[np.ndarray, int]:
    """Logits for ``texts``, in batches of similar length (sorted, so little padding).

    ``batch_size`` may be ``"auto"`` (the largest batch that fits); a batch that runs out of
    memory is halved either way (:mod:`llmdisc.lm.batch_sizes`).

    Under several processes (``accelerate launch``) each computes a share of the batches and
    every process gets all the logits (see :mod:`llmdisc.plumbing.distributed`).

    Returns:
        ``(logits as float32 array in the order of texts, number of truncated texts)``.
    """
    model.eval()
    enc, n_truncated = tokenize_texts(tokenizer, texts, max_length, "predict", add_special_tokens)
    order = np.argsort([len(ids) for ids in enc["input_ids"]], kind="stable")
    out = np.empty((len(texts), model.config.num_labels), dtype=np.float32)

    def run(idx: np.ndarray) -> np.ndarray:
        batch = tokenizer.pad([{k: v[i] for k, v in enc.items()} for i in idx], return_tensors="pt")
        batch = {k: v.to(model.device) for k, v in batch.items()}
        return model(**batch).logits.float().cpu().numpy()

    if world_size() > 1:  # fixed batches, shared among the processes
        size = DISTRIBUTED_AUTO_BATCH if batch_size == "auto" else int(batch_size)
        batches = [order[start : start + size] for start in range(0, len(texts), size)]
        for idx, logits in zip(batches, map_batches(lambda b: run_in_batches(run, list(b), len(b)), batches)):
            out[idx] = logits
        return out, n_truncated
    longest_first = order[::-1]
    rows = run_in_batches(
        lambda b: list(run(np.asarray(b))), list(longest_first), batch_size, length=lambda i: len(enc["input_ids"][i])
    )
    if len(texts):
        out[longest_first] = np.stack(rows)
    return out, n_truncated
