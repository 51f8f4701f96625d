"""One likelihood scorer: a template, label words and ``scoring.loglikelihood``.

Zero-shot classification and the LoRA verbalizer and channel heads predict the same way: fill a
template with the text and each label's word, score with the LM, compare. :class:`Template`
splits a template into the pieces direct and channel scoring need, :func:`resolve_verbalizers`
turns the label names and a ``verbalizers`` mapping into the words scored, and
:class:`LikelihoodScorer` does the scoring. The model-card helpers at the end write the same
computation in plain transformers.

Templates hold ``{text}`` and, after it, ``{label}``: ``"Review: {text}\\nSentiment: {label}"``
or Min et al.'s ``"{text} A {label} one ."``. Where the space between context and continuation
goes is pinned down in :func:`llmdisc.lm.loglikelihood.move_trailing_space`.

* ``direct``: score log P(verbalizer | template up to ``{label}``). With the template above and
  the text "fine", the request is ``("Review: fine\\nSentiment:", " negative")``.
* ``channel``: score log P(text | label). The template is split at the whitespace after
  ``{text}``; the part holding ``{label}`` comes first, then the text part, and only the text is
  scored. For ``"{text} A {label} one ."`` that is ``("A terrible one .", " fine")``; for the
  review template, ``("Sentiment: negative\\nReview:", " fine")``. Scoring
  ``"\\nReview: fine"`` instead would add log P("\\nReview:" | label), a label-dependent bias
  (on SST-2 it costs 10 points; see benchmarks/RESULTS.md).

**Chat template** (``chat_template: true``, as lm-evaluation-harness's ``--apply_chat_template``;
:func:`chat_request`): an instruct model is prompted as it was tuned. The context (the
demonstrations and the template up to the scored part) becomes the user's turn, rendered by the
tokenizer's chat template with the assistant's turn opened (``add_generation_prompt=True``), and
the continuation is the start of the assistant's answer, without the template's leading space
(lm-eval drops its ``target_delimiter`` there too).

* ``direct``: the user asks ``"Review: fine\\nSentiment:"`` and the answer begins ``"negative"``.
* ``channel``: P(text | label) keeps its meaning: the user's turn names the label
  (``"Sentiment: negative\\nReview:"``) and the text is scored as the assistant's answer, the
  text an assistant asked for a negative review would write. Only the text is scored, as
  without a template; the prior over labels stays uniform.
* PMI's text-free prompt and the content-free input of calibration are wrapped the same way.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from llmdisc.errors import LlmdiscError
from llmdisc.lm.likelihood_cache import active_cache
from llmdisc.lm.loading import hub_base_model
from llmdisc.lm.loglikelihood import (
    DEFAULT_MAX_TOKENS,
    ScoreStore,
    context_window,
    encode_pair,
    move_trailing_space,
    reduce_scores,
    score_ids,
)
from llmdisc.lm.prompts import REVIEW_TEMPLATE
from llmdisc.metrics.classification import softmax

__all__ = [
    "MODES",
    "check_mode",
    "parse_templates",
    "MIN_TEMPLATES",
    "REVIEW_TEMPLATE",
    "PromptScoring",
    "LabelWeights",
    "Template",
    "resolve_verbalizers",
    "LikelihoodScorer",
    "prior_weights",
    "apply_weights",
    "causal_lm_loading_code",
    "likelihood_snippet",
    "check_chat_template",
    "chat_request",
    "cut_texts",
]

logger = logging.getLogger(__name__)

MODES = ("direct", "channel")
# Min et al. (2022), "Noisy channel language model prompting for few-shot text classification".
MIN_TEMPLATES = [
    "{text} A {label} one .",
    "{text} It was {label} .",
    "{text} All in all {label} .",
    "{text} A {label} piece .",
]


@dataclass(frozen=True)
class PromptScoring:
    """How each (text, label word) is scored: one object, declared once.

    The zero-shot and LoRA configs build it (``prompt_scoring()``) and pass it whole to
    :class:`LikelihoodScorer`, to prompt selection and to the model card's snippet, so that a
    prompt is chosen, scored and written down with the same settings.

    Attributes:
        mode: ``direct`` (log P(word | text)) or ``channel`` (log P(text | word)).
        length_normalize: mean log-prob per token instead of the sum.
        pmi: direct only: subtract log P(word | the template without the text).
        demo_separator: text between the demonstrations and the prompt.
        batch_size: continuations (text-label pairs) per forward pass at most, or ``auto``.
        chat_template: wrap each prompt in the tokenizer's chat template (:func:`chat_request`).
        max_tokens: the token budget per batch, ``batch_size`` capping its rows
            (:func:`llmdisc.lm.loglikelihood.loglikelihood`; None: batches of ``batch_size``).
        shared_prefix: run the prefix every prompt shares (the demonstrations, an instruction)
            once and reuse its key/value cache (:mod:`llmdisc.lm.loglikelihood`); False: every
            prompt whole, the path before (the same scores within 1e-4).
        cache_scores: inside a comparison, score through its likelihood cache
            (:mod:`llmdisc.lm.likelihood_cache`), so a prompt another approach or cell scored
            with the same model is not run again. For frozen models (zero-shot); a LoRA head's
            weights are new in every run.
    """

    mode: str = "direct"
    length_normalize: bool = False
    pmi: bool = False
    demo_separator: str = "\n\n"
    batch_size: int | str = 64
    chat_template: bool = False
    max_tokens: int | None = DEFAULT_MAX_TOKENS
    shared_prefix: bool = True
    cache_scores: bool = False


@dataclass(frozen=True)
class LabelWeights:
    """Per-label weights a likelihood classifier multiplies its probabilities by, and where they
    come from (for the comment beside them in a model card's snippet)."""

    values: np.ndarray
    source: str = "lora_head.json: the training class prior"


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
        if not re.match(r"\s", self.source[t + 6 :]):
            raise LlmdiscError(f"template {self.source!r} needs whitespace right after {{text}}")

    @property
    def _parts(self) -> tuple[str, str, str]:
        """(text part, whitespace separator, label part)."""
        end = self.source.find("{text}") + len("{text}")
        sep = re.match(r"\s+", self.source[end:]).group(0)
        return self.source[:end], sep, self.source[end + len(sep) :]

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


def parse_templates(sources: Sequence[str]) -> list[Template]:
    """The templates, with a hint when a bad one looks like a piece of one split at its commas."""
    try:
        return [Template(t) for t in sources]
    except LlmdiscError as e:
        # A flag's list value is split at commas: "Review: {text}, so it was {label}" arrives as
        # two fragments, each lacking a placeholder; rejoined, they would make one template.
        joined = ", ".join(sources)
        pieces = len(sources) > 1 and not any("{text}" in t and "{label}" in t for t in sources)
        if pieces and joined.count("{text}") == 1 and joined.count("{label}") == 1:
            raise LlmdiscError(
                f"{e}; the templates value was split at its commas: to keep them, pass a JSON list "
                f"(--templates '{json.dumps([joined])}') or a YAML list"
            ) from None
        raise


def resolve_verbalizers(labels: Sequence[str], verbalizers: Mapping[str, str] | None) -> list[str]:
    """The word scored for each label, in label order.

    Args:
        labels: the label names.
        verbalizers: label name -> word; a label not in it is scored as its own name.

    Returns:
        One word per label. A mapping naming an unknown label, an empty word, or two labels
        sharing a word is a one-line error. (Label names unlikely to be scored as meant are
        flagged once per run by ``compare`` and ``train``: :func:`llmdisc.lm.prompts.label_words_warning`.)
    """
    words = dict(verbalizers or {})
    unknown = set(words) - set(labels)
    if unknown:
        raise LlmdiscError(f"verbalizers name unknown labels {sorted(unknown)}; labels are {list(labels)}")
    empty = [label for label, word in words.items() if not str(word).strip()]
    if empty:
        raise LlmdiscError(f"the verbalizer for label {empty[0]!r} is empty; give it a word, e.g. {empty[0]}=WORD")
    out = [words.get(label, label) for label in labels]
    if len(set(out)) < len(out):
        raise LlmdiscError(f"two labels share a verbalizer ({out}); give each label its own word")
    return out


def check_chat_template(tokenizer, model: str) -> None:
    """A one-line error when ``chat_template: true`` meets a tokenizer without a chat template."""
    if not getattr(tokenizer, "chat_template", None):
        raise LlmdiscError(
            f"chat_template is on, but the tokenizer of {model!r} has no chat template (a base model, "
            "not an instruct one); set chat_template: false or use an instruct model"
        )


def chat_request(tokenizer, context: str, continuation: str) -> tuple[str, str]:
    """``(context, continuation)`` as one chat exchange (see the module docstring).

    Args:
        tokenizer: a tokenizer with a chat template.
        context: the user's turn (the prompt up to the scored part).
        continuation: what is scored; it starts the assistant's answer, leading whitespace dropped.

    Returns:
        The rendered prompt, ending with the assistant's turn opened, and the continuation; score
        them with ``chat=True`` (:func:`llmdisc.lm.loglikelihood.encode_pair`).
    """
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": context}], add_generation_prompt=True, tokenize=False
    )
    return prompt, continuation.lstrip()


