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

Long texts, in both modes alike: a text that does not fit the LM's window together with the
prompt is cut to its first tokens (as the encoder cuts to ``max_length``), with a warning that
counts the cut texts; the prompt, demonstrations included, is kept whole.

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
from ..hub import hub_base_model
from ..io import write_json
from ..metrics import softmax
from ..models import load_model
from ..scoring import context_window, encode_pair, loglikelihood, move_trailing_space
from .base import TextClassifier, register

__all__ = ["ZeroShotClassifier", "MIN_TEMPLATES", "Template", "causal_lm_loading_code", "likelihood_snippet"]

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


def _templates(sources: list[str]) -> list[Template]:
    """The templates, with a hint when a bad one looks like a piece of one split at its commas."""
    try:
        return [Template(t) for t in sources]
    except LlmdiscError as e:
        # A flag's list value is split at commas: "Review: {text}, so it was {label}" arrives as
        # two fragments, each lacking a placeholder; rejoined, they would make one template.
        joined = ", ".join(sources)
        pieces = len(sources) > 1 and not any("{text}" in t and "{label}" in t for t in sources)
        if pieces and joined.count("{text}") == 1 and joined.count("{label}") == 1:
            raise LlmdiscError(f"{e}; the templates value was split at its commas: to keep them, pass a JSON list "
                               f"(--templates '{json.dumps([joined])}') or a YAML list") from None
        raise


# What a model card's vanilla snippet scores with: llmdisc.scoring's conventions, one text at a time.
_LOGPROB_CODE = '''
def logprob(context, continuation):
    """log P(continuation | context), as llmdisc scores it: the context's trailing space joins the continuation."""
    stripped = context.rstrip()
    continuation = context[len(stripped):] + continuation
    ctx = tokenizer(stripped)["input_ids"]
    ids = ctx + tokenizer(stripped + continuation)["input_ids"][len(ctx):]
    with torch.no_grad():
        logp = model(input_ids=torch.tensor([ids])).logits[0].float().log_softmax(-1)
    return sum(logp[i - 1, ids[i]].item() for i in range(len(ctx), len(ids)))
'''


def causal_lm_loading_code(model: str, what: str = "the LM") -> str:
    """Plain-transformers lines that load the causal LM an llmdisc ``model`` setting names."""
    hub_id = hub_base_model(model)
    if hub_id and hub_id != model:  # a packaged alias
        note = (f"# {what}. llmdisc used its packaged copy `{model}` (a Q4_1 GGUF, de-quantized):\n"
                "# these original weights score slightly differently.\n")
    elif hub_id:
        note = f"# {what}.\n"
    else:
        note = f"# {what}: a local folder on the machine it was made on; point this at the same model.\n"
    return f"""import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

{note}base = {(hub_id or model)!r}
model = AutoModelForCausalLM.from_pretrained(base).eval()
tokenizer = AutoTokenizer.from_pretrained(base)
"""


