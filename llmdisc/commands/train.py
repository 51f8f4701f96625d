"""``llmdisc train APPROACH``: train one approach, evaluate it, save it as a folder.

    llmdisc train naive_bayes --data demo --output-dir outputs/nb
    llmdisc train logistic_regression --config recipes/sst2-logistic-regression.yaml --C 2
    llmdisc train encoder --push-to-hub --hub-model-id you/minilm-demo   # save, then upload
    llmdisc train encoder --hub-dry-run --hub-model-id you/minilm-demo   # what would be uploaded

The approach's own settings (``--alpha`` for naive_bayes, say) are flags too, and keys in the
same YAML file. ``--verbalizers neg=negative,pos=positive`` and ``--task sentiment`` set the
label words and the prompt of the approaches that score label words (zeroshot, lora).

Pushing: a missing token or an unreachable Hub stops the run before training. The model is
always saved to ``--output-dir`` first and that folder is what is uploaded, so a failed upload
loses nothing. Under ``accelerate launch`` every process trains and evaluates; only the main
one saves, prints and uploads.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmdisc.api.records import RunRecord
from llmdisc.classifiers import available_classifiers, get_classifier, get_classifier_class
from llmdisc.comparison.evaluation import evaluate_classifier
from llmdisc.data.loading import DataConfig
from llmdisc.data.subsets import stratified_subset
from llmdisc.errors import LlmdiscError
from llmdisc.hub.repos import check_push_access, check_repo_id, describe_upload, upload_folder
from llmdisc.lm.prompts import PromptSettings, check_task, label_words_warning, with_data_settings
from llmdisc.plumbing import distributed
from llmdisc.plumbing.config import arg, config_from_dict, merged_values
from llmdisc.plumbing.config import make_parser as _fields_parser
from llmdisc.reporting.report import format_table

__all__ = ["TrainConfig", "main", "make_parser"]

logger = logging.getLogger(__name__)


@dataclass
class TrainConfig(PromptSettings, DataConfig):
    max_train_samples: int | None = arg(None, "train on a stratified subset of this many examples")
    eval_splits: list[str] = arg(["validation", "test"], "splits to evaluate after training")
    calibrate: bool = arg(False, "fit a temperature on validation after training; the saved model applies it")
    output_dir: str | None = arg(None, "where to save the model (default: outputs/APPROACH)")
    overwrite: bool = arg(False, "replace an output folder that holds a different model")
    merge: bool = arg(False, "lora: also write OUTPUT_DIR/merged, the adapters merged into a standalone model")
    push_to_hub: bool = arg(
        False, "upload the saved folder to the Hugging Face Hub (needs --hub-model-id and a login)"
    )
    hub_model_id: str | None = arg(None, "the Hub model repo to push to, owner/name")
    hub_private: bool | None = arg(None, "create the Hub repo private (default: the Hub's default, public)")
    hub_dry_run: bool = arg(False, "write the folder that would be uploaded and list its files; no network")


def _check_hub(config: TrainConfig) -> str | None:
    """Before any training: the hub settings make sense, and an upload can work. Return the token."""
    if not (config.push_to_hub or config.hub_dry_run):
        if config.hub_model_id:
            check_repo_id(config.hub_model_id)  # it goes into the model card's snippets
        return None
    if not config.hub_model_id:
        raise LlmdiscError(
            f"--{'push-to-hub' if config.push_to_hub else 'hub-dry-run'} needs --hub-model-id owner/name"
        )
    check_repo_id(config.hub_model_id)
    if config.hub_dry_run:
        return None  # no token, no network
    return check_push_access(config.hub_model_id)


def main(approach: str, config: TrainConfig, approach_config: dict[str, Any] | None = None) -> Path:
    """Train ``approach`` with ``approach_config``, evaluate it, save it; return the folder.

    Neural approaches checkpoint into ``OUTPUT_DIR-checkpoints`` (unless ``checkpoint_dir`` is
    set), so a killed run continues with ``--resume``; that folder is removed once the model
    is saved.
    """
    approach_config = dict(approach_config or {})
    output_dir = Path(config.output_dir or f"outputs/{approach}")
    if output_dir.is_file():
        raise LlmdiscError(f"--output-dir {output_dir} is a file; pass a folder")
    if output_dir.exists() and any(output_dir.iterdir()) and not config.overwrite:
        raise LlmdiscError(f"{output_dir} already exists and is not empty; pass --overwrite or another --output-dir")
    cls = get_classifier_class(approach)
    if config.merge and not cls.can_merge:
        mergeable = [name for name in available_classifiers() if get_classifier_class(name).can_merge]
        raise LlmdiscError(f"--merge applies to {', '.join(mergeable)} only, not {approach}")
    token = _check_hub(config)  # fail in seconds, not after an hour of training
    default_checkpoints = _default_checkpoints(cls, config, approach_config, output_dir)
    # Several processes: all have checked the folders (and none sees checkpoints about to go)
    # before any of them trains or saves.
    distributed.barrier()
    check_task(config.task)
    if cls.scores_label_words:
        approach_config = with_data_settings(approach_config, config.verbalizers, config.task)
    clf = get_classifier(approach, **approach_config)
    data = config.load()
    labels = data["train"].features["label"].names
    if config.verbalizers:  # checked even where the approach scores no words: a typo is a typo
        from llmdisc.lm.label_likelihood import resolve_verbalizers

        resolve_verbalizers(labels, config.verbalizers)
    train = stratified_subset(data["train"], config.max_train_samples, config.seed)
    clf.check(labels, sizes=[len(train)])
    # Nothing picks a prompt outside a comparison: where nobody chose one, --task is the fix to name.
    unpicked = config.task is None and clf.prompt_pick() is not None
    warning = label_words_warning(labels, {approach: clf.label_words(labels)}, suggest_task=unpicked)
    if warning:
        logger.warning(warning)
    clf.fit(train, eval=data["validation"])
    if config.calibrate:
        c = clf.calibrate(data["validation"])
        logger.info(
            "temperature %.4g fitted on validation: ECE there %.4f -> %.4f",
            c.temperature,
            c.before["ece"],
            c.after["ece"],
        )
    evaluations = {split: evaluate_classifier(clf, data[split]) for split in config.eval_splits if split in data}
    clf.info.dataset = config.describe()
    clf.info.metrics = {split: e.metrics for split, e in evaluations.items()}
    clf.save_pretrained(output_dir, repo_id=config.hub_model_id)  # on the main process; the others wait
    if not distributed.is_main_process():
        return output_dir
    if config.merge:
        clf.save_merged(output_dir / "merged")
    if default_checkpoints is not None:
        shutil.rmtree(default_checkpoints, ignore_errors=True)
    rows = [
        RunRecord.of_model(approach, clf.paradigm, clf.labels, split, e, clf.info, seed=config.seed)
        for split, e in evaluations.items()
    ]
    print(format_table(rows))
    print(f"\nsaved: {output_dir}")
    if config.hub_dry_run:
        print(describe_upload(output_dir, config.hub_model_id))
    elif config.push_to_hub:
        url = upload_folder(output_dir, config.hub_model_id, private=config.hub_private, token=token)
        print(f"pushed: {url}")
    return output_dir


def _default_checkpoints(
    cls: type, config: TrainConfig, approach_config: dict[str, Any], output_dir: Path
) -> Path | None:
    """For an approach that checkpoints and was given no checkpoint_dir: OUTPUT_DIR-checkpoints,
    set in ``approach_config`` (emptied first under --overwrite without --resume); else None."""
    if not cls.checkpoints or approach_config.get("checkpoint_dir"):
        return None
    folder = Path(f"{output_dir}-checkpoints")
    approach_config["checkpoint_dir"] = str(folder)
    if config.overwrite and not approach_config.get("resume") and folder.exists() and distributed.is_main_process():
        shutil.rmtree(folder)  # --overwrite without --resume: start over
    return folder


def _split_values(approach: str, args: argparse.Namespace) -> tuple[TrainConfig, dict[str, Any]]:
    """YAML + flags -> (TrainConfig, the approach's settings); a key neither knows is an error."""
    values, where = merged_values(args)
    own = {f.name for f in dataclasses.fields(TrainConfig)}
    theirs = {f.name for f in dataclasses.fields(get_classifier_class(approach).Config)}
    unknown = sorted(set(values) - own - theirs)
    if unknown:
        raise LlmdiscError(
            f"unknown {where} key(s) for train {approach}: {', '.join(unknown)}; "
            f"valid keys: {', '.join(sorted(own | theirs))}"
        )
    config = config_from_dict(TrainConfig, {k: v for k, v in values.items() if k in own})
    return config, {k: v for k, v in values.items() if k in theirs}


def make_parser(subparsers: Any = None) -> argparse.ArgumentParser:
    """The ``train`` parser: one sub-parser per registered approach, each with its own flags."""
    kwargs = {"description": __doc__, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = (
        subparsers.add_parser("train", help="train one approach and save it", **kwargs)
        if subparsers
        else argparse.ArgumentParser(**kwargs)
    )
    approaches = parser.add_subparsers(dest="approach", metavar="APPROACH", required=True)
    for name in available_classifiers():
        cls = get_classifier_class(name)
        sub = approaches.add_parser(name, help=cls.description)
        _fields_parser(TrainConfig, sub)
        taken = {a.dest for a in sub._actions}  # e.g. seed: one flag sets both configs
        for action in _fields_parser(cls.Config, argparse.ArgumentParser(add_help=False))._actions:
            if action.dest not in taken:
                sub._add_action(action)
        sub.set_defaults(func=lambda args: main(args.approach, *_split_values(args.approach, args)))
    return parser


if __name__ == "__main__":
    from llmdisc.plumbing.console import run

    sys.exit(run(make_parser()))