def cut_texts(tokenizer, texts: Sequence[str], budget: int, what: str, window: int) -> list[str]:
    """Texts longer than ``budget`` tokens cut to their first ``budget``, with one warning counting them.

    Args:
        what: who cuts, for the warning; window: the limit the budget leaves room under, for it too.
    """
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    long = [i for i, x in enumerate(ids) if len(x) > budget]
    if not long:
        return list(texts)
    logger.warning(
        "%s: truncated %d of %d texts to their first %d tokens, to fit the model's %d-token window with the prompt",
        what,
        len(long),
        len(texts),
        budget,
        window,
    )
    texts = list(texts)
    for i in long:
        texts[i] = tokenizer.decode(ids[i][:budget])
    return texts


class LikelihoodScorer:
    """Label probabilities from a causal LM's likelihoods, for one set of templates and words.

    Built once per trained model (the zero-shot classifier after ``fit`` or loading, a LoRA head
    after training or loading) and reused for every prediction.

    Args:
        model, tokenizer: the causal LM.
        labels: the label names (columns of the output, in order).
        templates: one or more templates; several are averaged (probabilities, not scores).
        verbalizers: label name -> word (see :func:`resolve_verbalizers`).
        scoring: how each prompt is scored (:class:`PromptScoring`).
        demonstrations: ``(text, label index)`` pairs put before every prompt.
    """

    def __init__(
        self,
        model,
        tokenizer,
        labels: Sequence[str],
        templates: Sequence[str | Template],
        verbalizers: Mapping[str, str] | None = None,
        scoring: PromptScoring = PromptScoring(),
        demonstrations: Sequence[tuple[str, int]] = (),
    ) -> None:
        check_mode(scoring.mode, scoring.pmi)
        if scoring.chat_template:
            check_chat_template(tokenizer, getattr(model.config, "_name_or_path", "the model"))
        self.scoring = scoring
        self.model, self.tokenizer, self.labels = model, tokenizer, list(labels)
        self.templates = [t if isinstance(t, Template) else Template(t) for t in templates]
        if not self.templates:
            raise LlmdiscError("give at least one template")
        self.words = resolve_verbalizers(self.labels, verbalizers)
        self.demonstrations = list(demonstrations)
        self._last: tuple[tuple, list[np.ndarray]] | None = None  # (texts and calibration, per-template probabilities)

    @property
    def mode(self) -> str:
        return self.scoring.mode

    def prefix(self, template: Template) -> str:
        """The demonstrations, filled in with ``template``, that precede every prompt."""
        shots = [template.demonstration(t, self.words[y], self.mode) for t, y in self.demonstrations]
        return "".join(s + self.scoring.demo_separator for s in shots)

    def request(self, context: str, continuation: str) -> tuple[str, str]:
        """A (context, continuation) pair as it is scored: in the chat template when it is on."""
        chat = self.scoring.chat_template
        return chat_request(self.tokenizer, context, continuation) if chat else (context, continuation)

    def _loglikelihood(self, requests: list[tuple[str, str]]) -> np.ndarray:
        """Each request's log-likelihood (summed, or per token with ``length_normalize``)."""
        s = self.scoring
        ids = [encode_pair(self.tokenizer, c, x, s.chat_template) for c, x in requests]
        scores = score_ids(self.model, ids, s.batch_size, s.max_tokens, s.shared_prefix, self._store())
        return np.array(reduce_scores(scores, "mean" if s.length_normalize else "sum"))

    def _store(self) -> ScoreStore | None:
        """The running comparison's likelihood cache for this model, when the settings share scores."""
        cache = active_cache() if self.scoring.cache_scores else None
        return cache.for_model(self.model, self.tokenizer) if cache is not None else None

    def label_scores(self, texts: Sequence[str], template: Template) -> np.ndarray:
        """(n, k) log-scores of each label for each text under one template."""
        prefix = self.prefix(template)
        pair = template.direct if self.mode == "direct" else template.channel
        requests = [
            self.request(prefix + context, continuation)
            for text in texts
            for context, continuation in (pair(text, word) for word in self.words)
        ]
        scores = self._loglikelihood(requests).reshape(len(texts), len(self.words))
        if self.scoring.pmi:
            # The same demonstrations precede the text-free prompt, so only the text differs.
            base = [self.request(prefix + c, x) for c, x in (template.unconditional(w) for w in self.words)]
            scores = scores - self._loglikelihood(base)
        return scores

    def fit_window(self, texts: Sequence[str]) -> list[str]:
        """Cut texts too long for the model's window, with the prompt, to their first tokens.

        One policy for both modes, as for the encoder: keep the start of the text, count the cut
        ones in a warning. (Direct mode would otherwise lose the demonstrations and the text's
        start from the left, and channel mode, which scores the text itself, could not score it.)
        """
        limit = context_window(self.model)
        longest_prompt = 0  # the prompt around an empty text, over templates and label words
        for template in self.templates:
            prefix, pair = self.prefix(template), template.direct if self.mode == "direct" else template.channel
            for word in self.words:
                context, continuation = pair("", word)
                ids = encode_pair(
                    self.tokenizer, *self.request(prefix + context, continuation), chat=self.scoring.chat_template
                )
                longest_prompt = max(longest_prompt, len(ids[0]) + len(ids[1]))
        # A few tokens of slack: a text and its neighbours may tokenize differently at the joins.
        budget = limit - longest_prompt - 4
        if budget < 8:
            return list(texts)  # the prompt alone fills the window: scoring cuts contexts and says so
        return cut_texts(self.tokenizer, texts, budget, "zeroshot", limit)

    def content_free_probabilities(self, content_free: str) -> list[np.ndarray]:
        """Per template, the label probabilities for a content-free input (contextual calibration)."""
        return [softmax(self.label_scores([content_free], t))[0] for t in self.templates]

    def template_probabilities(
        self, texts: Sequence[str], calibration: Sequence[np.ndarray] | None = None, reuse_last: bool = False
    ) -> list[np.ndarray]:
        """Per template, the (n, k) label probabilities: the softmax of its scores.

        Args:
            texts: the texts.
            calibration: per template, probabilities to divide by (Zhao et al., 2021), as
                :meth:`content_free_probabilities` returns; None for none.
            reuse_last: return the last call's result when it was for the same texts and
                calibration (asking for the templates of texts just classified scores nothing
                again); only where the model has not changed since (not while training).

        Texts too long for the window are cut first (:meth:`fit_window`).
        """
        key = (tuple(texts), None if calibration is None else tuple(map(tuple, calibration)))
        if reuse_last and self._last is not None and self._last[0] == key:
            return self._last[1]
        texts = self.fit_window(texts)
        probs = []
        for i, template in enumerate(self.templates):
            p = softmax(self.label_scores(texts, template))
            if calibration is not None:
                p = p / calibration[i]
                p = p / p.sum(axis=1, keepdims=True)
            probs.append(p)
        self._last = (key, probs)
        return probs

    def probabilities(self, texts: Sequence[str], calibration: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """(n, k) label probabilities: :meth:`template_probabilities` averaged over the templates."""
        return np.mean(self.template_probabilities(texts, calibration), axis=0)


def prior_weights(train_probs: np.ndarray, train_labels: np.ndarray) -> np.ndarray:
    """Per-label weights that swap the scorer's own label prior for the training class prior.

    A likelihood classifier carries a prior of its own: its label words' frequencies (direct)
    or the uniform one (channel). Label-shift correction (Saerens et al., 2002, in one step)
    estimates that prior as its mean prediction over the training texts, and the data's prior
    as their class frequencies, then reweights: P'(y | x) ∝ P(y | x) * prior(y) / mean(y).
    Unlike content-free calibration, this uses in-domain texts and knows the classes may be
    imbalanced.

    Args:
        train_probs: (n, k) the scorer's probabilities for the n training texts (n > 0).
        train_labels: their n label indices.

    Returns:
        (k,) weights; multiply a row of probabilities by them and renormalise
        (:func:`apply_weights`). Both priors are add-one smoothed, so no class gets weight 0.
    """
    train_probs = np.asarray(train_probs, dtype=np.float64)
    n, k = train_probs.shape
    if n == 0:
        raise LlmdiscError("prior correction needs training examples (n > 0)")
    counts = np.bincount(np.asarray(train_labels, dtype=int), minlength=k).astype(float)
    prior = (counts + 1) / (n + k)
    marginal = (train_probs.sum(axis=0) + 1 / k) / (n + 1)  # the model's own prior, smoothed toward uniform
    return prior / marginal


def apply_weights(probs: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Rows of ``probs`` multiplied by per-label ``weights`` and renormalised (None: unchanged)."""
    if weights is None:
        return probs
    out = np.asarray(probs, dtype=np.float64) * np.asarray(weights)
    return out / out.sum(axis=1, keepdims=True)


def check_mode(mode: str, pmi: bool = False) -> None:
    """A one-line error for an unknown scoring mode, or PMI outside direct mode."""
    if mode not in MODES:
        raise LlmdiscError(f"unknown scoring mode '{mode}'; use {' or '.join(MODES)}")
    if pmi and mode != "direct":
        raise LlmdiscError("pmi applies to direct mode only")


# What a model card's vanilla snippet scores with: llmdisc.lm.loglikelihood's conventions, one text at a time.
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
# The same with the chat template on: the prompt is the user's turn, the answer is scored after it.
_CHAT_LOGPROB_CODE = '''
def chat(user):
    """The prompt as the user's turn, with the assistant's turn opened."""
    return tokenizer.apply_chat_template([{"role": "user", "content": user}], add_generation_prompt=True, \
tokenize=False)


def logprob(prompt, answer):
    """log P(answer | chat prompt): the rendered prompt is tokenized whole (its template writes the special tokens)."""
    ctx = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = tokenizer(prompt + answer, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = model(input_ids=torch.tensor([ids])).logits[0].float().log_softmax(-1)
    return sum(logp[i - 1, ids[i]].item() for i in range(len(ctx), len(ids)))
'''


def causal_lm_loading_code(model: str, what: str = "the LM") -> str:
    """Plain-transformers lines that load the causal LM an llmdisc ``model`` setting names."""
    hub_id = hub_base_model(model)
    if hub_id and hub_id != model:  # a packaged alias
        note = (
            f"# {what}. llmdisc used its packaged copy `{model}` (a Q4_1 GGUF, de-quantized):\n"
            "# these original weights score slightly differently.\n"
        )
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


def _snippet_scores(words: list[str], template: Template, scoring: PromptScoring, demos: str) -> list[str]:
    """The snippet's lines that compute ``scores``, (texts, labels) log-likelihoods, in its mode."""
    chat = scoring.chat_template
    lines = []
    if scoring.mode == "direct":
        before = template.source[: template.source.find("{label}")]
        filled = 'demos + prompt.replace("{text}", t)'
        lines += [
            f"demos = {demos!r}  # demonstrations drawn from the training data" if demos else 'demos = ""',
            f"prompt = {before!r}  # the template up to the label word",
            (
                f"scores = np.array([[logprob(chat({filled}.rstrip()), w) for w in words] for t in texts])"
                if chat
                else f"scores = np.array([[logprob({filled}, w) for w in words] for t in texts])"
            ),
        ]
    else:
        text_part, sep, label_part = template._parts
        contexts = [
            demos + label_part.replace("{label}", w) + sep + text_part[: text_part.find("{text}")] for w in words
        ]
        lines += [
            "# Channel: each label's prompt comes first and the text is scored after it, P(text | label).",
            f"contexts = {[c.rstrip() for c in contexts] if chat else contexts!r}",
        ]
        lines += (
            [
                "# The label's prompt is the user's turn; the text is scored as the assistant's answer.",
                "scores = np.array([[logprob(chat(c), t.lstrip()) for c in contexts] for t in texts])",
            ]
            if chat
            else ["scores = np.array([[logprob(c, t) for c in contexts] for t in texts])"]
        )
    return lines


def likelihood_snippet(
    load: str,
    labels: list[str],
    words: list[str],
    template: Template,
    scoring: PromptScoring,
    demos: str = "",
    calibration: np.ndarray | None = None,
    prior: LabelWeights | None = None,
) -> str:
    """Plain-transformers code computing a likelihood classifier's probabilities, for model cards.

    Args:
        load: code that defines ``np``, ``torch``, ``model`` and ``tokenizer``.
        labels: the label names; words: what each is scored as.
        template: the one template.
        scoring: its mode (``direct`` or ``channel``) and whether the prompts are wrapped in the
            model's chat template (:func:`chat_request`); the snippet covers neither PMI nor
            length normalisation (its callers say so instead).
        demos: the demonstrations before every prompt.
        calibration: label probabilities for the content-free input, to divide by.
        prior: per-label weights to multiply by (the class prior, Bayes' rule; or prior weights),
            with the note saying where they come from.

    Returns:
        Code that defines ``texts`` and ends with ``probs`` (columns in the order of ``labels``).
    """
    lines = [
        load.strip(),
        _CHAT_LOGPROB_CODE if scoring.chat_template else _LOGPROB_CODE,
        f"labels = {labels!r}",
        f"words = {words!r}  # what each label is scored as",
        'texts = ["a text to classify", "another one"]',
    ]
    lines += _snippet_scores(words, template, scoring, demos)
    lines += [
        "probs = np.exp(scores - scores.max(axis=1, keepdims=True))",
        "probs /= probs.sum(axis=1, keepdims=True)",
    ]
    if calibration is not None:
        lines += [
            f"calibration = np.array({[float(x) for x in calibration]!r})"
            "  # zeroshot.json: P(label | content-free input)",
            "probs /= calibration",
            "probs /= probs.sum(axis=1, keepdims=True)",
        ]
    if prior is not None:
        lines += [
            f"prior = np.array({[float(x) for x in prior.values]!r})  # {prior.source}",
            "probs *= prior  # Bayes' rule: P(label | text) ∝ P(text | label) P(label)",
            "probs /= probs.sum(axis=1, keepdims=True)",
        ]
    return "\n".join(lines) + "\n"
