"""Honest prompt selection: one template and one set of label words per training subset.

``zeroshot`` with ``select: true`` is "true few-shot" prompt selection (Perez, Kiela & Cho, 2021):
at training size n it scores every candidate prompt on those n training examples only, and keeps
the best one by cross-validated accuracy (ties broken by the mean log-probability of the gold
label, then by the candidates' order) or by that log-probability (``select_metric``). The split
being reported and the selection split are never read, so the choice is one a user with n
labelled examples could make.

**The candidates** are every template (:func:`candidate_templates`) paired with every set of
label words (:func:`candidate_verbalizers`).

* Templates: the user's ``templates``, each tried alone; else the task's templates and the
  task-neutral one; with no task, the task-neutral template and every named task's template
  (so a user who names no task lets the examples pick it).
* Label words, in this order, duplicates dropped:

  1. the user's ``verbalizers`` (labels they leave out scored as their names), when given;
  2. the label names themselves, unless the label-name rule of :mod:`llmdisc.lm.prompts` flags one
     of them (digits, ``LABEL_0``, ``neg``: words an LM does not read as meant);
  3. every assignment of distinct words from the user's ``candidate_words`` to the labels
     (m words, k labels: m!/(m-k)! sets), so that the n examples decide which word means which
     label: ``candidate_words: [negative, positive]`` serves labels ``0``/``1`` unmapped.

  llmdisc derives no words beyond the label names: when none of the three gives a set (digit
  labels and no words), selection is refused in one line that names ``--verbalizers`` and
  ``candidate_words``, before any model loads.

**The once-only pick** (``zeroshot`` with ``pick_prompt``, what a comparison's plain zero-shot entry
does on its smallest training subset) tries the same templates but keeps the user's words:
:func:`pick_verbalizers`.

**Cost.** The LM is frozen, so each (text, template, word) is scored once; every candidate is
columns of those scores. With ``prior: train`` the prior weights are fitted on the training folds
and applied to the held-out fold (:func:`cross_validated`); without it nothing is fitted on the
examples and each candidate's held-out predictions are its plain predictions. Contextual
calibration uses only the content-free input, so it needs no folds either.
"""

from __future__ import annotations

import itertools
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from llmdisc.api.records import PromptChoice
from llmdisc.errors import LlmdiscError
from llmdisc.lm.label_likelihood import LikelihoodScorer, PromptScoring, apply_weights, prior_weights
from llmdisc.lm.prompts import NEUTRAL_TEMPLATE, TASKS, task_templates, unscorable_labels
from llmdisc.metrics.classification import softmax
from llmdisc.plumbing.config import DEFAULT_SEED

__all__ = [
    "SELECT_METRICS",
    "MAX_WORD_SETS",
    "SelectionRule",
    "candidate_templates",
    "candidate_verbalizers",
    "pick_verbalizers",
    "check_select_size",
    "cross_validated",
    "select_prompt",
]

logger = logging.getLogger(__name__)

SELECT_METRICS = ("accuracy", "log_likelihood")
# More label-word sets than this (e.g. 8 words over 4 labels: 1,680) would let n examples pick a
# lucky one rather than a good one; the error asks for fewer words.
MAX_WORD_SETS = 720


@dataclass(frozen=True)
class SelectionRule:
    """How :func:`select_prompt` scores and judges the candidates.

    Attributes:
        scoring: how each (text, word) is scored, as the classifier will predict.
        content_free: the content-free input of contextual calibration, or None for none.
        prior: whether the training class prior is fitted (then on the training folds).
        folds: the cross-validation folds; seed: their shuffle.
        metric: ``accuracy`` (ties: log-likelihood) or ``log_likelihood``.
    """

    scoring: PromptScoring = PromptScoring()
    content_free: str | None = None
    prior: bool = False
    folds: int = 4
    seed: int = DEFAULT_SEED
    metric: str = "accuracy"


