"""Tiny random models saved as local folders: the tests' stand-ins for real checkpoints.

The tests' fixtures (conftest.py) and benchmarks/rendered_outputs.py build them here, so the two
never drift apart. No weights are downloaded: the GPT-2's byte-level BPE tokenizer is trained on
the demo texts, the BERT borrows the packaged MiniLM's tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import llmdisc


def save_tiny_gpt2(folder: Path, seed: int | None = None) -> Path:
    """A 2-layer random GPT-2 with a small byte-level BPE tokenizer trained on the demo texts."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    if seed is not None:
        torch.manual_seed(seed)
    texts = [t for split in llmdisc.load_text_dataset("demo").values() for t in split["text"]]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=600, min_frequency=1, special_tokens=["<|endoftext|>"])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    assert tokenizer("hello there")["input_ids"], "the tiny tokenizer encodes nothing"
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=128,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_decoder(folder: Path, tokenizer_folder: Path, architecture: str = "llama", **config) -> Path:
    """A 2-layer random Llama-style decoder (grouped-query attention) with another tiny model's tokenizer.

    ``architecture``: "llama" or "mistral" (whose ``sliding_window`` goes in ``config``, with any
    other field of its config).
    """
    import transformers
    from transformers import AutoTokenizer

    name = {"llama": "Llama", "mistral": "Mistral"}[architecture]
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    settings = dict(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model_config = getattr(transformers, f"{name}Config")(**(settings | config))
    getattr(transformers, f"{name}ForCausalLM")(model_config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_bert(folder: Path, seed: int | None = None) -> Path:
    """A 2-layer random BERT with the packaged MiniLM's tokenizer."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    if seed is not None:
        torch.manual_seed(seed)
    tokenizer = llmdisc.lm.loading.load_tokenizer("minilm-l6")
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
