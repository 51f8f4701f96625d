"""Experiment tracking and Trainer options: report_to (tensorboard tested offline) and training_args."""

from __future__ import annotations

import importlib.util

import pytest

from llmdisc import LlmdiscError, get_classifier, stratified_subset
from llmdisc.training.trainer import TrainerSettings, check_run_options


def _args_of(settings):
    """The TrainingArguments llmdisc builds for ``settings`` (a run on 16 examples)."""
    from llmdisc.training.trainer import _training_arguments, plan_schedule

    return _training_arguments(settings, plan_schedule(settings, 16), "unused", has_eval=False)


def test_tensorboard_event_files_hold_the_loss(demo, tiny_bert, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logs = tmp_path / "tb"
    clf = get_classifier(
        "encoder",
        model=str(tiny_bert),
        max_steps=4,
        batch_size=4,
        logging_steps=1,
        report_to=["tensorboard"],
        logging_dir=str(logs),
    )
    clf.fit(stratified_subset(demo["train"], 16), eval=stratified_subset(demo["validation"], 8))
    events = list(logs.glob("events.out.tfevents.*"))
    assert events, f"no event file in {logs}: {list(logs.iterdir()) if logs.exists() else 'no folder'}"
    acc = EventAccumulator(str(logs))
    acc.Reload()
    assert "train/loss" in acc.Tags()["scalars"]
    losses = [e.value for e in acc.Scalars("train/loss")]
    assert len(losses) == 4 and all(loss > 0 for loss in losses)
    assert "eval/loss" in acc.Tags()["scalars"]


def test_training_args_pass_through_and_override():
    args = _args_of(TrainerSettings(training_args={"max_grad_norm": 0.5, "logging_steps": 7}))
    assert args.max_grad_norm == 0.5 and args.logging_steps == 7


def test_an_unknown_training_args_key_is_one_line_listing_the_valid_ones():
    with pytest.raises(LlmdiscError, match="unknown training_args key.s.: max_grad_nrom; valid keys") as e:
        check_run_options(TrainerSettings(training_args={"max_grad_nrom": 1.0}))
    message = str(e.value)
    assert "\n" not in message and "max_grad_norm" in message and "adam_beta1" in message


def test_a_bad_training_args_value_is_one_line(demo, tiny_bert):
    with pytest.raises(LlmdiscError, match="invalid Trainer settings") as e:
        _args_of(TrainerSettings(training_args={"fp16": True, "bf16": True}))  # each of the right type
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("tracker", ["wandb", "trackio"])
def test_a_tracker_that_is_not_installed_is_one_line(tracker):
    if importlib.util.find_spec(tracker) is not None:
        pytest.skip(f"{tracker} is installed here")
    with pytest.raises(LlmdiscError, match=f"report_to {tracker} needs the {tracker} package; pip install {tracker}"):
        check_run_options(TrainerSettings(report_to=[tracker]))


def test_an_unknown_tracker_is_one_line():
    with pytest.raises(LlmdiscError, match="unknown report_to 'mlflw'; use none or any of .*mlflow.*wandb"):
        check_run_options(TrainerSettings(report_to=["mlflw"]))


def test_every_integration_of_transformers_is_a_tracker_by_name():
    """mlflow, comet_ml, clearml... : accepted by name (refused only when their package is missing)."""
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    assert {"mlflow", "comet_ml", "clearml", "tensorboard", "wandb"} <= set(INTEGRATION_TO_CALLBACK)
    for name in INTEGRATION_TO_CALLBACK:
        try:
            check_run_options(TrainerSettings(report_to=[name]))
        except LlmdiscError as e:
            assert str(e).startswith(f"report_to {name} needs the ") and "pip install" in str(e), str(e)
    check_run_options(TrainerSettings(report_to=["tensorboard"]))  # installed with the test extra


@pytest.mark.parametrize(
    "given,field,value",
    [
        ("max_grad_norm=0.5", "max_grad_norm", 0.5),
        ("adam_beta2=0.98,seed=7", "adam_beta2", 0.98),
        ("adam_beta2=0.98,seed=7", "seed", 7),
        ("dataloader_drop_last=true", "dataloader_drop_last", True),
    ],
)
def test_training_args_from_the_command_line_take_their_fields_types(given, field, value):
    # --training-args max_grad_norm=0.5 arrived as the string "0.5".
    from llmdisc.classifiers.encoder import EncoderClassifier
    from llmdisc.plumbing.config import config_from_dict

    settings = config_from_dict(EncoderClassifier.Config, {"training_args": given})
    args = _args_of(settings)
    assert getattr(args, field) == value and type(getattr(args, field)) is type(value)


@pytest.mark.parametrize(
    "given,message",
    [
        ({"max_grad_norm": "a lot"}, "training_args.max_grad_norm: cannot read 'a lot' as float"),
        ({"dataloader_drop_last": "maybe"}, "training_args.dataloader_drop_last: cannot read 'maybe' as bool"),
        ({"lr_scheduler_type": "sideways"}, "training_args.lr_scheduler_type: 'sideways' is not one of linear"),
    ],
)
def test_a_training_args_value_of_the_wrong_type_is_one_line_naming_the_field(given, message):
    with pytest.raises(LlmdiscError) as e:
        check_run_options(TrainerSettings(training_args=given))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_trackers_reach_trainer_by_name():
    args = _args_of(TrainerSettings(report_to=["none"]))
    assert args.report_to == []
    # tensorboard is llmdisc's own callback (its folder outlives the temporary output_dir)
    args = _args_of(TrainerSettings(report_to=["tensorboard"]))
    assert args.report_to == []


def test_the_checks_run_before_training_in_a_comparison(demo, tiny_bert):
    clf = get_classifier("encoder", model=str(tiny_bert), training_args={"no_such_option": 1})
    with pytest.raises(LlmdiscError, match="unknown training_args key"):
        clf.check(["negative", "positive"])


def test_trainer_prints_no_raw_log_dicts_when_quiet(demo, tiny_bert, capsys):
    # The CLI quiets transformers' logger; Trainer then printed every log as a dict
    # ({'train_runtime': ...}) through PrinterCallback, between llmdisc's own lines.
    import transformers

    before = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        get_classifier("encoder", model=str(tiny_bert), max_steps=2, batch_size=4, logging_steps=1).fit(
            stratified_subset(demo["train"], 8), eval=stratified_subset(demo["validation"], 4)
        )
    finally:
        transformers.logging.set_verbosity(before)
    out = capsys.readouterr()
    assert "train_runtime" not in out.out + out.err and "{'loss'" not in out.out + out.err
