"""bfloat16 scoring with a float32 output layer: the logits read are float32, not bfloat16-rounded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmdisc.lm.head_precision import float32_head
from llmdisc.lm.loading import load_model
from llmdisc.lm.loglikelihood import encode_pair, score_ids


def _loud(folder, dtype):
    """The tiny Llama with its output layer scaled up: logits near 20, where bfloat16 keeps steps of 1/8."""
    model, tokenizer = load_model(str(folder), dtype=dtype, device="cpu")
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(300)
    return model, tokenizer


def test_a_bfloat16_model_reads_float32_logits(tiny_llama):
    model, tokenizer = _loud(tiny_llama, "bfloat16")
    head = model.get_output_embeddings()
    context = encode_pair(tokenizer, "the film was wonderful . It was", " great")[0]
    words = list(range(5, 25))  # single tokens: the one-pass path, as label words
    got = np.concatenate(score_ids(model, [(context, [w]) for w in words]))
    assert model.get_output_embeddings() is head  # put back
    with torch.no_grad():  # the same body, then the output layer by hand in float32
        hidden = model.model(input_ids=torch.tensor([context])).last_hidden_state[0, -1]
        exact = torch.log_softmax(hidden.float() @ head.weight.float().T, -1)[words].numpy()
        rounded = torch.log_softmax(model(input_ids=torch.tensor([context])).logits[0, -1].float(), -1)[words].numpy()
    np.testing.assert_allclose(got, exact, atol=1e-4)
    # What the bfloat16 output layer gives instead: differences of label words moved by its rounding.
    assert np.abs((rounded - rounded[0]) - (exact - exact[0])).max() > 0.05


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_every_logit_read_is_float32_and_the_model_is_left_as_it_was(tiny_llama, dtype):
    model, tokenizer = _loud(tiny_llama, dtype)
    head, parameters = model.get_output_embeddings(), sum(p.numel() for p in model.parameters())
    seen = []
    hook = model.register_forward_hook(lambda m, args, out: seen.append((out.logits.dtype, m.get_output_embeddings())))
    requests = [
        encode_pair(tokenizer, "Sentiment: great\nReview:", " a long and winding text about a film"),
        encode_pair(tokenizer, "Sentiment: bad\nReview:", " a long and winding text about a film"),
        encode_pair(tokenizer, "It was", " great"),
    ]
    try:
        scores = score_ids(model, requests, batch_size=2)
    finally:
        hook.remove()
    assert seen and all(logits == torch.float32 for logits, _ in seen)
    # float32: nothing swapped; bfloat16: the float32 layer only while scoring.
    assert all((layer is head) == (dtype == "float32") for _, layer in seen)
    assert model.get_output_embeddings() is head and sum(p.numel() for p in model.parameters()) == parameters
    assert all(np.isfinite(s).all() for s in scores)


def test_the_layer_is_put_back_after_an_error(tiny_llama):
    model, _ = load_model(str(tiny_llama), dtype="bfloat16", device="cpu")
    head = model.get_output_embeddings()
    with pytest.raises(RuntimeError, match="boom"), float32_head(model):
        assert model.get_output_embeddings() is not head
        raise RuntimeError("boom")
    assert model.get_output_embeddings() is head


def test_the_float32_copy_follows_changed_weights(tiny_llama):
    model, _ = load_model(str(tiny_llama), dtype="bfloat16", device="cpu")
    with float32_head(model):
        first = model.get_output_embeddings().weight32.clone()
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(2)
    with float32_head(model):
        torch.testing.assert_close(model.get_output_embeddings().weight32, first * 2)
