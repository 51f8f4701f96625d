"""The Hugging Face Hub: model cards, checks that fail before training, uploads, dry runs.

What is pushed is exactly the folder that ``save_pretrained`` wrote (except a LoRA ``merged/``
sub-folder, a full model kept for local use). The model card (``README.md``) is rendered from
``templates/model_card.md.j2`` and saved with ``huggingface_hub.ModelCard``; its metadata is
``ModelCardData``, its ``model-index`` holds the metrics, and its "How to use"
section shows the approach's own vanilla-library code (a transformers pipeline, peft, skops)
next to llmdisc's.

Pushing is planned so that nothing is lost: :func:`check_push_access` runs before training (a
token, a reachable Hub; no request that needs a login), the folder is saved locally first, and a
failed :func:`upload_folder` says where the saved model is and how to push it later.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingface_hub import constants  # the rest of huggingface_hub (~1 s) is imported where used

from llmdisc.api.records import TrainInfo
from llmdisc.errors import LlmdiscError, first_line
from llmdisc.lm.loading import ALIASES, hub_base_model
from llmdisc.metrics.classification import ACCURACY, ECE, LOG_LOSS, MACRO_F1, METRICS
from llmdisc.plumbing.offline import hub_reachable
from llmdisc.plumbing.templates import render
from llmdisc.version import __version__

if TYPE_CHECKING:  # only for the annotation
    from huggingface_hub import EvalResult

__all__ = [
    "LOCAL_ONLY",
    "REPO_PLACEHOLDER",
    "ModelCardInfo",
    "public_value",
    "base_model_text",
    "check_push_access",
    "check_repo_id",
    "describe_upload",
    "download_folder",
    "upload_files",
    "upload_folder",
    "write_model_card",
]

# Files of a saved folder that stay local: `lora --merge` writes a full standalone model there.
LOCAL_ONLY = ["merged/*"]
# What a card's snippets load from when the folder is saved for no repo in particular.
REPO_PLACEHOLDER = "path/to/this/folder"

PARADIGMS = {
    "generative": "generative: it models how the text is produced (P(x|y), or an LM's likelihoods) and "
    "classifies by comparing them",
    "discriminative": "discriminative: it models P(y|x), the label given the text, directly",
    "baseline": "a baseline: it ignores the text and answers the training class prior (the floor of a comparison)",
}


# ---- model cards ---------------------------------------------------------------------------


@dataclass
class ModelCardInfo:
    """Everything a model card says, filled by the classifier being saved (``clf.card_info(repo)``).

    Attributes:
        approach: the registered approach; paradigm: generative or discriminative.
        library: the library that loads the folder without llmdisc (the card's ``library_name``).
        labels: the label names, in column order.
        settings: the approach's hyper-parameters.
        base_model: the ``model`` setting (an alias, a Hub id or a local path), None if none.
        info: what was recorded about training.
        how_it_works: a sentence or two on the approach.
        usage: ``(library, Python code)`` loading the folder without llmdisc, or None.
        limits: the approach's own limits, one line each.
        pipeline_tag: the Hub task whose widget runs the folder with ``library`` (None: claim none, for a
            folder that library's pipeline would load wrongly).
    """

    approach: str
    paradigm: str
    library: str
    labels: list[str]
    settings: dict[str, Any]
    base_model: Any
    info: TrainInfo
    how_it_works: str
    usage: tuple[str, str] | None = None
    limits: list[str] = field(default_factory=list)
    pipeline_tag: str | None = "text-classification"


# The metrics of a card's table.
_CARD_METRICS = (ACCURACY, MACRO_F1, LOG_LOSS, ECE)


def _metrics_to_model_index(info: TrainInfo) -> list[EvalResult]:
    from huggingface_hub import EvalResult

    dataset = public_value(info.dataset or "unknown")
    results = []
    for split, metrics in info.metrics.items():
        for m in METRICS.values():
            if m.hub_type and m.name in metrics:
                results.append(
                    EvalResult(
                        task_type="text-classification",
                        dataset_type=dataset,
                        dataset_name=dataset,
                        dataset_split=split,
                        metric_type=m.hub_type,
                        metric_name=m.name,
                        metric_value=float(metrics[m.name]),
                    )
                )
    return results


def public_value(value: Any) -> Any:
    """A setting or data source as a card may show it: local paths cut to their last part.

    ``../shared/data/sst2`` -> ``sst2 (local)``; ``train=/a/b.csv,test=/a/c.csv`` ->
    ``train=b.csv,test=c.csv (local)``; Hub ids, aliases and plain values are kept.
    """
    if not isinstance(value, str) or value in ALIASES or hub_base_model(value) == value:
        return value
    if "=" in value and "," in value or value.count("=") == 1:
        parts = [part.partition("=") for part in value.split(",")]
        return ",".join(f"{k.strip()}={Path(v.strip()).name}" for k, _, v in parts) + " (local)"
    if os.path.exists(os.path.expanduser(value)) or value.startswith((".", "/", "~")) or "/" in value:
        return f"{Path(value).name} (local)"
    return value


def base_model_text(model: Any) -> str:
    """The base model as a card states it: Hub id, packaged alias or local folder."""
    if not isinstance(model, str):
        return "none (word n-gram counts)"
    if model in ALIASES:
        spec = ALIASES[model]
        return (
            f"[{spec.hub_id}](https://huggingface.co/{spec.hub_id}), "
            f"through llmdisc's packaged alias `{model}` ({spec.description})"
        )
    hub_id = hub_base_model(model)
    if hub_id:
        return f"[{hub_id}](https://huggingface.co/{hub_id})"
    return f"a local model folder (`{Path(model).name}`), not on the Hub"


def _training_text(info: TrainInfo) -> str:
    if info.train_seconds is None:
        return "not recorded"
    parts = [f"{info.train_seconds} s"]
    run = info.trainer
    if run and run.global_step:
        parts.append(f"{run.global_step} optimizer step{'s' if run.global_step != 1 else ''}")
    if run and run.num_processes > 1:
        parts.append(f"{run.num_processes} data-parallel processes")
    return ", ".join(parts)


def write_model_card(card: ModelCardInfo, folder: Path, repo_id: str | None = None) -> None:
    """Write ``README.md``: a Hub model card for a saved classifier.

    The card's metadata (library, tags, base model, data set, metrics in ``model-index`` form)
    parses with ``huggingface_hub.ModelCard.load``; its text says what the approach is, its base
    model, data, labels, hyper-parameters, training time, intended use and limits, and how to
    load it with llmdisc and with the approach's own library. The text is
    ``templates/model_card.md.j2``, given values formatted here.

    Args:
        card: what the classifier being saved says about itself (``clf.card_info(repo)``).
        folder: the folder being written.
        repo_id: the Hub repo the folder is for; the snippets load from it (else from a folder).
    """
    from huggingface_hub import ModelCard, ModelCardData

    info = card.info
    results = _metrics_to_model_index(info)
    data = ModelCardData(
        library_name=card.library,
        pipeline_tag=card.pipeline_tag,
        tags=["llmdisc", "text-classification", card.paradigm, card.approach],
        base_model=hub_base_model(card.base_model),
        # Only a Hub data set id belongs in the metadata; a local source is named in the text.
        datasets=[info.dataset] if info.dataset and hub_base_model(info.dataset) == info.dataset else None,
        # model-index needs a model name.
        model_name=(repo_id.split("/")[-1] if repo_id else f"llmdisc-{card.approach}") if results else None,
        eval_results=results or None,
    )
    content = render("llmdisc.hub", "model_card.md.j2", metadata=data.to_yaml(), **_card_text(card, repo_id))
    ModelCard(content).save(folder / "README.md")


def _card_text(card: ModelCardInfo, repo_id: str | None) -> dict[str, Any]:
    """The values of the card's text (``templates/model_card.md.j2``), each formatted as the card shows it."""
    info = card.info
    return {
        "name": repo_id.split("/")[-1] if repo_id else f"llmdisc {card.approach}",
        "paradigm": card.paradigm,
        "paradigm_text": PARADIGMS.get(card.paradigm, card.paradigm),
        "how_it_works": card.how_it_works,
        "approach": card.approach,
        "base_model": base_model_text(card.base_model),
        "labels": card.labels,
        "dataset": public_value(info.dataset or "not recorded"),
        "train_examples": info.train_examples if info.train_examples is not None else "?",
        "training_time": _training_text(info),
        "version": __version__,
        "repo": repo_id or REPO_PLACEHOLDER,
        "usage": (card.usage[0], card.usage[1].strip()) if card.usage else None,
        # Where checkpoints went is not a hyper-parameter, and local paths do not belong on the Hub.
        "settings": [(k, public_value(v)) for k, v in card.settings.items() if k != "checkpoint_dir"],
        "metric_labels": [m.label for m in _CARD_METRICS],
        "metrics": [
            (split, [m.format(values.get(m.name, float("nan"))) for m in _CARD_METRICS])
            for split, values in info.metrics.items()
        ],
        "limits": card.limits,
    }


# ---- pushing ---------------------------------------------------------------------------------


def check_repo_id(repo_id: Any, kind: str = "model") -> str:
    """``repo_id`` if it is a valid ``owner/name`` repo id, else a one-line error (``kind``: model or dataset)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise LlmdiscError(
            f"Hub {kind} id {repo_id!r} must be 'owner/name' (your user or organisation, then the repo)"
        )
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise LlmdiscError(f"Hub {kind} id {repo_id!r} is invalid: {first_line(e)}") from None
    return repo_id


def check_push_access(repo_id: str, token: str | None = None, kind: str = "model") -> str:
    """Fail now, not after training, if an upload cannot work: return the token to use.

    Checks the repo id's form, that a token exists (``token``, else ``HF_TOKEN`` or the one
    ``hf auth login`` stored) and that the Hub answers within seconds. It sends no request that
    needs a login, so a token without write access is found out only at upload time (by then
    the model is saved locally).

    Args:
        repo_id: ``owner/name``.
        token: a token; by default the stored one.
        kind: ``model`` or ``dataset``, for messages.

    Returns:
        The token.
    """
    from huggingface_hub import get_token

    check_repo_id(repo_id, kind)
    if not token:
        try:
            token = get_token()
        except Exception as e:  # noqa: BLE001  an OIDC or OAuth refresh that failed
            raise LlmdiscError(
                f"could not read your Hugging Face token ({type(e).__name__}: {e}); log in again with `hf auth login`"
            ) from None
    if not token:
        raise LlmdiscError(
            f"pushing to {repo_id} needs a Hugging Face token and none is set; log in with "
            "`hf auth login` or set HF_TOKEN (or use --hub-dry-run to write the folder only)"
        )
    if not hub_reachable():
        why = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "no connection"
        raise LlmdiscError(
            f"cannot push to {repo_id}: the Hugging Face Hub ({constants.ENDPOINT}) is unreachable "
            f"({why}); connect, or use --hub-dry-run to write the folder without uploading"
        )
    return token


def upload_files(folder: str | Path, allow: list[str] | None = None) -> list[str]:
    """The files of ``folder`` an upload sends (relative paths), chosen as ``upload_folder`` chooses.

    Args:
        folder: the folder.
        allow: send only the files matching these patterns (None: all but the local-only ones).
    """
    from huggingface_hub.hf_api import DEFAULT_IGNORE_PATTERNS
    from huggingface_hub.utils import filter_repo_objects

    folder = Path(folder)
    paths = sorted(p.relative_to(folder).as_posix() for p in folder.glob("**/*") if p.is_file())
    return list(filter_repo_objects(paths, allow_patterns=allow, ignore_patterns=LOCAL_ONLY + DEFAULT_IGNORE_PATTERNS))


def describe_upload(folder: str | Path, repo_id: str, allow: list[str] | None = None, kind: str = "model") -> str:
    """What a dry run prints: the repo, then each file that would be uploaded with its size."""
    folder = Path(folder)
    files = upload_files(folder, allow)
    sizes = {f: (folder / f).stat().st_size for f in files}
    width = max((len(f) for f in files), default=0)
    lines = [
        f"dry run: nothing was uploaded; a push would send {len(files)} files "
        f"({sum(sizes.values()) / 1e6:.2f} MB) from {folder} to "
        f"{constants.ENDPOINT}/{'datasets/' if kind == 'dataset' else ''}{repo_id}"
    ]
    lines += [f"  {f:<{width}}  {sizes[f]:>12,} bytes" for f in files]
    if (folder / "merged").is_dir():
        lines.append("  (merged/ stays local: it is the full merged model, not part of the pushed folder)")
    return "\n".join(lines)


def upload_folder(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str = "Upload llmdisc classifier",
    repo_type: str = "model",
    allow: list[str] | None = None,
) -> str:
    """Create the repo if needed and upload a saved folder to it.

    Args:
        folder: a folder written by ``save_pretrained`` (or a comparison's output folder).
        repo_id: ``owner/name``.
        private: create the repo private (ignored if it exists).
        token: a Hub token; by default the stored one.
        commit_message: the commit message.
        repo_type: ``model``, or ``dataset`` for a comparison.
        allow: upload only the files matching these patterns (None: all but the local-only ones).

    Returns:
        The URL of the commit.
    """
    from huggingface_hub import HfApi

    folder = Path(folder)
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type)
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            repo_type=repo_type,
            commit_message=commit_message,
            allow_patterns=allow,
            ignore_patterns=list(LOCAL_ONLY),
        )
    # Whatever went wrong (HTTP, connection, permissions), the user must learn that the folder is
    # safe on disk and how to send it again.
    except Exception as e:  # noqa: BLE001
        what, again = (
            ("model", "--exclude 'merged/*'")
            if repo_type == "model"
            else ("comparison", f"--repo-type {repo_type} " + " ".join(f"--include '{p}'" for p in allow or []))
        )
        raise LlmdiscError(
            f"uploading to {repo_id} failed ({type(e).__name__}: {first_line(e, 200)}); "
            f"the {what} is saved at {folder}: "
            f"push it later with `hf upload {repo_id} {folder} {again.strip()}`"
        ) from None
    return str(getattr(commit, "commit_url", commit))


def download_folder(repo_id: str, revision: str | None = None, token: str | None = None) -> Path:
    """Download a model repo (or take it from the local cache when the Hub is unreachable)."""
    from huggingface_hub import snapshot_download

    check_repo_id(repo_id)
    online = hub_reachable()
    try:
        return Path(snapshot_download(repo_id, revision=revision, token=token, local_files_only=not online))
    except Exception as e:  # noqa: BLE001  not found, gated, not cached, a connection error...
        where = "" if online else " (the Hub is unreachable and it is not in the local cache)"
        raise LlmdiscError(f"could not download {repo_id}{where}: {first_line(e, 200)}") from None
