"""The typed records that cross the joints between the layers.

* :class:`TrainInfo`: what a classifier records about its own training (saved in
  ``llmdisc_config.json``, read by the model card);
* :class:`TrainerRun`: what one ``transformers.Trainer`` run reports (inside ``TrainInfo``);
* :class:`Evaluation`: what :func:`~llmdisc.evaluate_classifier` measures on one split;
* :class:`RunRecord`: one cell of a comparison on one split (approach, size, seed, split), which
  the cache, ``results.json``, the summary, the report and the plots read and write.

On disk a ``RunRecord`` is one flat JSON object (metrics and costs at the top level, as a
``pandas.DataFrame(json.load(...))`` wants them) with ``schema_version``; a file of another
version is refused with one line naming the fix rather than misread.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmdisc.errors import LlmdiscError
from llmdisc.metrics.classification import METRICS

__all__ = [
    "PromptChoice",
    "SCHEMA_VERSION",
    "ZERO_SHOT",
    "DEGENERATE_PREDICTED_SHARE",
    "DEGENERATE_GOLD_SHARE",
    "degenerate_predictions",
    "TrainerRun",
    "TrainInfo",
    "Evaluation",
    "Costs",
    "Predictions",
    "RunRecord",
]

logger = logging.getLogger(__name__)

#: Version of the on-disk form of :class:`RunRecord` (results.json, results.csv, runs/ cache).
#: 1: before records were typed (no ``schema_version`` key; ``approach`` held the variant's name).
SCHEMA_VERSION = 2
#: How the ``size`` of an approach that does not learn from examples is written.
ZERO_SHOT = "zero-shot"


def _known(cls: type, values: dict[str, Any], where: str) -> dict[str, Any]:
    """The keys of ``values`` that are fields of ``cls``; the others are logged and dropped."""
    names = {f.name for f in dataclasses.fields(cls)}
    extra = sorted(set(values) - names)
    if extra:
        logger.debug("%s: ignoring unknown keys %s", where, ", ".join(extra))
    return {k: v for k, v in values.items() if k in names}


#: A run is degenerate when one class takes at least this share of its predictions...
DEGENERATE_PREDICTED_SHARE = 0.95
#: ...while that class is less than this share of the gold labels.
DEGENERATE_GOLD_SHARE = 0.80


def degenerate_predictions(confusion: list[list[int]], labels: list[str]) -> str | None:
    """A one-line description when a classifier (nearly) always predicts one class, else None.

    The rule: one class takes at least 95% of the predictions while it is under 80% of the gold
    labels. Such a run's accuracy is about that class's share, whatever the approach could do:
    a schedule too short to move a random head, label words the LM cannot read, a prior that
    swamps the evidence. Reports flag it rather than rank it silently.

    Args:
        confusion: ``confusion[i][j]`` counts examples of gold label ``i`` predicted as ``j``.
        labels: the label names (the confusion matrix's order).

    Returns:
        For example ``"predicts 'spam' for 100% of the examples (14% of the gold labels)"``.
    """
    matrix = np.asarray(confusion, dtype=np.float64)
    if matrix.ndim != 2 or matrix.size == 0 or matrix.sum() == 0:
        return None
    predicted, gold = matrix.sum(axis=0) / matrix.sum(), matrix.sum(axis=1) / matrix.sum()
    top = int(predicted.argmax())
    if predicted[top] >= DEGENERATE_PREDICTED_SHARE and gold[top] < DEGENERATE_GOLD_SHARE:
        name = labels[top] if top < len(labels) else str(top)
        return f"predicts '{name}' for {predicted[top]:.0%} of the examples ({gold[top]:.0%} of the gold labels)"
    return None


@dataclass
class TrainerRun:
    """Facts about one Trainer run.

    ``num_processes`` counts data-parallel processes: the effective batch is
    ``batch_size * gradient_accumulation_steps * num_processes``.
    """

    global_step: int = 0
    train_loss: float | None = None
    best_metric: float | None = None
    resumed_from: str | None = None
    train_samples_per_second: float | None = None
    num_processes: int = 1
    epochs: float | None = None  # passes over the data actually made
    schedule: str | None = None  # the schedule rule's one-line account (see training.plan_schedule)


@dataclass
class PromptChoice:
    """The prompt a selecting approach chose on its training examples (:mod:`llmdisc.lm.prompt_selection`).

    Attributes:
        template: the template kept.
        words: label -> the word scored for it.
        metric: what chose it: ``accuracy`` (ties: log-likelihood) or ``log_likelihood``.
        accuracy: its held-out accuracy on the training examples.
        log_likelihood: its held-out mean log-probability of the gold label there.
        candidates: how many (template, words) candidates were scored.
        folds: the cross-validation folds of the parts fitted on the examples (the class prior);
            None when nothing is fitted on them (each example is then held out already).
        examples: the training examples it was chosen on.
    """

    template: str
    words: dict[str, str]
    metric: str
    accuracy: float
    log_likelihood: float
    candidates: int
    folds: int | None
    examples: int

    def describe(self) -> str:
        """One line: the template, the words, and how they won."""
        words = ", ".join(f"{label} -> {word!r}" for label, word in self.words.items())
        how = f"{self.folds}-fold cross-validated" if self.folds else "held-out (nothing fitted)"
        return (
            f"{self.template!r} with {words}: {how} accuracy {self.accuracy:.3f}, log-likelihood "
            f"{self.log_likelihood:.3f} on the {self.examples} training examples, best of {self.candidates} by "
            f"{self.metric}"
        )


@dataclass
class TrainInfo:
    """What a classifier records about its training; saved with it and shown on its model card.

    Attributes:
        train_seconds: wall time of ``fit``.
        train_examples: how many examples ``fit`` saw.
        load_seconds: the part of ``train_seconds`` spent loading models (from disk, a GGUF
            conversion or the Hub), which is not the approach's training cost.
        dataset: the training data as a card may name it (set by the ``train`` command).
        metrics: split -> metric name (see :data:`~llmdisc.metrics.classification.METRICS`) -> value.
        parameters: ``total`` and ``trainable`` parameter counts, where the notion applies.
        truncated: split -> how many texts were cut to the model's ``max_length``.
        trainer: the Trainer run, for approaches that train with one.
    """

    train_seconds: float | None = None
    train_examples: int | None = None
    load_seconds: float | None = None  # the part of train_seconds spent loading models (not training)
    dataset: str | None = None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    parameters: dict[str, int] = field(default_factory=dict)
    truncated: dict[str, int] = field(default_factory=dict)
    trainer: TrainerRun | None = None
    device: str | None = None  # where the model predicted: cpu, mps, cuda:N (None: not a torch model)
    dtype: str | None = None  # its weights' precision: float32, bfloat16, float16
    prompt: PromptChoice | None = None  # the prompt chosen on the training examples (zeroshot select)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> TrainInfo:
        """Read what :meth:`to_dict` wrote (or, from folders saved before it existed, the flat dict
        of those days: its Trainer keys are gathered into ``trainer``)."""
        values = dict(values or {})
        trainer = values.pop("trainer", None)
        prompt = values.pop("prompt", None)
        legacy = {k: values.pop(k) for k in [f.name for f in dataclasses.fields(TrainerRun)] if k in values}
        if trainer is None and legacy:
            trainer = legacy
        info = cls(**_known(cls, values, "llmdisc_config.json info"))
        if trainer is not None:
            info.trainer = TrainerRun(**_known(TrainerRun, trainer, "llmdisc_config.json info.trainer"))
        if prompt is not None:
            info.prompt = PromptChoice(**_known(PromptChoice, prompt, "llmdisc_config.json info.prompt"))
        return info


@dataclass
class Evaluation:
    """A trained classifier measured on one labelled split.

    Attributes:
        metrics: metric name -> value, for every metric of :data:`~llmdisc.metrics.classification.METRICS`.
        examples: how many examples were scored.
        predict_seconds: wall time of ``predict_proba`` on them.
        examples_per_second: ``examples / predict_seconds``.
        reliability: the reliability diagram's bins (see :func:`~llmdisc.metrics.classification.reliability_bins`).
        confusion: ``confusion[i][j]`` counts examples of gold label ``i`` predicted as ``j``.
        probabilities: the ``(examples, labels)`` array ``predict_proba`` returned (not JSON).
        uncalibrated: for a classifier with a fitted temperature, ECE and log loss without it.
    """

    metrics: dict[str, float]
    examples: int
    predict_seconds: float
    examples_per_second: float
    reliability: list[dict[str, float]] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    probabilities: np.ndarray | None = field(default=None, repr=False)
    uncalibrated: dict[str, float] | None = None


@dataclass
class Costs:
    """What a comparison cell cost on the machine it ran on.

    ``train_seconds``, ``predict_seconds`` and ``examples_per_second`` are single wall-clock
    timings of the run itself; the verdict ranks by the warm, repeated measurements instead
    (:mod:`llmdisc.comparison.costs`), which a busy machine moves far less.
    """

    train_seconds: float | None = None  # with its share of generating synthetic training texts, if any
    predict_seconds: float | None = None
    examples_per_second: float | None = None
    load_seconds: float | None = None  # loading models during fit: reported apart, not training
    train_warm_seconds: float | None = None  # training without loading (and generation); best of repeats
    train_spread_seconds: float | None = None  # max - min over those repeats (None: measured once)
    predict_ms: float | None = None  # warm prediction, ms per example: best of repeats on a fixed sample
    predict_spread_ms: float | None = None  # max - min over those repeats
    peak_rss_mib: float | None = None
    rss_increase_mib: float | None = None
    peak_gpu_mib: float | None = None
    parameters_total: int | None = None
    parameters_trainable: int | None = None


@dataclass
class Predictions:
    """Per-example predictions of one run on one split (or on one damaged copy of it).

    Held in memory and in a Parquet file beside the cached record, never in the JSON.

    Attributes:
        index: each example's position in the evaluated split.
        gold: each example's gold label id.
        probabilities: the ``(examples, labels)`` float32 probabilities.
    """

    index: np.ndarray
    gold: np.ndarray
    probabilities: np.ndarray

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)


# RunRecord fields kept in memory only: the per-example rows live in Parquet (see predictions.py).
_IN_MEMORY = ("per_example", "robustness_per_example")


@dataclass
class RunRecord:
    """One (approach, size, seed) of a comparison, evaluated on one split.

    Attributes:
        approach: the registered approach (``zeroshot``).
        variant: the comparison entry's name (``zeroshot_calibrated``); the approach's own name
            for a plain entry. Reports, plots and tables name runs by it.
        paradigm: ``generative`` or ``discriminative``.
        size: the training-set size asked for; None for an approach that does not learn from
            examples (one run, drawn flat on the learning curves).
        seed: the seed of the subset and of the approach's randomness (None for a flat run).
        split: the evaluated split.
        labels: the label names (the rows and columns of ``confusion``).
        status: ``ok`` or ``failed`` (then ``error`` holds the one-line reason).
        train_examples: the examples actually trained on (0 for a flat run).
        train_subset: a hash of the training subset: equal hashes, equal examples (for a flat run
            that picked its prompt, the subset it picked on; None for one that read no examples).
        examples: the evaluated examples.
        metrics: metric name -> value (:data:`~llmdisc.metrics.classification.METRICS`).
        costs: time, memory and size.
        reliability: the reliability diagram's bins.
        confusion: the confusion matrix (rows: gold labels).
        robustness: word-drop rate (as a string) -> accuracy, on the robustness split's record
            of the approach's largest size and first seed.
        predictions: the Parquet file of the per-example predictions (relative to the
            comparison's output folder), when they are stored (see :mod:`llmdisc.comparison.prediction_files`).
        notes: remarks that apply to the whole comparison (a capped size, say).
        temperature: the temperature fitted on the selection split (None: not calibrated, or
            calibrated another way).
        calibration: the calibration fitted on the selection split (``temperature``, ``platt``,
            ``isotonic``; None: not calibrated).
        uncalibrated: with a calibration, ECE and log loss on this split without it (the
            metrics are with it).
        train_steps: optimizer steps taken, for Trainer approaches.
        device: where the classifier predicted (``cpu``, ``mps``, ``cuda:N``); ``cpu`` for the
            classical approaches.
        dtype: the precision of its model's weights (``float32``, ``bfloat16``, ``float16``);
            None where there is no torch model.
        prompt: the prompt a selecting approach chose on this run's training subset, or a flat
            zero-shot run picked on the comparison's smallest one, in one line
            (:meth:`PromptChoice.describe`: the template, the words, and on how many examples); None
            for the others.
        template_accuracy: for a classifier that averages several prompt templates (zero-shot),
            template -> the accuracy it gets alone on this split.
        generator: the LM whose generated texts the run trained on (None: the real training data;
            see :mod:`llmdisc.comparison.synthetic_data`).
        per_example: the per-example predictions on ``split`` (in memory; not in the JSON).
        robustness_per_example: word-drop rate (as in ``robustness``) -> the per-example
            predictions on the damaged texts (in memory; not in the JSON).
    """

    approach: str
    variant: str
    paradigm: str
    size: int | None
    seed: int | None
    split: str
    labels: list[str] = field(default_factory=list)
    status: str = "ok"
    error: str | None = None
    train_examples: int = 0
    train_subset: str | None = None
    examples: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    costs: Costs = field(default_factory=Costs)
    reliability: list[dict[str, float]] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    robustness: dict[str, float] | None = None
    predictions: str | None = None
    notes: str | None = None
    temperature: float | None = None
    calibration: str | None = None
    uncalibrated: dict[str, float] | None = None
    train_steps: int | None = None
    device: str | None = None
    dtype: str | None = None
    prompt: str | None = None
    template_accuracy: dict[str, float] | None = None
    generator: str | None = None
    per_example: Predictions | None = field(default=None, repr=False, compare=False)
    robustness_per_example: dict[str, Predictions] | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def degenerate(self) -> str | None:
        """Why this run's predictions are degenerate, or None (see :func:`degenerate_predictions`).

        The majority-class baseline answers one class by design: it is the floor, never degenerate.
        """
        return degenerate_predictions(self.confusion, self.labels) if self.ok and self.paradigm != "baseline" else None

    @property
    def flat(self) -> bool:
        """Whether the approach did not learn from examples (one value at every size)."""
        return self.size is None

    def to_dict(self) -> dict[str, Any]:
        """The flat JSON form: metrics and costs at the top level, ``size`` ``"zero-shot"`` when flat."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _IN_MEMORY:
                continue
            if f.name == "metrics":
                out.update(value)
            elif f.name == "costs":
                out.update(dataclasses.asdict(value))
            elif f.name == "size":
                out["size"] = ZERO_SHOT if value is None else value
            else:
                out[f.name] = value
        out["flat"] = self.flat
        return out

    @classmethod
    def of_model(
        cls,
        approach: str,
        paradigm: str,
        labels: list[str],
        split: str,
        evaluation: Evaluation,
        info: TrainInfo,
        seed: int | None = None,
    ) -> RunRecord:
        """The record of one trained model (``llmdisc train`` / ``evaluate``, not a comparison cell)
        evaluated on one split, with what it recorded about its training."""
        e = evaluation
        return cls(
            approach=approach,
            variant=approach,
            paradigm=paradigm,
            size=info.train_examples,
            seed=seed,
            split=split,
            labels=list(labels),
            train_examples=info.train_examples or 0,
            examples=e.examples,
            metrics=e.metrics,
            reliability=e.reliability,
            confusion=e.confusion,
            costs=Costs(
                train_seconds=info.train_seconds,
                predict_seconds=e.predict_seconds,
                examples_per_second=e.examples_per_second,
                parameters_total=info.parameters.get("total"),
                parameters_trainable=info.parameters.get("trainable"),
            ),
            device=info.device or "cpu",
            dtype=info.dtype,
            prompt=info.prompt.describe() if info.prompt else None,
        )

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "record") -> RunRecord:
        """Read what :meth:`to_dict` wrote; a record of another schema version is a one-line error."""
        version = values.get("schema_version", 1)
        if version != SCHEMA_VERSION:
            raise LlmdiscError(
                f"{where} holds results of schema version {version}, written by another llmdisc "
                f"version (this one reads version {SCHEMA_VERSION}); re-run the comparison with "
                "--overwrite, or use a new --output-dir"
            )
        values = dict(values)
        metrics = {name: values.pop(name) for name in METRICS if name in values}
        cost_names = [f.name for f in dataclasses.fields(Costs)]
        costs = Costs(**{name: values.pop(name) for name in cost_names if name in values})
        size = values.pop("size", None)
        values.pop("flat", None)
        for name in _IN_MEMORY:
            values.pop(name, None)
        return cls(
            **_known(cls, values, where), metrics=metrics, costs=costs, size=None if size == ZERO_SHOT else size
        )
