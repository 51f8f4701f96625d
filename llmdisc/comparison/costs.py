"""What an approach costs, measured so that it ranks the same on a busy machine.

A single wall-clock timing of a run says as much about what else the machine was doing as about
the approach: the first cell of a process pays its imports (Naive Bayes took 3.45 s at 32
examples and 0.18 s at 128), and a run that shares its cores with another takes twice as long.
So the verdict's costs are measured warm and repeated, and the least of the repeats is kept (the
one least disturbed), with the spread of the repeats beside it:

* **prediction** (the cost that ships): ``predict_proba`` on the same fixed sample of texts for
  every approach, after the evaluation has warmed it up, :data:`REPEATS` times; milliseconds per
  example.
* **training**: ``fit`` without the time spent loading models (reported apart, as
  ``load_seconds``) or writing synthetic texts; a fit that takes under :data:`REPEAT_BELOW` seconds
  is repeated on fresh classifiers (the classifier kept is the first) and the repeats are timed,
  longer ones are timed once (a repeat that takes longer ends the repeats).

Both are timed without the comparison's likelihood cache (:func:`~llmdisc.lm.likelihood_cache.bypassed`),
which would otherwise answer an approach's repeats, or another approach's prompts, for free; a
long fit timed once may still have read it.

Deterministic companions that do not drift (the parameter counts) are recorded beside them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from llmdisc.classifiers import TextClassifier
from llmdisc.lm.likelihood_cache import bypassed

__all__ = ["REPEATS", "REPEAT_BELOW", "SAMPLE", "prediction_cost", "training_cost"]

#: Timings per measurement; the least is kept and max - min is its spread.
REPEATS = 3
#: Fits shorter than this (seconds, loading excluded) are repeated; longer ones are timed once.
REPEAT_BELOW = 2.0
#: Texts in the fixed prediction sample (the first of the reported split, the same for every approach).
SAMPLE = 32


def prediction_cost(clf: TextClassifier, texts: Sequence[str], repeats: int = REPEATS) -> tuple[float, float]:
    """(best, max - min) milliseconds per example of ``clf.predict_proba(texts)``, warm.

    The caller has predicted with ``clf`` already (the evaluation), so what is timed excludes
    loading and first-call set-up.
    """
    texts = list(texts)
    seconds = []
    with bypassed():  # the comparison's likelihood cache would answer the repeats for free
        for _ in range(repeats):
            start = time.perf_counter()
            clf.predict_proba(texts)
            seconds.append(time.perf_counter() - start)
    per_example = [1000 * s / max(len(texts), 1) for s in seconds]
    return round(min(per_example), 4), round(max(per_example) - min(per_example), 4)


def _seconds(clf: TextClassifier) -> float:
    """A fitted classifier's training seconds without its model loading."""
    return (clf.info.train_seconds or 0.0) - (clf.info.load_seconds or 0.0)


def training_cost(
    clf: TextClassifier, refit: Callable[[], TextClassifier], extra: float = 0.0
) -> tuple[float, float | None]:
    """(best, max - min or None) seconds of training, without loading models.

    Args:
        clf: the classifier as fitted (its ``info`` holds the first fit's time and load time).
        refit: fits a fresh classifier the same way and returns it, for the repeats of a short fit.
        extra: seconds to add to each timing that are part of training but outside ``fit``
            (generating synthetic training texts).
    """
    first = _seconds(clf)
    timings = [first]
    if first < REPEAT_BELOW:
        # The first fit may have read scores another approach put in the comparison's likelihood
        # cache; the repeats score in full, and they are what is kept. A repeat that is itself
        # long ends them: a fit the cache made look short is timed once, as any long fit is
        # (repeating it would double a zero-shot pick's scoring to time it).
        repeats = []
        with bypassed():
            for _ in range(REPEATS - 1):
                repeats.append(_seconds(refit()))
                if repeats[-1] >= REPEAT_BELOW:
                    break
        timings = repeats or timings
    best = min(timings) + extra
    spread = max(timings) - min(timings) if len(timings) > 1 else None
    return round(best, 4), None if spread is None else round(spread, 4)