def _unique(items):
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def candidate_templates(templates: Sequence[str] | None, task: str | None) -> list[str]:
    """The templates selection tries, each alone (see the module docstring for the rule).

    Args:
        templates: the user's templates (None: the defaults below).
        task: the data's task (None: not said).

    Returns:
        The user's templates; else the task's templates then the task-neutral one; with no task,
        the task-neutral template then every named task's template.
    """
    if templates:
        return _unique(templates)
    if task is None:
        return _unique([NEUTRAL_TEMPLATE, *(t for ts in TASKS.values() for t in ts)])
    return _unique([*task_templates(task), NEUTRAL_TEMPLATE])


def candidate_verbalizers(
    labels: Sequence[str], verbalizers: Mapping[str, str] | None, words: Sequence[str] | None
) -> list[dict[str, str]]:
    """The label-word sets selection tries: label -> word, one mapping per set.

    Args:
        labels: the label names, in order.
        verbalizers: the user's label -> word mapping (checked by the caller), or None.
        words: the user's ``candidate_words``, assigned to the labels in every order, or None.

    Returns:
        The sets, in the order of the module docstring's rule. No set at all is a one-line error
        naming ``--verbalizers`` and ``candidate_words``; so are too few words for the labels,
        an empty or repeated word, and more than :data:`MAX_WORD_SETS` assignments.
    """
    labels = list(labels)
    sets = []
    if verbalizers:
        sets.append({label: verbalizers.get(label, label) for label in labels})
    flagged = unscorable_labels(labels)
    if not flagged:
        sets.append({label: label for label in labels})
    if words:
        words = [str(w).strip() for w in words]
        if not all(words):
            raise LlmdiscError("candidate_words holds an empty word; give each candidate a word")
        if len(set(words)) < len(words):
            raise LlmdiscError(f"candidate_words repeats a word ({words}); give each word once")
        if len(words) < len(labels):
            raise LlmdiscError(
                f"candidate_words has {len(words)} words for {len(labels)} labels; give at least one word per label"
            )
        count = math.perm(len(words), len(labels))
        if count > MAX_WORD_SETS:
            raise LlmdiscError(
                f"candidate_words gives {count} ways to assign {len(words)} words to {len(labels)} labels "
                f"(at most {MAX_WORD_SETS}); give fewer words, or fix some with --verbalizers"
            )
        sets += [dict(zip(labels, chosen)) for chosen in itertools.permutations(words, len(labels))]
    sets = _unique(sets)
    if not sets:
        raise LlmdiscError(
            f"select: no label words to choose from: the label names {', '.join(map(repr, flagged))} are not words an "
            f"LM scores as meant (digits, placeholders such as LABEL_0, or no piece of four letters); give candidate "
            f"words (candidate_words: [WORD, ...], tried in every assignment to the labels) or --verbalizers "
            + ",".join(f"{label}=WORD" for label in labels)
        )
    return sets


def pick_verbalizers(
    labels: Sequence[str], verbalizers: Mapping[str, str] | None, words: Sequence[str] | None
) -> list[dict[str, str]]:
    """The label-word sets a once-only pick tries: the user's words stand, the examples choose the rest.

    Args:
        labels: the label names, in order.
        verbalizers: the user's label -> word mapping (checked by the caller), or None.
        words: the user's ``candidate_words``, or None.

    Returns:
        With ``verbalizers``: that one set (labels left out scored as their names): words the user
        chose are not second-guessed. Else with ``words``: :func:`candidate_verbalizers`' sets (the
        names unless flagged, then every assignment of the words). Else the names alone, flagged or
        not: llmdisc derives no words, so the pick then chooses only the template (and
        :func:`~llmdisc.lm.prompts.label_words_warning` names the fix).
    """
    if verbalizers:
        return [{label: verbalizers.get(label, label) for label in labels}]
    if words:
        return candidate_verbalizers(labels, None, words)
    return [{label: label for label in labels}]


def check_select_size(n: int, folds: int) -> None:
    """A one-line error when ``n`` training examples cannot fill ``folds`` folds."""
    if n < folds:
        raise LlmdiscError(
            f"select: {n} training examples cannot fill {folds} cross-validation folds; use training "
            f"sizes of at least {folds}, or a smaller select_folds"
        )


