"""The training loop every neural approach shares: ``transformers.Trainer``, configured once.

The encoder and the LoRA approaches differ in their model and their data collator, not in how
they train, so the settings (:class:`TrainerSettings`), the progress bar with loss and
throughput, checkpointing and resume live here, once. Trainer brings accelerate with it: the
same code runs under ``accelerate launch`` on several processes or GPUs.
"""

from __future__ import annotations

import argparse
import logging
import math
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from llmdisc.api.records import TrainerRun
from llmdisc.errors import LlmdiscError, first_line
from llmdisc.lm.devices import check_placement, device_field, dtype_field, resolve_placement
from llmdisc.metrics.classification import (
    ACCURACY,
    ECE,
    MACRO_F1,
    METRICS,
    TRAINER_LOSS,
    classification_metrics,
    softmax,
)
from llmdisc.plumbing import distributed
from llmdisc.plumbing.atomic_files import temp_dir
from llmdisc.plumbing.config import DEFAULT_SEED, arg
from llmdisc.training.checkpoints import last_complete_checkpoint
from llmdisc.training.micro_batches import micro_batching

if TYPE_CHECKING:
    from transformers import TrainingArguments

__all__ = [
    "TrainingTask",
    "TRACKER_PACKAGES",
    "training_args_values",
    "selection_metrics",
    "TrainerSettings",
    "Schedule",
    "plan_schedule",
    "DEFAULT_EPOCHS",
    "train_model",
    "compute_classification_metrics",
    "weighted_cross_entropy",
    "check_run_options",
    "MAX_BATCH_TOKENS_HELP",
]

logger = logging.getLogger(__name__)


MAX_BATCH_TOKENS_HELP = (
    "run a training batch of more than this many tokens (rows x longest) as several passes "
    "whose gradients add up to the batch's (less memory, same step; none: one pass)"
)


@dataclass
class TrainerSettings:
    """Settings of a Trainer run; each neural approach's ``Config`` inherits them."""

    epochs: float | None = arg(None, "passes over the training data (default: the schedule rule, see min_steps)")
    max_steps: int = arg(-1, "stop after this many optimizer steps (overrides epochs when > 0)")
    min_steps: int = arg(
        200,
        "the schedule rule: with epochs and max_steps unset, train 3 epochs, or more "
        "epochs when 3 would take fewer optimizer steps than this",
    )
    learning_rate: float = arg(5e-5, "peak learning rate")
    batch_size: int = arg(32, "training examples per device per step")
    eval_batch_size: int | str = arg(
        64, "examples per forward pass when evaluating and predicting (auto: the largest that fits when predicting)"
    )
    gradient_accumulation_steps: int = arg(1, "steps whose gradients are summed before an update")
    max_batch_tokens: int | None = arg(None, MAX_BATCH_TOKENS_HELP)
    weight_decay: float = arg(0.01, "AdamW weight decay")
    warmup_ratio: float = arg(0.06, "fraction of steps spent warming the learning rate up")
    lr_scheduler: str = arg("linear", "learning-rate decay after warm-up: linear, cosine, constant...")
    max_length: int = arg(128, "tokens per text at most; longer texts are truncated, with a count")
    eval_steps: int | None = arg(
        None,
        "evaluate and checkpoint every N steps (default: every epoch, or 10 times a run when epochs are more than 10)",
    )
    metric_for_best_model: str = arg(
        ACCURACY.name, "validation metric that picks the best checkpoint (a metric, or loss)"
    )
    early_stopping_patience: int | None = arg(None, "stop after this many evaluations without improvement")
    group_by_length: bool = arg(True, "batch texts of similar length together (less padding)")
    logging_steps: int = arg(20, "log the loss every N steps")
    seed: int = arg(DEFAULT_SEED, "training seed (head and LoRA initialisation, data order)")
    checkpoint_dir: str | None = arg(None, "where checkpoints go (default: a temporary folder)")
    resume: bool = arg(False, "continue from the last checkpoint in checkpoint_dir")
    class_weight: str | dict[str, float] | None = arg(
        None, "re-weight the classes in the loss: none, 'balanced' (inverse class frequency) or {label: weight} (YAML)"
    )
    device: str = device_field()
    dtype: str = dtype_field()
    report_to: list[str] = arg(
        ["none"],
        "where Trainer logs the loss and metrics: none, or any integrations of transformers (comma-separated: "
        "tensorboard, wandb, trackio, mlflow, comet_ml, clearml...)",
    )
    logging_dir: str | None = arg(None, "tensorboard: the folder for its event files (default: runs/DATE_HOST)")
    training_args: dict[str, Any] = arg(
        {}, "more transformers.TrainingArguments, passed through (YAML mapping; they override llmdisc's own)"
    )


