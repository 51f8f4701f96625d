"""A causal-LM loss that projects onto the vocabulary only where the loss reads it.

The verbalizer and channel heads train a causal LM with ``labels = -100`` everywhere except on
the label word (verbalizer) or the text (channel). The model's own forward computes logits at
*every* position (batch x sequence x vocabulary floats, 49,152 words for SmolLM2), then its
loss reads a few of them: for the verbalizer one or two positions per example. Those logits,
their log-softmax and their gradient dominate the memory and much of the time of a step.

Here the model's forward runs unchanged (so PEFT, DDP, gradient checkpointing and any
architecture-specific logit processing such as soft-capping still apply), but a forward
pre-hook on its LM head keeps only the hidden states whose *next* token is labelled: position
t's logits predict token t + 1. The loss is the same cross-entropy, summed over the labelled
tokens and divided by Trainer's ``num_items_in_batch`` (or averaged without it), exactly as
``transformers.loss.ForCausalLMLoss`` does over the full logits.

torch and transformers are imported inside the functions: importing llmdisc stays cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from transformers import Trainer

__all__ = ["IGNORE_INDEX", "read_positions", "project_only_at", "label_token_loss", "sparse_logits_trainer"]

IGNORE_INDEX = -100  # the label of a token the loss skips (transformers' convention)


def read_positions(labels: torch.Tensor) -> torch.Tensor:
    """The positions whose logits the causal-LM loss reads.

    Args:
        labels: ``(batch, sequence)`` token ids, ``IGNORE_INDEX`` where the loss skips the token.

    Returns:
        A ``(batch, sequence)`` bool mask, True at t when ``labels[:, t + 1]`` is a target (the
        last position predicts nothing).
    """
    import torch

    following = labels[:, 1:] != IGNORE_INDEX
    return torch.cat([following, following.new_zeros(labels.shape[0], 1)], dim=1)


@contextlib.contextmanager
def project_only_at(lm_head: torch.nn.Module, positions: torch.Tensor) -> Iterator[None]:
    """While inside, ``lm_head`` projects only the hidden states at ``positions``.

    Its input ``(batch, sequence, hidden)`` becomes ``(n, hidden)``, the rows where
    ``positions`` is True in row-major order, so the model returns ``(n, vocabulary)`` logits.

    Args:
        lm_head: the model's output embedding (``model.get_output_embeddings()``).
        positions: a ``(batch, sequence)`` bool mask, as :func:`read_positions` returns.
    """

    def gather(module, args):
        hidden = args[0]
        if hidden.shape[:2] != positions.shape:
            # A model that slices its hidden states before the head (logits_to_keep) or a head
            # called on something else: gathering would pick the wrong rows, so fail loudly.
            raise RuntimeError(
                f"the LM head got hidden states of shape {tuple(hidden.shape)}, "
                f"not the labels' {tuple(positions.shape)}"
            )
        return (hidden[positions.to(hidden.device)],) + tuple(args[1:])

    handle = lm_head.register_forward_pre_hook(gather)
    try:
        yield
    finally:
        handle.remove()


def label_token_loss(
    outputs: Any, labels: torch.Tensor, num_items_in_batch: torch.Tensor | int | None = None
) -> torch.Tensor:
    """Cross-entropy of the gathered logits against the tokens they predict.

    Trainer's ``compute_loss_func``: called with the model's outputs under
    :func:`project_only_at`, the batch's labels and the number of labelled tokens in the whole
    (accumulated, all-process) step.

    Args:
        outputs: the model's outputs; ``outputs.logits`` is ``(n, vocabulary)``.
        labels: the batch's ``(batch, sequence)`` labels.
        num_items_in_batch: divide the summed loss by this; None: average over the batch's tokens.

    Returns:
        The scalar loss, as the model's own causal-LM loss would be on the full logits.
    """
    import torch
    import torch.nn.functional as F

    logits = outputs.logits.float()  # upcast as transformers' loss does
    following = labels[:, 1:].to(logits.device)
    targets = following[following != IGNORE_INDEX]  # row-major: the order the rows were gathered in
    if num_items_in_batch is None:
        return F.cross_entropy(logits, targets)
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(logits.device)
    return F.cross_entropy(logits, targets, reduction="sum") / num_items_in_batch


def sparse_logits_trainer() -> type[Trainer]:
    """A ``transformers.Trainer`` whose causal-LM loss projects only the labelled positions.

    Use it with ``compute_loss_func=label_token_loss``: Trainer then pops the labels, calls the
    model without them (so it computes no loss of its own), calls the loss function and scales
    it for gradient accumulation and several processes as it does for the model's loss; this
    class only installs the hook around that call.

    Returns:
        The Trainer subclass (built on call: transformers is imported only to train).
    """
    from transformers import Trainer

    class SparseLogitsTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            lm_head = self.accelerator.unwrap_model(model).get_output_embeddings()
            with project_only_at(lm_head, read_positions(inputs["labels"])):
                return super().compute_loss(
                    model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
                )

    return SparseLogitsTrainer
