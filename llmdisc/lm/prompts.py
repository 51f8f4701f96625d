"""Prompts that fit the user's data: task templates, data-level label words, and a check for
label names that a language model is unlikely to score as meant.

The likelihood approaches (``zeroshot`` and the ``lora`` verbalizer and channel heads) score a
*word* per label after a template. Two settings belong to the data rather than to one approach,
so they can be given once, on ``compare`` or ``train`` or in a recipe's top level:

* ``verbalizers``: label name -> the word or phrase scored (``neg=negative,pos=positive``).
  An approach's own ``verbalizers`` win, label by label (:func:`with_data_settings`).
* ``task``: ``sentiment``, ``topic``, ``spam``, or an instruction of several words that goes at
  the top of the prompt. It picks the templates when an approach sets none
  (:func:`task_templates`); with no task the template is task-neutral (:data:`NEUTRAL_TEMPLATE`,
  chosen by measurement: benchmarks/RESULTS.md, "Label words and prompts").

**The label-name rule** (:func:`unscorable_labels`). Without verbalizers, a label is scored as its
own name, and a name is flagged when it is unlikely to be a word the LM reads as meant:

1. it holds no letter (``0``, ``1``, ``-1``, ``*``);
2. it is a placeholder: ``label``, ``class``, ``category``, ``cat``, ``cls``, ``lbl``, ``target``,
   ``tag``, ``type`` or ``y`` followed by a number or a single letter (``LABEL_0``, ``class_a``,
   ``c1`` is caught by rule 3);
3. none of its alphabetic pieces (runs of letters) has four letters or more (``neg``, ``pos``,
   ``ham``, ``NEG``, ``c1``, ``sci_fi``), unless the whole name is one of a few common short
   words (:data:`SHORT_WORDS`: ``yes``, ``no``, ``bad``, ...).

The rule reads only the names, no tokenizer: loading one means importing transformers and, for
a packaged alias, converting its GGUF file on first use, before any validation could answer; the
cases that mislead in practice (abbreviations, codes, digits) are caught by the spelling alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmdisc.errors import LlmdiscError
from llmdisc.plumbing.config import arg

__all__ = [
    "TASKS",
    "REVIEW_TEMPLATE",
    "NEUTRAL_TEMPLATE",
    "SHORT_WORDS",
    "PromptSettings",
    "check_task",
    "task_templates",
    "unscorable_labels",
    "label_words_warning",
    "label_words_note",
    "with_data_settings",
]

# The sentiment template (llmdisc.lm.label_likelihood re-exports it), and the task-neutral default:
# what a template says when nothing is known about the labels.
REVIEW_TEMPLATE = "Review: {text}\nSentiment: {label}"
NEUTRAL_TEMPLATE = "Text: {text}\nLabel: {label}"
# Named tasks -> their templates (``{text}`` then ``{label}``, as llmdisc.lm.label_likelihood.Template wants).
TASKS: dict[str, list[str]] = {
    "sentiment": [REVIEW_TEMPLATE],
    "topic": ["Article: {text}\nTopic: {label}"],
    "spam": ["Message: {text}\nCategory: {label}"],
}
SHORT_WORDS = frozenset(
    {
        "yes",
        "no",
        "bad",
        "sad",
        "joy",
        "mad",
        "fun",
        "low",
        "mid",
        "top",
        "hot",
        "old",
        "new",
        "war",
        "art",
        "law",
        "car",
        "tv",
        "sex",
        "odd",
        "ok",
        "fit",
        "fat",
        "big",
        "toy",
    }
)
_PLACEHOLDER = re.compile(
    r"^(label|class|category|cat|cls|lbl|target|tag|type|y)[\s_\-.:]*(\d+|[a-z])$", re.IGNORECASE
)


@dataclass
class PromptSettings:
    """The data-level prompt settings ``compare`` and ``train`` take (and recipes, at their top level)."""

    verbalizers: dict[str, str] | None = arg(
        None,
        "label -> word the LM scores, e.g. neg=negative,pos=positive (zeroshot and lora heads; an "
        "approach's own verbalizers win)",
    )
    task: str | None = arg(
        None,
        "picks the default templates: sentiment, topic, spam, or an instruction of several "
        "words put at the top of the prompt (default: a task-neutral template)",
    )


def check_task(task: str | None) -> None:
    """A one-line error for a task that is neither a known name nor an instruction."""
    if task is None or task in TASKS:
        return
    if not task.strip() or len(task.split()) < 2:  # one unknown word: a misspelt name, not an instruction
        raise LlmdiscError(f"unknown task {task!r}; use {', '.join(TASKS)}, or an instruction of several words")
    if "{text}" in task or "{label}" in task:
        raise LlmdiscError(
            "a task instruction must not hold {text} or {label}; give a template with --templates instead"
        )


def task_templates(task: str | None) -> list[str]:
    """The templates for ``task`` (None: the task-neutral one; an instruction: it, then the neutral one)."""
    check_task(task)
    if task is None:
        return [NEUTRAL_TEMPLATE]
    if task in TASKS:
        return list(TASKS[task])
    return [task.strip() + "\n" + NEUTRAL_TEMPLATE]


def unscorable_labels(labels: Sequence[str]) -> list[str]:
    """The label names the module's rule flags as unlikely to be scored as meant, in order."""
    out = []
    for label in labels:
        name = str(label).strip()
        pieces = re.findall(r"[^\W\d_]+", name)  # runs of letters, any script
        if not pieces or _PLACEHOLDER.match(name):
            out.append(label)
        elif name.lower() not in SHORT_WORDS and not any(len(p) >= 4 for p in pieces):
            out.append(label)
    return out