def likelihood_snippet(load: str, labels: list[str], words: list[str], template: Template, mode: str,
                       demos: str = "", calibration: np.ndarray | None = None, prior: np.ndarray | None = None) -> str:
    """Plain-transformers code computing a likelihood classifier's probabilities, for model cards.

    Args:
        load: code that defines ``np``, ``torch``, ``model`` and ``tokenizer``.
        labels: the label names; words: what each is scored as.
        template: the one template; mode: ``direct`` or ``channel``.
        demos: the demonstrations before every prompt.
        calibration: label probabilities for the content-free input, to divide by.
        prior: class prior to multiply by (Bayes' rule).

    Returns:
        Code that defines ``texts`` and ends with ``probs`` (columns in the order of ``labels``).
    """
    lines = [load.strip(), _LOGPROB_CODE, f"labels = {labels!r}", f"words = {words!r}  # what each label is scored as",
             'texts = ["a text to classify", "another one"]']
    if mode == "direct":
        before = template.source[: template.source.find("{label}")]
        lines += [f"demos = {demos!r}  # demonstrations drawn from the training data" if demos else 'demos = ""',
                  f"prompt = {before!r}  # the template up to the label word",
                  "scores = np.array([[logprob(demos + prompt.replace(\"{text}\", t), w) for w in words] for t in texts])"]
    else:
        text_part, sep, label_part = template._parts
        contexts = [demos + label_part.replace("{label}", w) + sep + text_part[: text_part.find("{text}")] for w in words]
        lines += ["# Channel: each label's prompt comes first and the text is scored after it, P(text | label).",
                  f"contexts = {contexts!r}",
                  "scores = np.array([[logprob(c, t) for c in contexts] for t in texts])"]
    lines += ["probs = np.exp(scores - scores.max(axis=1, keepdims=True))",
              "probs /= probs.sum(axis=1, keepdims=True)"]
    if calibration is not None:
        lines += [f"calibration = np.array({[float(x) for x in calibration]!r})  # zeroshot.json: P(label | content-free input)",
                  "probs /= calibration",
                  "probs /= probs.sum(axis=1, keepdims=True)"]
    if prior is not None:
        lines += [f"prior = np.array({[float(x) for x in prior]!r})  # lora_head.json: the training class prior",
                  "probs *= prior  # Bayes' rule: P(label | text) ∝ P(text | label) P(label)",
                  "probs /= probs.sum(axis=1, keepdims=True)"]
    return "\n".join(lines) + "\n"


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
        self.templates = _templates(self.config.templates)
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

    def _fit_window(self, texts: list[str]) -> list[str]:
        """Cut texts too long for the model's window, with the prompt, to their first tokens.

        One policy for both modes, as for the encoder: keep the start of the text, count the cut
        ones in a warning. (Direct mode would otherwise lose the demonstrations and the text's
        start from the left, and channel mode, which scores the text itself, could not score it.)
        """
        limit = context_window(self.model)
        longest_prompt = 0  # the prompt around an empty text, over templates and label words
        for template in self.templates:
            prefix, pair = self._prefix(template), template.direct if self.config.mode == "direct" else template.channel
            for word in self._verbalizers():
                context, continuation = pair("", word)
                ids = encode_pair(self.tokenizer, prefix + context, continuation)
                longest_prompt = max(longest_prompt, len(ids[0]) + len(ids[1]))
        # A few tokens of slack: a text and its neighbours may tokenize differently at the joins.
        budget = limit - longest_prompt - 4
        if budget < 8:
            return texts  # the prompt alone fills the window: scoring cuts contexts and says so
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        long = [i for i, x in enumerate(ids) if len(x) > budget]
        if not long:
            return texts
        logger.warning("zeroshot: truncated %d of %d texts to their first %d tokens, to fit the model's %d-token "
                       "window with the prompt", len(long), len(texts), budget, limit)
        texts = list(texts)
        for i in long:
            texts[i] = self.tokenizer.decode(ids[i][:budget])
        return texts

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        self._ensure_model()
        texts = self._fit_window(texts)
        probs = []
        for i, template in enumerate(self.templates):
            p = softmax(self._label_scores(texts, template))
            if self.calibration is not None:
                p = p / self.calibration[i]
                p = p / p.sum(axis=1, keepdims=True)
            probs.append(p)
        return np.mean(probs, axis=0)

    @property
    def uses_training_data(self) -> bool:  # type: ignore[override]
        return self.config.k_shot > 0  # only demonstrations come from the training set

    def num_parameters(self) -> dict[str, int]:
        self._ensure_model()
        return {"total": sum(p.numel() for p in self.model.parameters()), "trainable": 0}

    def _card_approach(self) -> str:
        how = ("direct: each label word's log-likelihood after the prompt, log P(label | text)" if self.config.mode == "direct"
               else "channel: the text's log-likelihood after each label's prompt, log P(text | label), with a uniform prior")
        extras = [name for name, on in (("contextual calibration", self.config.calibrate),
                                        (f"{self.config.k_shot} demonstrations", self.config.k_shot),
                                        ("PMI", self.config.pmi), ("length normalisation", self.config.length_normalize),
                                        (f"{len(self.templates)} templates averaged", len(self.templates) > 1)) if on]
        return f"{self.description} Mode {how}" + (f"; with {', '.join(extras)}." if extras else ".")

    def _card_usage(self, repo: str) -> tuple[str, str]:
        load = causal_lm_loading_code(self.config.model, "The LM (this repo holds only the prompt settings)")
        unsupported = [name for name, on in (("PMI", self.config.pmi), ("length normalisation", self.config.length_normalize),
                                             ("several templates", len(self.templates) > 1)) if on]
        if unsupported:
            return "transformers", load + (f"# This model uses {', '.join(unsupported)}: llmdisc's scorer applies them "
                                           "(llmdisc.scoring); load it with llmdisc for its exact probabilities.\n")
        template = self.templates[0]
        return "transformers", likelihood_snippet(
            load, self.labels, self._verbalizers(), template, self.config.mode, demos=self._prefix(template),
            calibration=self.calibration[0] if self.calibration is not None else None)

    def _card_limits(self) -> list[str]:
        return ["No weights are stored: the folder holds the prompt settings (`llmdisc_config.json`, `zeroshot.json`) "
                "and the predictions depend on the exact base LM named above.",
                "Zero-shot accuracy is sensitive to the template and the label words; it is not trained on the labels."]

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
