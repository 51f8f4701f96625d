"""Synthetic training data for a comparison: texts a causal LM writes for each label.

An approach entry of a comparison may carry ``synthetic: {model: smollm2-135m, ...}``: it is then
trained, at each size n, on n texts the LM generated (:func:`llmdisc.synthesize`) instead of n
real ones, with the same number per label as the real stratified subset of that size and seed,
and evaluated on the same real splits. Set beside the same approach trained on real data, it
tests whether a generative model can create new data (see :mod:`llmdisc.analysis.claims`).

For one (variant, seed) the texts are generated once, for the largest size, and each smaller size
takes the first texts of each label (nested, like the real subsets). They are saved in the
comparison's cache (``runs/VARIANT/synthetic-seedS.json``), so ``--resume`` reuses them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from llmdisc.errors import LlmdiscError
from llmdisc.plumbing.atomic_files import read_cached_json, write_json
from llmdisc.plumbing.config import arg, config_from_dict

if TYPE_CHECKING:
    import datasets

__all__ = ["SyntheticSettings", "parse_synthetic", "label_counts", "synthetic_subset", "SYNTHETIC_MARGIN"]

logger = logging.getLogger(__name__)

#: Generate this share more texts than needed: an empty sample is dropped, the count must hold.
SYNTHETIC_MARGIN = 0.1


@dataclass
class SyntheticSettings:
    """How the synthetic training texts are generated."""

    model: str = arg(
        "smollm2-135m", "the causal LM that writes the texts: an alias, a folder, a .gguf file or a Hub id"
    )
    template: str = arg(
        "Write a one-sentence {label} review of a film, a book or a restaurant.",
        "the instruction, with a {label} slot (filled with the label word)",
    )
    max_new_tokens: int = arg(48, "tokens per text at most")
    temperature: float = arg(0.9, "sampling temperature (> 0)")
    top_p: float = arg(0.95, "nucleus sampling, in (0, 1]")
    batch_size: int = arg(16, "prompts per batch")


def parse_synthetic(values: Mapping[str, Any] | None, uses_training_data: bool) -> SyntheticSettings | None:
    """An approach's ``synthetic`` setting, checked before any model loads (None: real data).

    Raises:
        LlmdiscError: an unknown key, a template without ``{label}``, bad sampling settings, an
            unavailable model, or an approach that does not learn from examples.
    """
    if values is None:
        return None
    if not isinstance(values, Mapping):
        raise LlmdiscError(f"synthetic must be a mapping such as {{model: smollm2-135m}}, got {values!r}")
    settings = config_from_dict(SyntheticSettings, dict(values), where="synthetic")
    if not uses_training_data:
        raise LlmdiscError("synthetic training data needs an approach that learns from examples")
    if "{label}" not in settings.template:
        raise LlmdiscError(f"the synthetic template needs a {{label}} slot: {settings.template!r}")
    from llmdisc.lm.loading import check_model_available

    _sampling(settings).check()
    check_model_available(settings.model)
    return settings


def _sampling(settings: SyntheticSettings, seed: int = 0):
    from llmdisc.lm.generation import SamplingConfig

    return SamplingConfig(
        do_sample=True,
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_new_tokens=settings.max_new_tokens,
        batch_size=settings.batch_size,
        seed=seed,
    )


def label_counts(subset: datasets.Dataset, n_labels: int) -> list[int]:
    """How many examples of each label ``subset`` holds."""
    return np.bincount(np.asarray(subset["label"], dtype=int), minlength=n_labels).tolist()


def _generate(settings: SyntheticSettings, words: Sequence[str], counts: Sequence[int], seed: int) -> list[list[str]]:
    """Per label, ``counts[i]`` texts the LM writes for ``words[i]`` (fewer if it wrote empty ones)."""
    from llmdisc.lm.generation import synthesize
    from llmdisc.lm.loading import load_model

    model, tokenizer = load_model(settings.model, task="causal-lm")
    out = []
    for i, (word, count) in enumerate(zip(words, counts)):
        asked = int(np.ceil(count * (1 + SYNTHETIC_MARGIN))) + 1
        rows = synthesize(
            model, tokenizer, [word], asked, template=settings.template, config=_sampling(settings, seed + i)
        )
        texts = [r["text"] for r in rows][:count]
        if len(texts) < count:
            logger.warning(
                "synthetic data: %d of %d texts for %r (the others came out empty)", len(texts), count, word
            )
        out.append(texts)
    return out


def synthetic_subset(
    settings: SyntheticSettings,
    counts: Sequence[int],
    largest: Sequence[int],
    words: Sequence[str],
    features: Any,
    seed: int,
    path: str | Path | None = None,
) -> tuple[datasets.Dataset, float]:
    """The synthetic training set with ``counts[i]`` texts of label ``i``.

    Args:
        settings: how to generate.
        counts: the texts wanted per label (the real subset's counts at this size).
        largest: the per-label counts of the variant's largest size: what is generated (once).
        words: the word filling the template's ``{label}``, per label.
        features: the training split's features (text, ClassLabel label).
        seed: the sampling seed (the cell's).
        path: the cache file (None: none); reused when made with the same settings and enough texts.

    Returns:
        (a ``datasets.Dataset`` of the training split's features, the seconds generating its texts
        took: their share of the generation's wall time, so that a run's training time counts them).
    """
    import datasets

    texts, seconds = None, 0.0
    cached = read_cached_json(path, "generating them again") if path is not None and Path(path).is_file() else None
    if (
        isinstance(cached, dict)
        and cached.get("settings") == asdict(settings)
        and cached.get("words") == list(words)
        and all(len(t) >= c for t, c in zip(cached["texts"], counts))
    ):
        texts, seconds = cached["texts"], cached.get("seconds", 0.0)
    if texts is None:
        logger.info("synthetic data: %d texts from %s (seed %d)", sum(largest), settings.model, seed)
        began = time.perf_counter()
        texts = _generate(settings, words, largest, seed)
        seconds = time.perf_counter() - began
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            write_json(
                path,
                {
                    "settings": asdict(settings),
                    "words": list(words),
                    "seed": seed,
                    "seconds": round(seconds, 3),
                    "texts": texts,
                },
            )
    rows = [(t, label) for label, (some, c) in enumerate(zip(texts, counts)) for t in some[:c]]
    share = len(rows) / max(sum(len(t) for t in texts), 1)
    return (
        datasets.Dataset.from_dict({"text": [t for t, _ in rows], "label": [y for _, y in rows]}, features=features),
        seconds * share,
    )