def _folds(labels: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training part, held-out part) index pairs, stratified where every class can fill the folds."""
    from sklearn.model_selection import KFold, StratifiedKFold  # slow to import: not at module level

    counts = np.bincount(labels)
    splitter = (StratifiedKFold if counts[counts > 0].min() >= folds else KFold)(
        folds, shuffle=True, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(splitter.split(np.zeros(len(labels)), labels))


def cross_validated(
    probs: np.ndarray,
    labels: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]] | None,
) -> np.ndarray:
    """Held-out probabilities: with ``folds``, prior weights fitted on each training part and
    applied to its held-out part; without (nothing is fitted on the examples), ``probs`` itself."""
    if folds is None:
        return probs
    out = np.empty_like(probs)
    for train_idx, test_idx in folds:
        out[test_idx] = apply_weights(probs[test_idx], prior_weights(probs[train_idx], labels[train_idx]))
    return out


def select_prompt(
    model,
    tokenizer,
    label_names: Sequence[str],
    texts: Sequence[str],
    labels: np.ndarray,
    templates: Sequence[str],
    word_sets: Sequence[Mapping[str, str]],
    rule: SelectionRule = SelectionRule(),
) -> PromptChoice:
    """The best (template, label words) on the training examples, by cross-validation.

    Args:
        model, tokenizer: the causal LM.
        label_names: the label names, in order; ``labels``: the examples' label indices.
        texts: the n training texts.
        templates: the candidate templates (:func:`candidate_templates`).
        word_sets: the candidate label -> word sets (:func:`candidate_verbalizers`).
        rule: how the candidates are scored and judged (:class:`SelectionRule`).

    Returns:
        The winner, with its held-out accuracy and mean log-probability of the gold label.
    """
    labels = np.asarray(labels, dtype=int)
    if rule.prior:  # only a fitted prior needs the folds filled
        check_select_size(len(texts), rule.folds)
    if len(templates) * len(word_sets) == 1:
        logger.warning(
            "zeroshot select: one candidate prompt, so nothing to choose; give more templates or candidate_words"
        )
    pool = _unique(w for words in word_sets for w in (words[label] for label in label_names))
    column = {w: i for i, w in enumerate(pool)}
    # One scorer over the pool of words: each word is a "label" of it, so every (text, template,
    # word) is scored once and every candidate is a choice of columns.
    scorer = LikelihoodScorer(model, tokenizer, pool, templates, scoring=rule.scoring)
    texts = scorer.fit_window(texts)
    splits = _folds(labels, rule.folds, rule.seed) if rule.prior else None
    results = []  # (accuracy, log-likelihood, -order, template, words)
    for template in scorer.templates:
        scores = scorer.label_scores(texts, template)
        free = scorer.label_scores([rule.content_free], template) if rule.content_free is not None else None
        for words in word_sets:
            cols = [column[words[label]] for label in label_names]
            probs = softmax(scores[:, cols])
            if free is not None:  # as LikelihoodScorer.probabilities calibrates
                probs = probs / softmax(free[:, cols])[0]
                probs = probs / probs.sum(axis=1, keepdims=True)
            held_out = cross_validated(probs, labels, splits)
            accuracy = float((held_out.argmax(axis=1) == labels).mean())
            loglik = float(np.log(np.clip(held_out[np.arange(len(labels)), labels], 1e-15, None)).mean())
            results.append((accuracy, loglik, -len(results), template.source, dict(words)))
    key = (lambda r: (r[0], r[1], r[2])) if rule.metric == "accuracy" else (lambda r: (r[1], r[0], r[2]))
    best = max(results, key=key)
    choice = PromptChoice(
        template=best[3],
        words=best[4],
        metric=rule.metric,
        accuracy=best[0],
        log_likelihood=best[1],
        candidates=len(results),
        folds=rule.folds if rule.prior else None,
        examples=len(texts),
    )
    logger.info("zeroshot select: %s", choice.describe())
    return choice
