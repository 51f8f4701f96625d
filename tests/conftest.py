"""Shared fixtures: the demo data, SST-2 when ../shared is present, and tiny local models.

Tests never touch the network: HF_HUB_OFFLINE is set before anything imports huggingface_hub,
so a Hub id fails fast instead of retrying.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from tiny_models import save_tiny_bert, save_tiny_decoder, save_tiny_gpt2  # noqa: E402

import llmdisc  # noqa: E402

SST2 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sst2"


@pytest.fixture(scope="session")
def demo():
    return llmdisc.load_text_dataset("demo")


@pytest.fixture(scope="session")
def sst2_dir() -> Path:
    if not (SST2 / "train.tsv").is_file():
        pytest.skip(f"SST-2 not found at {SST2}")
    return SST2


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer random BERT with the packaged MiniLM's tokenizer, saved as a local folder."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory) -> Path:
    """A 2-layer random GPT-2 with a small byte-level BPE tokenizer trained on the demo texts."""
    return save_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="session")
def tiny_llama(tiny_gpt2, tmp_path_factory) -> Path:
    """A 2-layer random Llama (grouped-query attention) sharing the tiny GPT-2's tokenizer."""
    return save_tiny_decoder(tmp_path_factory.mktemp("tiny-llama"), tiny_gpt2)


# A ChatML-like template in plain text (the tiny vocabulary has no chat tokens): a user turn, then
# the assistant's opening when a generation prompt is asked for.
TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@pytest.fixture(scope="session")
def tiny_chat_llama(tiny_llama, tmp_path_factory) -> Path:
    """The tiny Llama, its tokenizer given a simple chat template (an "instruct" model)."""
    import shutil

    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("tiny-chat-llama")
    shutil.copytree(tiny_llama, folder, dirs_exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session", params=["gpt2", "llama"])
def tiny_lm(request, tiny_gpt2, tiny_llama):
    """(model, tokenizer) of each tiny causal LM."""
    return llmdisc.load_model(str(tiny_gpt2 if request.param == "gpt2" else tiny_llama))