def weighted_cross_entropy(weights: Sequence[float]) -> Callable:
    """Trainer's ``compute_loss_func`` for a classification head: cross-entropy, each example
    weighted by its class's weight (``class_weight``).

    The sum is divided by ``num_items_in_batch`` (the examples of the whole accumulated step,
    across processes, as Trainer counts them) rather than by the micro-batch: Trainer then
    neither divides by the accumulation steps nor averages over processes itself, so the
    gradient is the same whatever the accumulation and process count.

    Args:
        weights: one weight per class.

    Returns:
        ``loss(outputs, labels, num_items_in_batch=None) -> scalar tensor``.
    """

    def loss(outputs, labels, num_items_in_batch=None):
        import torch

        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        labels = labels.view(-1).to(logits.device)
        w = torch.as_tensor(weights, dtype=torch.float32, device=logits.device)
        per_example = torch.nn.functional.cross_entropy(
            logits.view(-1, logits.size(-1)).float(), labels, reduction="none"
        )
        total = num_items_in_batch if num_items_in_batch is not None else labels.numel()
        return (per_example * w[labels]).sum() / total

    return loss


def compute_classification_metrics(eval_pred) -> dict[str, float]:
    """Trainer's ``compute_metrics``: our metrics of the softmax of the logits."""
    logits, labels = eval_pred
    logits = logits[0] if isinstance(logits, tuple) else logits
    return classification_metrics(softmax(logits), np.asarray(labels))


class LossAndSpeedProgress:
    """Trainer's progress bar, showing the latest loss and examples/s instead of printing dicts.

    Mixed into transformers' ``ProgressCallback`` by :func:`_progress_callback` (transformers is
    imported only to train).
    """

    def on_train_begin(self, args, state, control, **kwargs):
        from tqdm.auto import tqdm

        # The cell's bar: below a comparison's grid bar, gone when training ends.
        # Disabled, not None, elsewhere: ProgressCallback updates it in every process that calls
        # itself the main one, as each does in a comparison's cell (distributed.on_its_own).
        self.training_bar = tqdm(
            total=state.max_steps,
            desc="train",
            unit="step",
            leave=False,
            dynamic_ncols=True,
            file=sys.stderr,
            disable=not (state.is_world_process_zero and distributed.shows_progress()),
        )
        self.current_step, self._evaluated = 0, {}
        self._start, self._start_step = time.perf_counter(), state.global_step

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        pass  # no second bar for each evaluation: the training bar is the cell's one bar

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not (state.is_world_process_zero and self.training_bar is not None and logs):
            return
        seconds = time.perf_counter() - self._start
        examples = (
            (state.global_step - self._start_step)
            * args.train_batch_size
            * args.gradient_accumulation_steps
            * args.world_size
        )
        postfix = {"ex/s": f"{examples / seconds:.1f}" if seconds > 0 else "-"}
        if "loss" in logs:
            postfix["loss"] = f"{logs['loss']:.4f}"
        if "eval_loss" in logs:  # the latest evaluation stays on the bar; every one is logged (--verbose)
            self._evaluated = (
                {f"val {ACCURACY.name}": f"{logs[f'eval_{ACCURACY.name}']:.4f}"}
                if f"eval_{ACCURACY.name}" in logs
                else {}
            )
            logger.debug(
                "step %d: %s",
                state.global_step,
                ", ".join(f"{k[5:]} {v:.4f}" for k, v in logs.items() if k[5:] in _LOGGED and isinstance(v, float)),
            )
        self.training_bar.set_postfix(postfix | self._evaluated)


def _progress_callback() -> LossAndSpeedProgress:
    from transformers.trainer_callback import ProgressCallback

    return type("LossAndSpeedProgress", (LossAndSpeedProgress, ProgressCallback), {})()


# What the progress line shows after each evaluation (Trainer prefixes each with "eval_").
_LOGGED = (TRAINER_LOSS, ACCURACY.name, MACRO_F1.name, ECE.name)


def selection_metrics() -> dict[str, bool]:
    """The valid choices of ``metric_for_best_model``, each with whether higher is better: every
    metric of the registry, and Trainer's own validation loss."""
    return {**{m.name: m.higher_is_better for m in METRICS.values()}, TRAINER_LOSS: False}


