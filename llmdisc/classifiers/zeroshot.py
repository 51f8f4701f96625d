"""Zero-shot classification with a generative LM, by comparing likelihoods.

Each label has a *verbalizer*, the word that fills a template's ``{label}`` (by default the
label name itself). ``direct`` mode scores log P(verbalizer | text), ``channel`` mode
log P(text | verbalizer) and compares labels by Bayes' rule with a uniform prior; the scoring
itself, and where each piece of the template goes, is :mod:`llmdisc.likelihood`'s.

The template comes from ``templates`` or, when none are given, from ``task``
(:func:`llmdisc.prompts.task_templates`: a task-neutral template by default, the review template
for ``task: sentiment``).

Options: contextual calibration (Zhao et al., 2021: divide by the label probabilities for a
content-free input such as "N/A"), prior correction from the training subset (``prior: train``:
divide by the model's mean prediction over the training texts, multiply by their class
frequencies; :func:`llmdisc.likelihood.prior_weights`), length normalisation (mean instead of summed log-prob),
PMI (subtract log P(verbalizer | the template's text-free part), Holtzman et al., 2021),
several templates averaged, and k demonstrations drawn from train with a seed.

Long texts, in both modes alike: a text that does not fit the LM's window together with the
prompt is cut to its first tokens (as the encoder cuts to ``max_length``), with a warning that
counts the cut texts; the prompt, demonstrations included, is kept whole.

``fit`` does only what those options need: it draws the demonstrations and computes the
calibration and the prior weights; the LM is not trained.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..config import DEFAULT_SEED, arg
from ..errors import LlmdiscError
from ..io import write_json
from ..likelihood import (MIN_TEMPLATES, REVIEW_TEMPLATE, LikelihoodScorer, Template, apply_weights, causal_lm_loading_code,
                          check_mode, likelihood_snippet, parse_templates, prior_weights, resolve_verbalizers)
from ..prompts import task_templates
from ..batching import check_batch_size
from ..devices import check_placement, device_field, dtype_field, model_placement
from ..models import check_model_available, load_model
from .base import TextClassifier, register

if TYPE_CHECKING:
    import datasets

__all__ = ["ZeroShotClassifier", "MIN_TEMPLATES", "PRIORS", "REVIEW_TEMPLATE", "Template"]

logger = logging.getLogger(__name__)

PRIORS = ("none", "train")

@register("zeroshot")
class ZeroShotClassifier(TextClassifier):
    """Classify by comparing a causal LM's likelihoods of label words (or of the text)."""

    paradigm = "generative"
    description = "A causal LM classifying without training, by comparing likelihoods (direct or channel)."
    takes_seed = True  # the seed draws the demonstrations
    scores_label_words = True

    @dataclass
    class Config:
        model: str = arg("smollm2-135m", "causal LM: an alias, a folder, a .gguf file or a Hub id")
        mode: str = arg("direct", "direct: P(label | text); channel: P(text | label)")
        templates: list[str] | None = arg(None, "one or more templates with {text} then {label}; several are averaged "
                                          "(default: the task's)")
        task: str | None = arg(None, "sentiment, topic, spam or an instruction: picks the templates when none are given "
                                     "(default: a task-neutral template)")
        verbalizers: dict[str, str] | None = arg(None, "label name -> word, e.g. neg=negative,pos=positive (default: the "
                                                       "label names)")
        calibrate: bool = arg(False, "contextual calibration with a content-free input")
        prior: str = arg("none", "train: correct by the training subset's class prior (divide by the model's mean "
                                 "prediction on the training texts, multiply by their class frequencies)")
        content_free: str = arg("N/A", "the content-free input for calibration")
        length_normalize: bool = arg(False, "mean log-prob per token instead of the sum")
        pmi: bool = arg(False, "direct only: subtract log P(label | template without the text)")
        k_shot: int = arg(0, "demonstrations drawn from train (per prompt, shared by all texts)")
        demo_separator: str = arg("\n\n", "text between demonstrations and the prompt")
        seed: int = arg(DEFAULT_SEED, "seed for drawing demonstrations")
        batch_size: int | str = arg(16, "text-label pairs scored per forward pass, or auto: the largest that fits")
        device: str = device_field()
        dtype: str = dtype_field()

    def __init__(self, **config):
        super().__init__(**config)
        c = self.config
        check_mode(c.mode, c.pmi)
        if c.k_shot < 0:
            raise LlmdiscError(f"k_shot must be >= 0, got {c.k_shot}")
        if c.prior not in PRIORS:
            raise LlmdiscError(f"unknown prior {c.prior!r}; use {' or '.join(PRIORS)}")
        # The resolved templates are kept in the config, so that a saved model keeps its prompt
        # even if a later version changes a task's default template.
        c.templates = list(c.templates) if c.templates else task_templates(c.task)
        c.batch_size = check_batch_size(c.batch_size, "zeroshot.batch_size")
        self.templates = parse_templates(c.templates)
        if not self.templates:
            raise LlmdiscError("zeroshot needs at least one template")
        self.model = self.tokenizer = None
        self.demonstrations: list[tuple[str, int]] = []
        self.calibration: list[np.ndarray] | None = None
        self.prior_weights: np.ndarray | None = None
        self._scorer: LikelihoodScorer | None = None

    def _check(self, labels: list[str]) -> None:
        resolve_verbalizers(labels, self.config.verbalizers)
        check_placement(self.config.device, self.config.dtype)
        check_model_available(self.config.model)

    def label_words(self, labels) -> list[str]:
        return resolve_verbalizers(list(labels), self.config.verbalizers)

    def scorer(self) -> LikelihoodScorer:
        """The likelihood scorer of this classifier (built once, after the demonstrations are known)."""
        if self._scorer is None:
            if self.model is None:
                self.model, self.tokenizer = load_model(self.config.model, task="causal-lm", device=self.config.device,
                                                        dtype=self.config.dtype)
                self.info.device, self.info.dtype = model_placement(self.model)
            c = self.config
            self._scorer = LikelihoodScorer(
                self.model, self.tokenizer, self.labels, self.templates, c.verbalizers, mode=c.mode,
                length_normalize=c.length_normalize, pmi=c.pmi, demonstrations=self.demonstrations,
                demo_separator=c.demo_separator, batch_size=c.batch_size)
        return self._scorer

    # ---- the interface ---------------------------------------------------------------------

    def _fit(self, texts: list[str], labels: np.ndarray, eval_data: datasets.Dataset | None) -> None:
        resolve_verbalizers(self.labels, self.config.verbalizers)  # fail before loading the model
        self.demonstrations = []
        if self.config.k_shot:
            rng = np.random.default_rng(self.config.seed)
            picks = rng.choice(len(texts), size=min(self.config.k_shot, len(texts)), replace=False)
            self.demonstrations = [(texts[i], int(labels[i])) for i in picks]
        self._scorer = None  # the demonstrations changed
        scorer = self.scorer()  # loads the LM here, so that its load counts as training time, not prediction
        self.calibration = None
        if self.config.calibrate:
            self.calibration = scorer.content_free_probabilities(self.config.content_free)
        self.prior_weights = None
        if self.config.prior == "train":
            if not len(texts):
                raise LlmdiscError("prior: train needs training examples; give a training subset (n > 0)")
            # Scored as the texts to classify will be (calibrated, if set), demonstrations and all.
            self.prior_weights = prior_weights(scorer.probabilities(texts, self.calibration), labels)

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        return apply_weights(self.scorer().probabilities(texts, self.calibration), self.prior_weights)

    def template_probabilities(self, texts: Sequence[str]) -> dict[str, np.ndarray] | None:
        if len(self.templates) < 2 or not self.is_fitted:
            return None
        # reuse_last: the texts just classified are not scored again.
        parts = self.scorer().template_probabilities(list(texts), self.calibration, reuse_last=True)
        return {t.source: apply_weights(p, self.prior_weights) for t, p in zip(self.templates, parts)}

    @property
    def uses_training_data(self) -> bool:  # type: ignore[override]
        # Demonstrations and the prior come from the training set; otherwise nothing does.
        return self.config.k_shot > 0 or self.config.prior == "train"

    def num_parameters(self) -> dict[str, int]:
        self.scorer()  # loads the model
        return {"total": sum(p.numel() for p in self.model.parameters()), "trainable": 0}

    def _card_approach(self) -> str:
        how = ("direct: each label word's log-likelihood after the prompt, log P(label | text)" if self.config.mode == "direct"
               else "channel: the text's log-likelihood after each label's prompt, log P(text | label), with a uniform prior")
        extras = [name for name, on in (("contextual calibration", self.config.calibrate),
                                        ("the training class prior", self.config.prior == "train"),
                                        (f"{self.config.k_shot} demonstrations", self.config.k_shot),
                                        ("PMI", self.config.pmi), ("length normalisation", self.config.length_normalize),
                                        (f"{len(self.templates)} templates averaged", len(self.templates) > 1)) if on]
        words = ", ".join(f"`{label}` as `{word}`" for label, word in zip(self.labels, self.label_words(self.labels)))
        prompts = "; ".join(f"`{t.source!r}`" for t in self.templates)
        return (f"{self.description} Mode {how}" + (f"; with {', '.join(extras)}." if extras else ".")
                + f" Label words scored: {words}. Template{'s' if len(self.templates) > 1 else ''}: {prompts}.")

    def _card_usage(self, repo: str) -> tuple[str, str]:
        load = causal_lm_loading_code(self.config.model, "The LM (this repo holds only the prompt settings)")
        unsupported = [name for name, on in (("PMI", self.config.pmi), ("length normalisation", self.config.length_normalize),
                                             ("several templates", len(self.templates) > 1)) if on]
        if unsupported:
            return "transformers", load + (f"# This model uses {', '.join(unsupported)}: llmdisc's scorer applies them "
                                           "(llmdisc.scoring); load it with llmdisc for its exact probabilities.\n")
        scorer = self.scorer()
        return "transformers", likelihood_snippet(
            load, self.labels, scorer.words, scorer.templates[0], self.config.mode, demos=scorer.prefix(scorer.templates[0]),
            calibration=self.calibration[0] if self.calibration is not None else None, prior=self.prior_weights,
            prior_note="zeroshot.json: training class prior / the model's mean prediction on the training texts")

    def _card_limits(self) -> list[str]:
        return ["No weights are stored: the folder holds the prompt settings (`llmdisc_config.json`, `zeroshot.json`) "
                "and the predictions depend on the exact base LM named above.",
                "Zero-shot accuracy is sensitive to the template and the label words; it is not trained on the labels."]

    def _save(self, folder: Path) -> None:
        # The LM is not trained: the folder records how to rebuild the classifier, not weights.
        write_json(folder / "zeroshot.json", {
            "demonstrations": [{"text": t, "label": self.labels[y]} for t, y in self.demonstrations],
            "calibration": [c.tolist() for c in self.calibration] if self.calibration is not None else None,
            "prior_weights": self.prior_weights.tolist() if self.prior_weights is not None else None,
        })

    def _load(self, folder: Path) -> None:
        state = json.loads((folder / "zeroshot.json").read_text(encoding="utf-8"))
        self.demonstrations = [(d["text"], self.labels.index(d["label"])) for d in state["demonstrations"]]
        self._scorer = None
        self.calibration = [np.array(c) for c in state["calibration"]] if state["calibration"] is not None else None
        weights = state.get("prior_weights")  # absent in folders saved before prior correction existed
        self.prior_weights = np.array(weights) if weights is not None else None
