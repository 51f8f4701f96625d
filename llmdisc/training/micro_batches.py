"""Training batches split into passes that fit a token budget, with the same gradient.

A training step's activations grow with rows x the batch's longest row: a batch of 16 texts of
256 tokens keeps 16 times the activations of one. The optimizer needs the whole batch's
gradient, not one pass over it: a batch over ``max_batch_tokens`` runs as several passes of
fewer rows (forward and backward each), whose gradients add up to the batch's. The optimizer
still steps once per batch, the learning-rate schedule and the logged loss are the batch's, so a
run differs from an unsplit one by float rounding only. Short batches (SST-2's sentences at batch
16) stay one pass, so they cost nothing.

How the passes add up: Trainer's losses are either *summed* over the step's labelled items and
divided by their count (``num_items_in_batch``: the causal-LM losses, ``class_weight``'s loss),
and then the passes' losses simply add, or a *mean* over the pass's rows (a classification
head's own loss), and then each pass's loss is weighted by its share of the rows. Under several
processes only the last pass synchronises gradients (``accelerator.no_sync`` for the others).

torch and transformers are imported inside the functions: importing llmdisc stays cheap.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import Trainer

__all__ = ["split_rows", "micro_batching"]


def split_rows(inputs: dict[str, Any], max_tokens: int | None) -> list[dict[str, Any]]:
    """``inputs`` cut into consecutive groups of rows, each holding rows x width <= ``max_tokens``.

    Args:
        inputs: a collated batch: tensors of ``(rows, ...)``; other values go to every group.
        max_tokens: the budget per group, counted as rows x the batch's padded width (one row
            at least, however long); None or a batch within it: the batch itself, uncut.

    Returns:
        The groups, in row order; one group (``inputs`` itself) when nothing is cut.
    """
    import torch

    ids = inputs.get("input_ids")
    if max_tokens is None or ids is None or ids.dim() < 2:
        return [inputs]
    rows, width = ids.shape[0], ids.shape[1]
    per_pass = max(1, max_tokens // max(width, 1))
    if per_pass >= rows:
        return [inputs]
    cut = []
    for start in range(0, rows, per_pass):
        cut.append(
            {
                k: v[start : start + per_pass] if torch.is_tensor(v) and v.dim() and v.shape[0] == rows else v
                for k, v in inputs.items()
            }
        )
    return cut


def micro_batching(trainer_class: type[Trainer]) -> type[Trainer]:
    """``trainer_class`` whose training step splits a batch over ``max_batch_tokens`` into passes.

    Set the budget on the instance (``trainer.max_batch_tokens = 1024``; None: never split).

    Returns:
        The subclass (built on call: transformers is imported only to train).
    """

    class MicroBatchTrainer(trainer_class):  # type: ignore[misc, valid-type]
        max_batch_tokens: int | None = None
        _row_share: float = 1.0

        def training_step(self, model, inputs, num_items_in_batch=None):
            passes = split_rows(inputs, self.max_batch_tokens)
            if len(passes) == 1:
                return super().training_step(model, inputs, num_items_in_batch)
            rows = inputs["input_ids"].shape[0]
            # The test Trainer uses to skip its own division by the accumulation steps: the loss
            # is a sum over the step's items divided by their count, so the passes' losses add.
            summed = (
                self.model_accepts_loss_kwargs and num_items_in_batch is not None
            ) or self.compute_loss_func is not None
            total = None
            for i, part in enumerate(passes):
                self._row_share = 1.0 if summed else part["input_ids"].shape[0] / rows
                last = i == len(passes) - 1
                with contextlib.nullcontext() if last else self.accelerator.no_sync(model):
                    loss = super().training_step(model, part, num_items_in_batch)
                total = loss if total is None else total + loss
            self._row_share = 1.0
            return total

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            out = super().compute_loss(
                model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )
            if self._row_share == 1.0:  # outside a split training step (evaluation included)
                return out
            if return_outputs:
                return out[0] * self._row_share, out[1]
            return out * self._row_share

    MicroBatchTrainer.__name__ = f"MicroBatch{trainer_class.__name__}"
    return MicroBatchTrainer