#: ``report_to`` takes every integration of the installed transformers, by name. These are the
#: ones whose package (pip name, module) is not named as the integration is.
TRACKER_PACKAGES = {
    "azure_ml": ("azureml-core", "azureml"),
    "comet_ml": ("comet-ml", "comet_ml"),
    "flyte": ("flytekit", "flytekit"),
}


def _report_to(s: TrainerSettings) -> list[str]:
    """The trackers of ``s.report_to`` (``none`` dropped)."""
    return [r.strip().lower() for r in s.report_to if r.strip().lower() not in ("", "none")]


def _check_trackers(names: Sequence[str]) -> None:
    """Every tracker is an integration the installed transformers knows, and it is installed."""
    import importlib.util

    from transformers.integrations.integration_utils import (
        INTEGRATION_TO_CALLBACK,
        get_available_reporting_integrations,
    )

    available = set(get_available_reporting_integrations())
    for name in names:
        if name not in INTEGRATION_TO_CALLBACK:
            raise LlmdiscError(f"unknown report_to '{name}'; use none or any of {', '.join(INTEGRATION_TO_CALLBACK)}")
        package, module = TRACKER_PACKAGES.get(name, (name, name))
        # transformers lists an integration as available when its package imports (flyte it never lists).
        if name not in available and importlib.util.find_spec(module) is None:
            raise LlmdiscError(f"report_to {name} needs the {package} package; pip install {package}")


def training_args_values(values: dict[str, Any]) -> dict[str, Any]:
    """``training_args`` with each string read as its ``TrainingArguments`` field's type, as
    transformers' own ``HfArgumentParser`` reads ``--max_grad_norm 0.5`` from a command line
    (``--training-args max_grad_norm=0.5`` arrives as the string "0.5"; YAML values are typed already).

    Returns:
        The values, converted; a key that is no field, or a string that is not of its field's type (or
        not one of its choices), is a one-line error naming the field.
    """
    import dataclasses as dc

    from transformers import HfArgumentParser, TrainingArguments

    if not isinstance(values, dict):
        raise LlmdiscError("training_args must be a mapping of TrainingArguments names to values (YAML)")
    valid = sorted(f.name for f in dc.fields(TrainingArguments) if f.init)
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise LlmdiscError(
            f"unknown training_args key(s): {', '.join(unknown)}; valid keys (transformers "
            f"TrainingArguments): {', '.join(valid)}"
        )
    actions = {a.dest: a for a in HfArgumentParser(TrainingArguments)._actions}
    out = dict(values)
    for key, value in values.items():
        action = actions.get(key)
        if not isinstance(value, str) or action is None or action.type is None:
            continue
        kind = "bool" if action.type.__name__ == "string_to_bool" else action.type.__name__
        try:
            out[key] = action.type(value)
        except (TypeError, ValueError, KeyError, argparse.ArgumentTypeError):
            raise LlmdiscError(f"training_args.{key}: cannot read {value!r} as {kind}") from None
        if action.choices and out[key] not in action.choices:
            choices = ", ".join(str(getattr(c, "value", c)) for c in action.choices)
            raise LlmdiscError(f"training_args.{key}: {value!r} is not one of {choices}")
    return out


def check_run_options(s: TrainerSettings) -> None:
    """The device, precision, tracking and pass-through settings, checked in one line each before any work."""
    from llmdisc.lm.batch_sizes import check_batch_size, check_max_tokens

    check_placement(s.device, s.dtype)
    device = resolve_placement(s.device, s.dtype).device
    if device.type == "cuda" and (device.index or 0) > 0 and distributed.world_size() == 1:
        # TrainingArguments puts a single process on cuda:0 whatever the current device is.
        raise LlmdiscError(
            f"device {device}: Trainer approaches train a single process on the first visible GPU; "
            f"choose it with CUDA_VISIBLE_DEVICES={device.index} and device cuda"
        )
    check_batch_size(s.eval_batch_size, "eval_batch_size")
    check_max_tokens(s.max_batch_tokens, "max_batch_tokens")
    _check_trackers(_report_to(s))
    training_args_values(s.training_args)


#: The schedule rule's number of epochs when the data is large enough (what Trainer defaults to).
DEFAULT_EPOCHS = 3.0
# Evaluations (and checkpoints) per run at most, when epochs are many and short.
_MAX_EVALUATIONS = 10


