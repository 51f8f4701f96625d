"""Zero-shot classification with a generative LM, by comparing likelihoods.

A *template* holds ``{text}`` and, after it, ``{label}``: ``"Review: {text}\\nSentiment: {label}"``
or Min et al.'s ``"{text} A {label} one ."``. Each label has a *verbalizer*, the word that fills
``{label}`` (by default the label name itself).

* ``direct``: score log P(verbalizer | template up to ``{label}``). With the template above and
  the text "fine", the request is ``("Review: fine\\nSentiment:", " negative")``.
* ``channel``: score log P(text | label). The template is split at the whitespace after
  ``{text}``; the part holding ``{label}`` comes first, then the text part, and only the text is
  scored. For ``"{text} A {label} one ."`` that is ``("A terrible one .", " fine")``; for the
  review template, ``("Sentiment: negative\\nReview:", " fine")``. Scoring
  ``"\\nReview: fine"`` instead would add log P("\\nReview:" | label), a label-dependent bias
  (on SST-2 it costs 10 points; see benchmarks/RESULTS.md). Labels are then compared by Bayes'
  rule with a uniform prior.

Options: contextual calibration (Zhao et al., 2021: divide by the label probabilities for a
content-free input such as "N/A"), length normalisation (mean instead of summed log-prob),
PMI (subtract log P(verbalizer | the template's text-free part), Holtzman et al., 2021),
several templates averaged, and k demonstrations drawn from train with a seed.
``fit`` does only what those options need: it draws the demonstrations and computes the
calibration; the LM is not trained.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np

from ..config import arg
from ..errors import LlmdiscError
from ..io import write_json
from ..metrics import softmax
from ..models import load_model
from ..scoring import loglikelihood, move_trailing_space
from .base import TextClassifier, register

__all__ = ["ZeroShotClassifier", "MIN_TEMPLATES", "Template"]

logger = logging.getLogger(__name__)

# Min et al. (2022), "Noisy channel language model prompting for few-shot text classification".
MIN_TEMPLATES = ["{text} A {label} one .", "{text} It was {label} .", "{text} All in all {label} .", "{text} A {label} piece ."]
REVIEW_TEMPLATE = "Review: {text}\nSentiment: {label}"


@dataclass(frozen=True)
class Template:
    """A template split into the pieces that direct and channel scoring need."""

    source: str

    def __post_init__(self):
        t, lab = self.source.find("{text}"), self.source.find("{label}")
        if t < 0 or lab < 0 or self.source.count("{text}") != 1 or self.source.count("{label}") != 1:
            raise LlmdiscError(f"template {self.source!r} must hold {{text}} and {{label}} once each")
        if t > lab:
            raise LlmdiscError(f"template {self.source!r} must put {{text}} before {{label}}")
        if not re.match(r"\s", self.source[t + 6:]):
            raise LlmdiscError(f"template {self.source!r} needs whitespace right after {{text}}")

    @property
    def _parts(self) -> tuple[str, str, str]:
        """(text part, whitespace separator, label part)."""
        end = self.source.find("{text}") + len("{text}")
        sep = re.match(r"\s+", self.source[end:]).group(0)
        return self.source[:end], sep, self.source[end + len(sep):]

    def direct(self, text: str, verbalizer: str) -> tuple[str, str]:
        """(context, continuation) for P(verbalizer | text)."""
        before = self.source[: self.source.find("{label}")].replace("{text}", text)
        return move_trailing_space(before, verbalizer)

    def channel(self, text: str, verbalizer: str) -> tuple[str, str]:
        """(context, continuation) for P(text | verbalizer): only the text itself is scored.

        The label part comes first, then the text part's own prefix ("Review:"), so that the
        score holds no label-dependent term for that boilerplate.
        """
        text_part, sep, label_part = self._parts
        prefix = text_part[: text_part.find("{text}")]
        return move_trailing_space(label_part.replace("{label}", verbalizer) + sep + prefix, text)

    def unconditional(self, verbalizer: str) -> tuple[str, str]:
        """(context, continuation) for P(verbalizer | the template without the text), for PMI."""
        _, _, label_part = self._parts
        return move_trailing_space(label_part[: label_part.find("{label}")], verbalizer)

    def demonstration(self, text: str, verbalizer: str, mode: str) -> str:
        """A filled-in example to put before the prompt."""
        if mode == "channel":
            context, continuation = self.channel(text, verbalizer)
            return context + continuation
        return self.source.replace("{text}", text).replace("{label}", verbalizer)


@register("zeroshot")
class ZeroShotClassifier(TextClassifier):
    """Classify by comparing a causal LM's likelihoods of label words (or of the text)."""

    paradigm = "generative"
    description = "A causal LM classifying without training, by comparing likelihoods (direct or channel)."

    @dataclass
    class Config:
        model: str = arg("smollm2-135m", "causal LM: an alias, a folder, a .gguf file or a Hub id")
        mode: str = arg("direct", "direct: P(label | text); channel: P(text | label)")
        templates: list[str] = arg([REVIEW_TEMPLATE], "templates with {text} then {label}; several are averaged")
        verbalizers: dict[str, str] | None = arg(None, "label name -> word (default: the label names)")
        calibrate: bool = arg(False, "contextual calibration with a content-free input")
        content_free: str = arg("N/A", "the content-free input for calibration")
        length_normalize: bool = arg(False, "mean log-prob per token instead of the sum")
        pmi: bool = arg(False, "direct only: subtract log P(label | template without the text)")
        k_shot: int = arg(0, "demonstrations drawn from train (per prompt, shared by all texts)")
        demo_separator: str = arg("\n\n", "text between demonstrations and the prompt")
        seed: int = arg(0, "seed for drawing demonstrations")
        batch_size: int = arg(16, "continuations per forward pass")

    def __init__(self, **config):
        super().__init__(**config)
        if self.config.mode not in ("direct", "channel"):
            raise LlmdiscError(f"unknown zeroshot mode '{self.config.mode}'; use direct or channel")
        if self.config.pmi and self.config.mode != "direct":
            raise LlmdiscError("pmi applies to direct mode only")
        if self.config.k_shot < 0:
            raise LlmdiscError(f"k_shot must be >= 0, got {self.config.k_shot}")
        self.templates = [Template(t) for t in self.config.templates]
        self.model = self.tokenizer = None
        self.demonstrations: list[tuple[str, int]] = []
        self.calibration: list[np.ndarray] | None = None

    # ---- helpers ---------------------------------------------------------------------------

    def _verbalizers(self) -> list[str]:
        words = self.config.verbalizers or {}
        unknown = set(words) - set(self.labels)
        if unknown:
            raise LlmdiscError(f"verbalizers name unknown labels {sorted(unknown)}; labels are {self.labels}")
        out = [words.get(label, label) for label in self.labels]
        if not words and all(label.strip().lstrip("-").isdigit() for label in self.labels):
            logger.warning("the labels are numbers (%s) and no verbalizers are set: the model will score the "
                           "digits themselves; pass --label-names or verbalizers", ", ".join(self.labels))
        if len(set(out)) < len(out):
            raise LlmdiscError(f"two labels share a verbalizer ({out}); give each label its own word")
        return out

    def _ensure_model(self) -> None:
        if self.model is None:
            self.model, self.tokenizer = load_model(self.config.model, task="causal-lm")

    def _prefix(self, template: Template) -> str:
        words = self._verbalizers()
        shots = [template.demonstration(t, words[y], self.config.mode) for t, y in self.demonstrations]
        return "".join(s + self.config.demo_separator for s in shots)

    def _label_scores(self, texts: list[str], template: Template) -> np.ndarray:
        """(n, k) log-scores of each label for each text under one template."""
        words, prefix = self._verbalizers(), self._prefix(template)
        requests = []
        for text in texts:
            for word in words:
                context, continuation = (template.direct if self.config.mode == "direct" else template.channel)(text, word)
                requests.append((prefix + context, continuation))
        reduce = "mean" if self.config.length_normalize else "sum"
        scores = np.array(loglikelihood(self.model, self.tokenizer, requests, self.config.batch_size, reduce))
        scores = scores.reshape(len(texts), len(words))
        if self.config.pmi:
            # The same demonstrations precede the text-free prompt, so only the text differs.
            base = [(prefix + c, x) for c, x in (template.unconditional(w) for w in words)]
            scores = scores - np.array(loglikelihood(self.model, self.tokenizer, base, self.config.batch_size, reduce))
        return scores

    # ---- the interface ---------------------------------------------------------------------

    def _fit(self, texts: list[str], labels: np.ndarray, eval_data: datasets.Dataset | None) -> None:
        self._verbalizers()  # fail early on bad verbalizers
        self._ensure_model()
        self.demonstrations = []
        if self.config.k_shot:
            rng = np.random.default_rng(self.config.seed)
            picks = rng.choice(len(texts), size=min(self.config.k_shot, len(texts)), replace=False)
            self.demonstrations = [(texts[i], int(labels[i])) for i in picks]
        self.calibration = None
        if self.config.calibrate:
            self.calibration = [softmax(self._label_scores([self.config.content_free], t))[0] for t in self.templates]

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        self._ensure_model()
        probs = []
        for i, template in enumerate(self.templates):
            p = softmax(self._label_scores(texts, template))
            if self.calibration is not None:
                p = p / self.calibration[i]
                p = p / p.sum(axis=1, keepdims=True)
            probs.append(p)
        return np.mean(probs, axis=0)

    def num_parameters(self) -> dict[str, int]:
        self._ensure_model()
        return {"total": sum(p.numel() for p in self.model.parameters()), "trainable": 0}

    def _save(self, folder: Path) -> None:
        # The LM is not trained: the folder records how to rebuild the classifier, not weights.
        write_json(folder / "zeroshot.json", {
            "demonstrations": [{"text": t, "label": self.labels[y]} for t, y in self.demonstrations],
            "calibration": [c.tolist() for c in self.calibration] if self.calibration is not None else None,
        })

    def _load(self, folder: Path) -> None:
        state = json.loads((folder / "zeroshot.json").read_text(encoding="utf-8"))
        self.demonstrations = [(d["text"], self.labels.index(d["label"])) for d in state["demonstrations"]]
        self.calibration = [np.array(c) for c in state["calibration"]] if state["calibration"] is not None else None
