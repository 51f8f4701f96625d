"""Zero-shot classification with a generative LM, by comparing likelihoods.

Each label has a *verbalizer*, the word that fills a template's ``{label}`` (by default the
label name itself). ``direct`` mode scores log P(verbalizer | text), ``channel`` mode
log P(text | verbalizer) and compares labels by Bayes' rule with a uniform prior; the scoring
itself, and where each piece of the template goes, is :mod:`llmdisc.lm.label_likelihood`'s.

The template comes from ``templates`` or, when none are given, from ``task``
(:func:`llmdisc.lm.prompts.task_templates`: a task-neutral template by default, the review template
for ``task: sentiment``).

Options: contextual calibration (Zhao et al., 2021: divide by the label probabilities for a
content-free input such as "N/A"), prior correction from the training subset (``prior: train``:
divide by the model's mean prediction over the training texts, multiply by their class
frequencies; :func:`llmdisc.lm.label_likelihood.prior_weights`), length normalisation (mean instead
of summed log-prob), PMI (subtract log P(verbalizer | the template's text-free part), Holtzman et al., 2021),
several templates averaged, k demonstrations drawn from train with a seed, and the model's chat
template (``chat_template: true``: the prompt is the user's turn and the label word, or in
channel mode the text, is scored as the start of the assistant's answer, as lm-evaluation-harness's
``--apply_chat_template`` does; :mod:`llmdisc.lm.label_likelihood`).

Long texts, in both modes alike: a text that does not fit the LM's window together with the
prompt is cut to its first tokens (as the encoder cuts to ``max_length``), with a warning that
counts the cut texts; the prompt, demonstrations included, is kept whole.

``fit`` does only what those options need: it draws the demonstrations and computes the
calibration and the prior weights; the LM is not trained.

With ``select: true`` the classifier becomes a trained approach (it is run at every training
size of a comparison): ``fit`` picks one template and one set of label words among the
candidates by cross-validated accuracy on its training examples only
(:mod:`llmdisc.lm.prompt_selection`, "true few-shot" prompt selection), then predicts with them
alone. The choice is recorded (``info.prompt``, the run record's ``prompt``), saved, and named on
the model card. Without ``select`` (pure zero-shot), nothing is selected: the prompt is the one
configured.

With ``pick_prompt: true`` the classifier picks its prompt once, by the same scoring and rule, on the
examples ``fit`` is given, and stays zero-shot otherwise (nothing fitted, no prior); the candidate
templates are ``select``'s, the label words are the user's (:func:`~llmdisc.lm.prompt_selection.pick_verbalizers`:
the examples choose words only among ``candidate_words``). The default, ``None``, picks nothing when
the classifier is used alone, but a comparison turns the pick on (:meth:`ZeroShotClassifier.prompt_pick`)
for an entry that sets no ``templates``, ``task`` or ``select`` and fits nothing on the examples,
and runs it once, on its smallest training subset: so a user who does not name the task is not
handed the task-neutral template's accuracy. ``pick_prompt: false`` keeps the configured prompt.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from llmdisc.api.records import PromptChoice
from llmdisc.classifiers.base import TextClassifier, read_json_object, register
from llmdisc.errors import LlmdiscError, first_line
from llmdisc.lm.batch_sizes import check_batch_size, check_max_tokens
from llmdisc.lm.devices import check_placement, device_field, dtype_field, model_placement
from llmdisc.lm.label_likelihood import (
    MIN_TEMPLATES,
    REVIEW_TEMPLATE,
    LabelWeights,
    LikelihoodScorer,
    PromptScoring,
    Template,
    apply_weights,
    causal_lm_loading_code,
    check_chat_template,
    check_mode,
    likelihood_snippet,
    parse_templates,
    prior_weights,
    resolve_verbalizers,
)
from llmdisc.lm.loading import check_model_available, load_model, load_tokenizer
from llmdisc.lm.prompt_selection import (
    SELECT_METRICS,
    SelectionRule,
    candidate_templates,
    candidate_verbalizers,
    check_select_size,
    pick_verbalizers,
    select_prompt,
)
from llmdisc.lm.prompts import task_templates
from llmdisc.plumbing.atomic_files import write_json
from llmdisc.plumbing.config import DEFAULT_SEED, arg

if TYPE_CHECKING:
    import datasets

__all__ = ["ZeroShotClassifier", "MIN_TEMPLATES", "PRIORS", "REVIEW_TEMPLATE", "Template"]

logger = logging.getLogger(__name__)

#: The prompt settings a zero-shot folder holds (no weights).
STATE_FILE = "zeroshot.json"

PRIORS = ("none", "train")


def _check_pick(c: ZeroShotClassifier.Config) -> None:
    """One line for ``pick_prompt: true`` beside a setting that fits on the examples: those run
    at every training size, where ``select: true`` picks the prompt with them (held out)."""
    clash = (
        "select: true"
        if c.select
        else f"k_shot: {c.k_shot}"
        if c.k_shot
        else "prior: train"
        if c.prior == "train"
        else None
    )
    if clash:
        raise LlmdiscError(
            f"pick_prompt: true picks a prompt once and stays zero-shot, which {clash} is not; "
            "use select: true to pick at every training size, or drop one of them"
        )


@register("zeroshot")
class ZeroShotClassifier(TextClassifier):
    """Classify by comparing a causal LM's likelihoods of label words (or of the text)."""

    paradigm = "generative"
    description = "A causal LM classifying without training, by comparing likelihoods (direct or channel)."
    takes_seed = True  # the seed draws the demonstrations
    scores_label_words = True
    uses_causal_lm = True

    @dataclass
    class Config:
        model: str = arg("smollm2-135m", "causal LM: an alias, a folder, a .gguf file or a Hub id")
        mode: str = arg(PromptScoring.mode, "direct: P(label | text); channel: P(text | label)")
        templates: list[str] | None = arg(
            None, "one or more templates with {text} then {label}; several are averaged (default: the task's)"
        )
        task: str | None = arg(
            None,
            "sentiment, topic, spam or an instruction: picks the templates when none are given "
            "(default: a task-neutral template)",
        )
        verbalizers: dict[str, str] | None = arg(
            None, "label name -> word, e.g. neg=negative,pos=positive (default: the label names)"
        )
        calibrate: bool = arg(False, "contextual calibration with a content-free input")
        prior: str = arg(
            "none",
            "train: correct by the training subset's class prior (divide by the model's mean "
            "prediction on the training texts, multiply by their class frequencies)",
        )
        content_free: str = arg("N/A", "the content-free input for calibration")
        length_normalize: bool = arg(PromptScoring.length_normalize, "mean log-prob per token instead of the sum")
        pmi: bool = arg(PromptScoring.pmi, "direct only: subtract log P(label | template without the text)")
        k_shot: int = arg(0, "demonstrations drawn from train (per prompt, shared by all texts)")
        demo_separator: str = arg(PromptScoring.demo_separator, "text between demonstrations and the prompt")
        seed: int = arg(DEFAULT_SEED, "seed for drawing demonstrations")
        batch_size: int | str = arg(
            PromptScoring.batch_size,
            "text-label pairs scored per forward pass at most, or auto: the largest that fits",
        )
        max_tokens: int | None = arg(
            PromptScoring.max_tokens,
            "token budget per forward pass (pairs x the longest): short "
            "texts run many to a batch, long ones few; none: batch_size pairs each",
        )
        chat_template: bool = arg(
            PromptScoring.chat_template,
            "wrap the prompt in the model's chat template (instruct models): the prompt "
            "is the user's turn, the label word starts the assistant's answer",
        )
        shared_prefix: bool = arg(
            PromptScoring.shared_prefix,
            "run the prefix every prompt shares (the demonstrations) once and reuse its "
            "key/value cache; false: every prompt whole, the slower path before (same scores)",
        )
        select: bool = arg(
            False,
            "pick one template and label words per training subset by cross-validated accuracy "
            "on it (true few-shot); templates are then candidates, each tried alone",
        )
        candidate_words: list[str] | None = arg(
            None,
            "with select: words tried for the labels in every assignment, "
            "e.g. negative,positive (besides the verbalizers and label names)",
        )
        select_metric: str = arg(
            SelectionRule.metric, "with select: accuracy (ties: log-likelihood) or log_likelihood"
        )
        select_folds: int = arg(
            SelectionRule.folds, "with select: cross-validation folds (the prior, if fitted, is fitted on the others)"
        )
        pick_prompt: bool | None = arg(
            None,
            "pick the template (and among candidate_words the label words) once, by accuracy on the "
            "examples fit is given, then classify zero-shot with it; default: only in a comparison, for an "
            "entry with no templates, task or select, on its smallest training subset (false: never)",
        )
        device: str = device_field()
        dtype: str = dtype_field()

        def prompt_scoring(self) -> PromptScoring:
            """How each (text, label) is scored: the same for prediction and for choosing a prompt."""
            return PromptScoring(
                mode=self.mode,
                length_normalize=self.length_normalize,
                pmi=self.pmi,
                demo_separator=self.demo_separator,
                batch_size=self.batch_size,
                chat_template=self.chat_template,
                max_tokens=self.max_tokens,
                shared_prefix=self.shared_prefix,
                cache_scores=True,  # the LM is frozen: a comparison's approaches share its scores
            )

        def selection_rule(self) -> SelectionRule:
            """How ``select: true`` scores and judges the candidate prompts."""
            return SelectionRule(
                scoring=self.prompt_scoring(),
                content_free=self.content_free if self.calibrate else None,
                prior=self.prior == "train",
                folds=self.select_folds,
                seed=self.seed,
                metric=self.select_metric,
            )

    def __init__(self, **config):
        super().__init__(**config)
        c = self.config
        check_mode(c.mode, c.pmi)
        if c.k_shot < 0:
            raise LlmdiscError(f"k_shot must be >= 0, got {c.k_shot}")
        if c.prior not in PRIORS:
            raise LlmdiscError(f"unknown prior {c.prior!r}; use {' or '.join(PRIORS)}")
        if c.select:
            if c.k_shot:
                raise LlmdiscError(
                    "select: true does not combine with k_shot > 0 (the demonstrations would come from the "
                    "examples that judge the prompts); set one of them"
                )
            if c.select_metric not in SELECT_METRICS:
                raise LlmdiscError(f"unknown select_metric {c.select_metric!r}; use {' or '.join(SELECT_METRICS)}")
            if c.select_folds < 2:
                raise LlmdiscError(f"select_folds must be at least 2, got {c.select_folds}")
        elif c.candidate_words and not c.pick_prompt:
            raise LlmdiscError(
                "candidate_words needs select: true or pick_prompt: true (without them, give the words "
                "with verbalizers)"
            )
        if c.pick_prompt:
            _check_pick(c)
        # Whether the user named the prompt (a comparison picks one only where nobody did).
        self._prompt_named = bool(c.templates) or c.task is not None
        # The resolved templates are kept in the config, so that a saved model keeps its prompt
        # (with select, its candidates) even if a later version changes a task's default template.
        c.templates = (
            candidate_templates(c.templates, c.task)
            if c.select or c.pick_prompt
            else list(c.templates)
            if c.templates
            else task_templates(c.task)
        )
        c.batch_size = check_batch_size(c.batch_size, "zeroshot.batch_size")
        c.max_tokens = check_max_tokens(c.max_tokens, "zeroshot.max_tokens")
        self.templates = parse_templates(c.templates)
        if not self.templates:
            raise LlmdiscError("zeroshot needs at least one template")
        # What is scored: the configured prompt, or after selection the chosen one.
        self.verbalizers: dict[str, str] | None = c.verbalizers
        self.choice: PromptChoice | None = None
        self.model = self.tokenizer = None
        self.demonstrations: list[tuple[str, int]] = []
        self.calibration: list[np.ndarray] | None = None
        self.prior_weights: np.ndarray | None = None
        self._scorer: LikelihoodScorer | None = None

    def _check(self, labels: list[str]) -> None:
        self._word_sets(labels)
        check_placement(self.config.device, self.config.dtype)
        check_model_available(self.config.model)
        if self.config.chat_template:  # the tokenizer alone answers, before the model loads
            check_chat_template(load_tokenizer(self.config.model), self.config.model)

    def _check_size(self, n: int) -> None:
        if self.config.select:
            check_select_size(n, self.config.select_folds)

    def _word_sets(self, labels: list[str]) -> list[dict[str, str]]:
        """The label-word sets selection (or the pick) tries, after checking the verbalizers."""
        c = self.config
        resolve_verbalizers(labels, c.verbalizers)
        if c.select:
            return candidate_verbalizers(labels, c.verbalizers, c.candidate_words)
        return pick_verbalizers(labels, c.verbalizers, c.candidate_words) if c.pick_prompt else []

    def label_words(self, labels) -> list[str] | None:
        c = self.config
        if self.choice is None and (c.select or (c.pick_prompt and len(self._word_sets(list(labels))) > 1)):
            return None  # chosen on the training examples: each run records its own (RunRecord.prompt)
        return resolve_verbalizers(list(labels), self.verbalizers)

    def prompt_pick(self) -> dict[str, Any] | None:
        """``{"pick_prompt": True}`` when nobody chose this zero-shot classifier's prompt: no
        ``templates``, ``task`` or ``select``, ``pick_prompt`` left unset, and nothing fitted on the
        examples (no ``prior: train``, no demonstrations: those run at every training size, where
        ``select: true`` is the honest pick)."""
        c = self.config
        if c.pick_prompt is None and not (self._prompt_named or c.select or self.uses_training_data):
            return {"pick_prompt": True}
        return None

    def _load_lm(self) -> None:
        if self.model is None:
            self.model, self.tokenizer = load_model(
                self.config.model, task="causal-lm", device=self.config.device, dtype=self.config.dtype
            )
            self.info.device, self.info.dtype = model_placement(self.model)

    def _use_choice(self, choice: PromptChoice | None) -> None:
        """Predict with the chosen prompt from now on (None: the configured one)."""
        self.choice, self.info.prompt, self._scorer = choice, choice, None
        if choice is not None:
            self.templates, self.verbalizers = parse_templates([choice.template]), dict(choice.words)

    def scorer(self) -> LikelihoodScorer:
        """The likelihood scorer of this classifier (built once, after the demonstrations are known)."""
        if self._scorer is None:
            self._load_lm()
            self._scorer = LikelihoodScorer(
                self.model,
                self.tokenizer,
                self.labels,
                self.templates,
                self.verbalizers,
                self.config.prompt_scoring(),
                self.demonstrations,
            )
        return self._scorer

    # ---- the interface ---------------------------------------------------------------------

    def _fit(self, texts: list[str], labels: np.ndarray, eval_data: datasets.Dataset | None) -> None:
        c = self.config
        word_sets = self._word_sets(self.labels)  # fail before loading the model
        if c.select or c.pick_prompt:
            self._check_size(len(texts))
            self._load_lm()
            # All the candidates are scored as the classifier will predict; calibration and the
            # prior are refitted below, for the winner, on all the training examples.
            self._use_choice(
                select_prompt(
                    self.model,
                    self.tokenizer,
                    self.labels,
                    texts,
                    labels,
                    c.templates,
                    word_sets,
                    c.selection_rule(),
                )
            )
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
        # Demonstrations, the prior and a selected prompt come from the training set; otherwise nothing does.
        return self.config.select or self.config.k_shot > 0 or self.config.prior == "train"

    def num_parameters(self) -> dict[str, int]:
        self.scorer()  # loads the model
        return {"total": sum(p.numel() for p in self.model.parameters()), "trainable": 0}

    def _card_approach(self) -> str:
        how = (
            "direct: each label word's log-likelihood after the prompt, log P(label | text)"
            if self.config.mode == "direct"
            else "channel: the text's log-likelihood after each label's prompt, log P(text | label), "
            "with a uniform prior"
        )
        extras = [
            name
            for name, on in (
                ("contextual calibration", self.config.calibrate),
                ("the training class prior", self.config.prior == "train"),
                (f"{self.config.k_shot} demonstrations", self.config.k_shot),
                ("PMI", self.config.pmi),
                ("length normalisation", self.config.length_normalize),
                (f"{len(self.templates)} templates averaged", len(self.templates) > 1),
                (
                    "the model's chat template (the prompt as the user's turn, the scored part as "
                    "the start of the assistant's answer)",
                    self.config.chat_template,
                ),
            )
            if on
        ]
        if self.choice is not None:
            extras.append(f"the prompt chosen on the training examples ({self.choice.describe()})")
        words = ", ".join(f"`{label}` as `{word}`" for label, word in zip(self.labels, self.label_words(self.labels)))
        prompts = "; ".join(f"`{t.source!r}`" for t in self.templates)
        return (
            f"{self.description} Mode {how}"
            + (f"; with {', '.join(extras)}." if extras else ".")
            + f" Label words scored: {words}. Template{'s' if len(self.templates) > 1 else ''}: {prompts}."
        )

    def _card_usage(self, repo: str) -> tuple[str, str]:
        load = causal_lm_loading_code(self.config.model, "The LM (this repo holds only the prompt settings)")
        unsupported = [
            name
            for name, on in (
                ("PMI", self.config.pmi),
                ("length normalisation", self.config.length_normalize),
                ("several templates", len(self.templates) > 1),
            )
            if on
        ]
        if unsupported:
            return "transformers", load + (
                f"# This model uses {', '.join(unsupported)}: llmdisc's scorer applies them "
                "(llmdisc.lm.loglikelihood); load it with llmdisc for its exact probabilities.\n"
            )
        scorer = self.scorer()
        return "transformers", likelihood_snippet(
            load,
            self.labels,
            scorer.words,
            scorer.templates[0],
            scorer.scoring,
            demos=scorer.prefix(scorer.templates[0]),
            calibration=self.calibration[0] if self.calibration is not None else None,
            prior=None
            if self.prior_weights is None
            else LabelWeights(
                self.prior_weights,
                "zeroshot.json: training class prior / the model's mean prediction on the training texts",
            ),
        )

    def _card_limits(self) -> list[str]:
        return [
            "No weights are stored: the folder holds the prompt settings (`llmdisc_config.json`, `zeroshot.json`) "
            "and the predictions depend on the exact base LM named above.",
            "Zero-shot accuracy is sensitive to the template and the label words; it is not trained on the labels.",
        ]

    def _save(self, folder: Path) -> None:
        # The LM is not trained: the folder records how to rebuild the classifier, not weights.
        write_json(
            folder / STATE_FILE,
            {
                "demonstrations": [{"text": t, "label": self.labels[y]} for t, y in self.demonstrations],
                "calibration": [c.tolist() for c in self.calibration] if self.calibration is not None else None,
                "prior_weights": self.prior_weights.tolist() if self.prior_weights is not None else None,
                "prompt": dataclasses.asdict(self.choice) if self.choice is not None else None,
            },
        )

    def _load(self, folder: Path) -> None:
        path = folder / STATE_FILE
        state = read_json_object(path)
        try:
            demonstrations = [(d["text"], self.labels.index(d["label"])) for d in state.get("demonstrations") or []]
            calibration = state.get("calibration")
            weights = state.get("prior_weights")  # absent in folders saved before prior correction existed
            # One number per label in each: checked against llmdisc_config.json's labels.
            for numbers in [*(calibration or []), *([] if weights is None else [weights])]:
                self._check_saved_labels(len(numbers), path)
            prompt = state.get("prompt")  # absent in folders saved before selection existed
            choice = PromptChoice(**prompt) if prompt is not None else None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise LlmdiscError(
                f"{path} is damaged ({type(e).__name__}: {first_line(e, 100)}); save the model again"
            ) from None
        self.demonstrations, self._scorer = demonstrations, None
        self.calibration = [np.array(c, dtype=float) for c in calibration] if calibration is not None else None
        self.prior_weights = np.array(weights, dtype=float) if weights is not None else None
        self._use_choice(choice)