@dataclass
class Schedule:
    """How long a Trainer run trains: what :func:`plan_schedule` decided, and why."""

    epochs: float
    max_steps: int  # -1: Trainer stops after ``epochs``
    steps: int  # optimizer steps it will take
    steps_per_epoch: int
    rule: str  # one line: "3 epochs", "raised to 25 epochs for 200 steps", "max_steps 40 as given"
    eval_steps: int | None = None  # evaluate and checkpoint every N steps (None: every epoch)


def plan_schedule(s: TrainerSettings, n_examples: int, num_processes: int = 1) -> Schedule:
    """The schedule rule: how many optimizer steps a run on ``n_examples`` takes.

    Three epochs of a few examples are a few optimizer steps from a randomly initialised head:
    128 examples at batch 16 give 24 steps, and the classifier stays at chance. So, when the
    user sets neither ``epochs`` nor ``max_steps``, the run trains 3 epochs, raised to as many
    whole epochs as take at least ``min_steps`` optimizer steps. A user's ``epochs`` or
    ``max_steps`` is taken as given. Warm-up is a fraction (``warmup_ratio``) of the steps
    actually taken, whichever rule set them.

    Args:
        s: the run's settings.
        n_examples: training examples.
        num_processes: data-parallel processes (each step consumes one batch per process).

    Returns:
        The :class:`Schedule`.
    """
    per_step = s.batch_size * s.gradient_accumulation_steps * max(num_processes, 1)
    steps_per_epoch = max(math.ceil(n_examples / per_step), 1)
    if s.max_steps > 0:
        epochs, max_steps, steps = s.max_steps / steps_per_epoch, s.max_steps, s.max_steps
        rule = f"max_steps {s.max_steps} as given"
    elif s.epochs is not None:
        epochs, max_steps, rule = s.epochs, -1, f"{s.epochs:g} epochs as given"
        steps = math.ceil(s.epochs * steps_per_epoch)
    else:
        epochs, max_steps = max(DEFAULT_EPOCHS, math.ceil(s.min_steps / steps_per_epoch)), -1
        steps = int(epochs) * steps_per_epoch
        rule = (
            f"{epochs:g} epochs"
            if epochs == DEFAULT_EPOCHS
            else f"{epochs:g} epochs (raised from {DEFAULT_EPOCHS:g} for at least {s.min_steps} steps)"
        )
    eval_steps = s.eval_steps
    if eval_steps is None and epochs > _MAX_EVALUATIONS:
        # 200 epochs of 8 examples would evaluate and write a checkpoint 200 times.
        eval_steps = math.ceil(steps / _MAX_EVALUATIONS)
    return Schedule(float(epochs), max_steps, steps, steps_per_epoch, rule, eval_steps)


def _check(s: TrainerSettings) -> None:
    """Settings that would only fail after an epoch of training fail now, in one line."""
    from transformers import SchedulerType

    check_run_options(s)
    if s.metric_for_best_model not in selection_metrics():
        raise LlmdiscError(
            f"unknown metric_for_best_model '{s.metric_for_best_model}'; use one of {', '.join(selection_metrics())}"
        )
    schedulers = [t.value for t in SchedulerType]
    if s.lr_scheduler not in schedulers:
        raise LlmdiscError(f"unknown lr_scheduler '{s.lr_scheduler}'; use one of {', '.join(schedulers)}")
    if s.batch_size < 1 or s.gradient_accumulation_steps < 1 or s.max_length < 2 or s.learning_rate <= 0:
        raise LlmdiscError(
            "batch_size, gradient_accumulation_steps and learning_rate must be positive, max_length >= 2"
        )
    if s.max_steps == 0 or (s.max_steps < 0 and s.epochs is not None and s.epochs <= 0):
        raise LlmdiscError(
            f"the schedule would train for zero steps (epochs {s.epochs}, max_steps {s.max_steps}); "
            "give epochs > 0 or max_steps > 0, or leave both unset for the schedule rule"
        )
    if s.min_steps < 1:
        raise LlmdiscError(f"min_steps must be at least 1, got {s.min_steps}")


