"""bfloat16 that keeps float32's answers: the body in half precision, the output layer in float32.

A likelihood classifier reads differences of log-probs: log P(" positive") - log P(" negative")
after the same prompt, or a text's log-probs after each label's prompt. In bfloat16 each logit
is rounded to 8 bits of mantissa before it is read (a logit near 20 to steps of 1/8), so two
label words' logits can swap. The body's matrix products are where bfloat16's speed comes from
(about 3x on a CPU with AVX512-BF16); the output layer is one product per position read.

So while :func:`float32_head` is active, a half-precision model's output layer (its
``get_output_embeddings()`` linear layer) computes in float32: the last hidden states, rounded
once as the body leaves them, are cast up and multiplied by a float32 copy of the layer's weights
(kept once per loaded model, and made again if the weights change). Every logit the scorer reads,
and their log-softmax (already float32), are then float32. The scorer asks for logits only at
the positions it reads (``logits_to_keep``), so the float32 layer runs nowhere else. A float32
model, or one whose output layer is not a plain linear layer, is left as it is.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator

__all__ = ["float32_head"]

# output layer -> (its weights' address and version, the float32 layer)
_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _float32_layer(head):
    """A float32 copy of the linear layer ``head`` that takes half-precision inputs."""
    import torch

    state = (head.weight.data_ptr(), head.weight._version)
    known = _COPIES.get(head)
    if known is not None and known[0] == state:
        return known[1]

    class Float32Head(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # Plain attributes, not parameters: the model's parameters and memory count stay its own.
            self.weight32 = head.weight.detach().float()
            self.bias32 = head.bias.detach().float() if head.bias is not None else None

        def forward(self, hidden):
            return torch.nn.functional.linear(hidden.float(), self.weight32, self.bias32)

    layer = Float32Head()
    _COPIES[head] = (state, layer)
    return layer


@contextlib.contextmanager
def float32_head(model) -> Iterator[None]:
    """Within the block, a half-precision ``model`` computes its output layer in float32 (see the
    module docstring); the layer is put back on leaving, even after an error."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if not isinstance(head, torch.nn.Linear) or head.weight.dtype == torch.float32:
        yield
        return
    model.set_output_embeddings(_float32_layer(head))
    try:
        yield
    finally:
        model.set_output_embeddings(head)