def label_words_warning(
    labels: Sequence[str], scored: Mapping[str, Sequence[str] | None], suggest_task: bool = False
) -> str | None:
    """One line naming the labels scored as their own name that the rule flags, and the fix.

    Args:
        labels: the data's label names.
        scored: approach name -> the word it scores per label (None: it scores no words).
        suggest_task: also name ``--task``: no task is given and some approach's template was
            picked on no training examples (outside a comparison, or ``pick_prompt: false``), so
            it is the task-neutral one unless the task is named.

    Returns:
        The line, or None when no approach scores a flagged name as written.
    """
    flagged = unscorable_labels(labels)
    bad = [lab for lab in flagged if any(words and words[labels.index(lab)] == lab for words in scored.values())]
    if not bad:
        return None
    who = [name for name, words in scored.items() if words and any(words[labels.index(lab)] == lab for lab in bad)]
    example = ",".join(f"{lab}=WORD" for lab in bad)
    integers = " (or --label-names for integer labels)" if any(not re.search(r"[^\W\d_]", lab) for lab in bad) else ""
    task = (
        f"; and name the task (--task {', '.join(TASKS)} or an instruction): with no training examples to pick "
        "a prompt on, the template is the task-neutral one"
        if suggest_task
        else ""
    )
    return (
        f"the label names {', '.join(map(repr, bad))} are unlikely to be words the LM scores as meant (digits, "
        f"placeholders such as LABEL_0, or no piece of four letters), and {', '.join(who)} "
        f"score{'s' if len(who) == 1 else ''} them as written: pass --verbalizers {example}{integers}, or "
        f"verbalizers: in the recipe{task}"
    )


def label_words_note(labels: Sequence[str], scored: Mapping[str, Sequence[str] | None]) -> str | None:
    """A report note saying which words each likelihood approach scored (approaches grouped by words)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, words in scored.items():
        if words:
            groups.setdefault(tuple(words), []).append(name)
    if not groups:
        return None
    parts = [
        f"{', '.join(names)}: " + ", ".join(f"{lab} -> {w!r}" for lab, w in zip(labels, words))
        for words, names in groups.items()
    ]
    return "label words scored: " + "; ".join(parts)


def with_data_settings(
    config: Mapping[str, Any], verbalizers: Mapping[str, str] | None, task: str | None
) -> dict[str, Any]:
    """An approach's settings with the data-level ``verbalizers`` and ``task`` filled in.

    The approach's own ``verbalizers`` win label by label; its own ``task`` wins whole.
    """
    out = dict(config)
    if verbalizers:
        own = config.get("verbalizers") or {}
        if isinstance(own, str):
            from llmdisc.plumbing.config import parse_mapping

            own = parse_mapping("verbalizers", own)
        out["verbalizers"] = {**verbalizers, **own}
    if task is not None and config.get("task") is None:
        out["task"] = task
    return out