def _training_arguments(
    s: TrainerSettings, schedule: Schedule, output_dir: str, has_eval: bool, **overrides: Any
) -> TrainingArguments:
    import torch
    from transformers import TrainingArguments

    strategy = "steps" if schedule.eval_steps else "epoch"
    kwargs: dict[str, Any] = dict(
        output_dir=output_dir,
        num_train_epochs=schedule.epochs,
        max_steps=schedule.max_steps,
        learning_rate=s.learning_rate,
        per_device_train_batch_size=s.batch_size,
        # auto finds the prediction batch (llmdisc.lm.batch_sizes); Trainer's own evaluation takes 64.
        per_device_eval_batch_size=64 if str(s.eval_batch_size).lower() == "auto" else int(s.eval_batch_size),
        gradient_accumulation_steps=s.gradient_accumulation_steps,
        weight_decay=s.weight_decay,
        warmup_steps=s.warmup_ratio,  # a float < 1 is a ratio of the total steps in transformers 5
        lr_scheduler_type=s.lr_scheduler,
        train_sampling_strategy="group_by_length" if s.group_by_length else "random",
        logging_steps=s.logging_steps,
        seed=s.seed,
        save_strategy=strategy,
        eval_strategy=strategy if has_eval else "no",
        eval_steps=schedule.eval_steps,
        save_steps=schedule.eval_steps,
        # Keep the best and the latest checkpoint: the best for the end, the latest to resume.
        save_total_limit=2,
        load_best_model_at_end=has_eval,
        metric_for_best_model=s.metric_for_best_model if has_eval else None,
        greater_is_better=selection_metrics()[s.metric_for_best_model] if has_eval else None,
        # tensorboard is attached as a callback with its own folder (output_dir is temporary).
        report_to=[r for r in _report_to(s) if r != "tensorboard"] or "none",
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    placement = resolve_placement(s.device, s.dtype)
    if placement.device.type == "cpu":
        # Trainer takes a GPU whenever there is one; device: cpu must say so. Launched on several
        # CPU processes, Trainer also runs data-parallel (gloo) only when told so.
        kwargs["use_cpu"] = True
    # Mixed precision: the weights stay float32 while training; the forward passes run in the
    # half dtype (autocast), which is what bf16/fp16 mean to Trainer.
    kwargs["bf16"] = placement.dtype_name == "bfloat16"
    kwargs["fp16"] = placement.dtype_name == "float16"
    kwargs.update(overrides)
    kwargs.update(training_args_values(s.training_args))
    try:
        return TrainingArguments(**kwargs)
    except (ValueError, TypeError) as e:
        raise LlmdiscError(f"invalid Trainer settings (training_args?): {first_line(e, 300)}") from None


def _tensorboard_callback(s: TrainerSettings):
    """Trainer's TensorBoard callback writing to ``s.logging_dir`` (default: runs/DATE_HOST)."""
    from torch.utils.tensorboard import SummaryWriter
    from transformers.integrations import TensorBoardCallback
    from transformers.integrations.integration_utils import default_logdir

    folder = s.logging_dir or default_logdir()
    return TensorBoardCallback(tb_writer=SummaryWriter(log_dir=folder))


@dataclass
class TrainingTask:
    """What the Trainer fits besides its settings: how batches are made and how the loss reads them.

    Attributes:
        data_collator: pads a list of examples into a batch.
        compute_metrics: turns evaluation predictions into metrics.
        class_weights: for a classification head, one loss weight per class (None: unweighted).
        sparse_logits: a causal LM trained on ``labels``: project onto the vocabulary only at the
            positions the loss reads (:mod:`llmdisc.training.sparse_lm_loss`; the same loss, faster).
        training_overrides: extra ``TrainingArguments``.
    """

    data_collator: Callable
    compute_metrics: Callable | None = compute_classification_metrics
    class_weights: Sequence[float] | None = None
    sparse_logits: bool = False
    training_overrides: dict[str, Any] = field(default_factory=dict)


def train_model(
    model, tokenizer, train_dataset, eval_dataset, settings: TrainerSettings, task: TrainingTask
) -> TrainerRun:
    """Train ``model`` with Trainer; leave the best checkpoint's weights in it.

    Args:
        model: the model to train (changed in place).
        tokenizer: its tokenizer (saved with checkpoints).
        train_dataset: tokenized training data (a ``length`` column enables length grouping).
        eval_dataset: tokenized validation data, or None (then no evaluation, no best-model pick).
        settings: the run's settings.
        task: the collator, metrics and loss (:class:`TrainingTask`).

    Returns:
        The run's :class:`~llmdisc.api.records.TrainerRun`: steps, loss, best metric, the checkpoint
        it resumed from, speed and the number of data-parallel processes.
    """
    _check(settings)
    checkpoint_dir, tmp, last = _checkpoints(settings)
    schedule = plan_schedule(settings, len(train_dataset), distributed.world_size())
    logger.info("training %d examples for %d optimizer steps: %s", len(train_dataset), schedule.steps, schedule.rule)
    overrides = task.training_overrides
    if tmp and eval_dataset is None:
        # Checkpoints in a temporary folder that nothing picks from nor resumes from: skip them.
        overrides = {"save_strategy": "no", **overrides}
    args = _training_arguments(settings, schedule, checkpoint_dir, eval_dataset is not None, **overrides)
    trainer = _trainer(model, tokenizer, train_dataset, eval_dataset, settings, task, args)
    try:
        result = trainer.train(resume_from_checkpoint=last if settings.resume and last else None)
        distributed.barrier()  # several processes: all have read the best checkpoint back
    finally:
        if tmp and distributed.is_main_process():
            shutil.rmtree(tmp, ignore_errors=True)
    return TrainerRun(
        global_step=trainer.state.global_step,
        train_loss=round(float(result.training_loss), 5),
        best_metric=trainer.state.best_metric,
        resumed_from=Path(last).name if settings.resume and last else None,
        train_samples_per_second=result.metrics.get("train_samples_per_second"),
        num_processes=args.world_size,
        epochs=round(float(trainer.state.epoch or 0.0), 3),
        schedule=schedule.rule,
    )


def _checkpoints(settings: TrainerSettings) -> tuple[str, str | None, str | None]:
    """(the checkpoint folder, the temporary folder to remove afterwards or None, the checkpoint to
    resume from or None), with one-line errors for a resume that cannot work."""
    from transformers.trainer_utils import get_last_checkpoint

    tmp = None
    checkpoint_dir = settings.checkpoint_dir
    if checkpoint_dir is None:
        if settings.resume:
            raise LlmdiscError("resume needs a checkpoint_dir (--checkpoint-dir, or the train command's --output-dir)")
        # One folder for all processes: the main one writes checkpoints, all read the best back.
        # temp_dir: in OUTPUT_DIR/tmp during a comparison; a killed run's leftovers go next time.
        checkpoint_dir = tmp = distributed.broadcast_object(
            str(temp_dir("llmdisc-checkpoints-")) if distributed.is_main_process() else None
        )
    last = get_last_checkpoint(checkpoint_dir) if Path(checkpoint_dir).is_dir() else None
    if last and settings.resume:
        last = last_complete_checkpoint(checkpoint_dir)
    if last and not settings.resume:
        raise LlmdiscError(
            f"{checkpoint_dir} holds checkpoints of an unfinished run; pass --resume to continue "
            "it, or remove the folder to start over"
        )
    if settings.resume and not last:
        logger.warning("no complete checkpoint in %s: starting from the beginning", checkpoint_dir)
    return checkpoint_dir, tmp, last


def _trainer(model, tokenizer, train_dataset, eval_dataset, settings: TrainerSettings, task: TrainingTask, args):
    """The Trainer for ``task``: its loss, callbacks and passes (micro_batching), our progress bar."""
    from transformers import EarlyStoppingCallback, Trainer
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    callbacks = []
    if settings.early_stopping_patience and eval_dataset is not None:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=settings.early_stopping_patience))
    if "tensorboard" in _report_to(settings) and distributed.is_main_process():
        callbacks.append(_tensorboard_callback(settings))
    trainer_class, loss_func = Trainer, None
    if task.class_weights is not None:
        loss_func = weighted_cross_entropy(task.class_weights)
    if task.sparse_logits:
        if task.class_weights is not None:
            raise LlmdiscError(
                "class_weights weight a classification head's loss, sparse_logits a causal LM's: not both"
            )
        from llmdisc.training.sparse_lm_loss import label_token_loss, sparse_logits_trainer

        trainer_class, loss_func = sparse_logits_trainer(), label_token_loss
    trainer = micro_batching(trainer_class)(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        data_collator=task.data_collator,
        compute_metrics=task.compute_metrics if eval_dataset is not None else None,
        callbacks=callbacks,
        compute_loss_func=loss_func,
    )
    trainer.max_batch_tokens = settings.max_batch_tokens
    if "ForSequenceClassification" in type(model).__name__:
        # A classification loss is a mean over the batch. Trainer (transformers 5) takes any model
        # whose forward has **kwargs for one whose loss is summed over the tokens of the whole
        # step: it then multiplies it by the number of processes and skips the division by the
        # accumulation steps (BERT's head ignores that count), so logged losses and gradients
        # would grow with both.
        trainer.model_accepts_loss_kwargs = False
    # Trainer prints its logs as raw dicts through PrinterCallback when its logger is quiet
    # (TRANSFORMERS_VERBOSITY=error, as the CLI sets it): our progress bar shows them instead.
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(_progress_callback())
    return trainer
