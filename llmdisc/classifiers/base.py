"""``TextClassifier``: the one interface every approach implements and the evaluation calls.

A classifier is built from a config (``get_classifier("naive_bayes", alpha=0.5)``), trained
with ``fit(train)``, and answers ``predict_proba(texts)``: an ``(n, k)`` array whose row ``i``
is a probability distribution over ``clf.labels`` for ``texts[i]``. It saves to and loads from a
folder, which it can push to the Hugging Face Hub.

Edge cases, pinned down:

* ``fit`` takes a :class:`datasets.Dataset` with a ``text`` column and a ``ClassLabel``
  ``label`` column (what :func:`llmdisc.load_text_dataset` makes). ``clf.labels`` becomes that
  ``ClassLabel``'s names, in order, even for classes absent from a small training subset: column
  ``j`` of ``predict_proba`` is always ``labels[j]``.
* ``predict_proba([])`` returns an array of shape ``(0, k)``; a single string is treated as a
  list of one. Rows are renormalised in float64, so they sum to 1 within 1e-9.
* ``save_pretrained(dir)`` writes the approach's own files plus ``llmdisc_config.json`` (approach,
  labels, config, :class:`~llmdisc.api.records.TrainInfo`), ``eval_results.json`` when metrics are
  known, and a model card ``README.md``; it builds the folder in a temporary sibling and swaps it
  in, so a failed save leaves nothing half-written. Under several processes (``accelerate
  launch``) only the main one writes; the others wait for it.
* ``TextClassifier.from_pretrained(dir_or_repo_id)`` returns an instance of whichever approach
  saved it (a local folder, else a Hub model repo, downloaded); ``SomeApproach.from_pretrained``
  also checks that it is that approach.
* ``push_to_hub(repo_id)`` checks for a token and a reachable Hub first, saves, then uploads that
  folder; if the upload fails, the error names the folder, which is kept.

Adding an approach is one subclass, decorated with ``@register("name")``, that defines a
``Config`` dataclass and ``_fit``, ``_predict_proba``, ``_save`` and ``_load`` (and, for its model
card, ``_card_usage`` and ``_card_limits``), and declares what it can do in class attributes
(``uses_training_data``, ``takes_seed``, ``checkpoints``, ``can_merge``): the comparison and the
CLI read those, never the names of config fields.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

from llmdisc.api.records import TrainInfo
from llmdisc.classifiers.calibration import Calibration
from llmdisc.errors import LlmdiscError, first_line
from llmdisc.hub.repos import (
    REPO_PLACEHOLDER,
    ModelCardInfo,
    check_push_access,
    download_folder,
    upload_folder,
    write_model_card,
)
from llmdisc.lm.loading import is_repo_id
from llmdisc.plumbing import distributed
from llmdisc.plumbing.atomic_files import atomic_dir, write_json
from llmdisc.plumbing.config import config_from_dict, config_to_dict
from llmdisc.plumbing.stopwatch import loading_seconds
from llmdisc.version import __version__

if TYPE_CHECKING:
    import datasets

__all__ = [
    "TextClassifier",
    "check_dataset",
    "not_a_classifier",
    "read_json_object",
    "register",
    "get_classifier",
    "get_classifier_class",
    "available_classifiers",
]

logger = logging.getLogger(__name__)

CONFIG_FILE = "llmdisc_config.json"
C = TypeVar("C", bound="TextClassifier")

_REGISTRY: dict[str, type[TextClassifier]] = {}


class TextClassifier(ABC):
    """Base class of every approach. See the module docstring for the contract."""

    name: ClassVar[str] = ""  # registry name, set by @register
    paradigm: ClassVar[str] = ""  # "generative" or "discriminative"
    description: ClassVar[str] = ""  # one line for model cards and reports
    hub_library: ClassVar[str] = "llmdisc"  # the library that loads the saved folder without llmdisc

    # What the approach can do. The comparison and the CLI read these; nothing looks for config
    # field names. `register` checks that the Config agrees with them.
    uses_training_data: ClassVar[bool] = True  # fit learns from the examples (else: run once, drawn flat)
    takes_seed: ClassVar[bool] = False  # Config.seed drives its randomness; a comparison varies it with the subset
    checkpoints: ClassVar[bool] = False  # trains with checkpoints: Config.checkpoint_dir and Config.resume
    can_merge: ClassVar[bool] = False  # save_merged(dir) writes a standalone model of the base library
    # Scores label words after a prompt: Config.verbalizers and Config.task take the data-level
    # settings of compare / train (llmdisc.lm.prompts.with_data_settings).
    scores_label_words: ClassVar[bool] = False
    # Config.model names a causal LM the approach scores text with (the comparison's anomaly
    # detector borrows it: see causal_lm).
    uses_causal_lm: ClassVar[bool] = False

    @dataclass
    class Config:
        """Hyper-parameters; each approach replaces this with its own dataclass."""

    def __init__(self, **config: Any) -> None:
        self.config = config_from_dict(self.Config, config, where=f"{self.name or type(self).__name__} config")
        self.labels: list[str] = []
        # What is recorded about training: time, steps, data set, metrics (saved with the model).
        self.info = TrainInfo()
        # A temperature fitted on held-out data (calibrate), applied by predict_proba; saved.
        self.calibrator: Calibration | None = None

    # ---- what an approach implements -------------------------------------------------------

    @abstractmethod
    def _fit(self, texts: list[str], labels: np.ndarray, eval_data: datasets.Dataset | None) -> None:
        """Train on ``texts`` with integer ``labels`` (indices into ``self.labels``)."""

    @abstractmethod
    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        """Return an ``(len(texts), len(self.labels))`` array of non-negative scores per row."""

    @abstractmethod
    def _save(self, folder: Path) -> None:
        """Write the approach's own files (weights, tokenizer...) into ``folder``."""

    @abstractmethod
    def _load(self, folder: Path) -> None:
        """Read back what :meth:`_save` wrote; ``self.config`` and ``self.labels`` are set."""

    def num_parameters(self) -> dict[str, int]:
        """Total and trainable parameters (``{}`` where the notion does not apply)."""
        return {}

    # ---- what the model card says (approaches refine these) ---------------------------------

    def _card_approach(self) -> str:
        """A sentence or two: how this classifier works."""
        return self.description

    def _card_usage(self, repo: str) -> tuple[str, str] | None:
        """``(library, Python code)`` loading the folder at ``repo`` without llmdisc, or None.

        The code defines ``texts`` and ends with ``probs``: one row per text, columns in the
        order of ``self.labels`` (or one ``{label: probability}`` dict per text).
        """
        return None

    def _card_limits(self) -> list[str]:
        """The approach's own limits, one line each."""
        return []

    def _for_hub(self, folder: Path) -> None:
        """Adjust a folder saved for the Hub (nothing by default; no local paths may leak into it)."""

    def _check_saved_labels(self, found: Sequence[str] | int, source: Path) -> None:
        """Refuse a folder whose ``llmdisc_config.json`` names other labels than its model's own
        files hold (``found``: the label names, or their number, read from ``source``).

        An approach calls it in :meth:`_load` with what its files say, before the weights load:
        columns must never be silently named after the wrong labels.
        """
        same = found == list(self.labels) if not isinstance(found, int) else found == len(self.labels)
        if not same:
            what = f"{found} labels" if isinstance(found, int) else f"the labels {list(found)}"
            raise LlmdiscError(
                f"{source.parent / CONFIG_FILE} names the labels {self.labels} but {source.name} holds {what}: "
                "the folder was changed since it was saved; save the model again"
            )

    def _check_saved_classes(self, classes: Any, source: Path) -> None:
        """Refuse a saved scikit-learn model whose ``classes_`` (indices into the labels) name a
        class that ``llmdisc_config.json`` does not; fewer is fine (a class absent from a small
        training subset gets a zero column)."""
        classes = np.asarray(classes)
        integers = classes.dtype.kind in "iu" and classes.size > 0
        if not integers or classes.min() < 0 or classes.max() >= len(self.labels):
            raise LlmdiscError(
                f"{source} predicts the classes {classes.tolist()} but {source.parent / CONFIG_FILE} names "
                f"{len(self.labels)} labels {self.labels}: the folder was changed since it was saved; "
                "save the model again"
            )

    def _check(self, labels: list[str]) -> None:
        """Raise a one-line error if this configuration cannot be trained on these labels."""

    def _check_size(self, n: int) -> None:
        """Raise a one-line error if this configuration cannot be trained on ``n`` examples."""

    @classmethod
    def causal_lm(cls, config: Mapping[str, Any]) -> str | None:
        """The causal LM this approach scores text with under ``config`` (its entry in a recipe,
        before it is built; None: the approach uses none)."""
        if not cls.uses_causal_lm:
            return None
        return config.get("model") or cls.Config.model

    def label_words(self, labels: Sequence[str]) -> list[str] | None:
        """The word this classifier scores for each of ``labels`` (None: it scores no label words)."""
        return None

    def prompt_pick(self) -> dict[str, Any] | None:
        """Settings that make this zero-shot classifier pick its prompt on a few training examples
        before it classifies, where nobody chose the prompt; None: nothing to pick (the default).

        A comparison applies them to an approach that does not learn from examples and fits it
        once, on its smallest training subset (first seed): one flat run, its pick recorded.
        """
        return None

    # ---- checks before any work ---------------------------------------------------------------

    def check(self, labels: Sequence[str], sizes: Sequence[int] = ()) -> None:
        """Validate this configured approach for data with ``labels``, before any model loads.

        The config's keys and types were checked when it was built; this checks what needs the
        data's labels (verbalizers naming unknown labels, say) or the machine (a model that is
        not installed). A comparison calls it for every approach before the first run, so a typo
        in the last approach of a long recipe fails in seconds, not after hours.

        Args:
            labels: the data's label names, in order.
            sizes: the training-set sizes it will be trained on, where known (a comparison's).
        """
        self._check(list(labels))
        for n in sizes:
            self._check_size(n)

    def card_info(self, repo: str) -> ModelCardInfo:
        """What the model card says about this classifier (see :func:`~llmdisc.hub.repos.write_model_card`).

        Args:
            repo: where the card's code snippets load the model from.
        """
        return ModelCardInfo(
            approach=self.name,
            paradigm=self.paradigm,
            library=self.hub_library,
            labels=list(self.labels),
            settings=config_to_dict(self.config),
            base_model=getattr(self.config, "model", None),
            info=self.info,
            how_it_works=self._card_approach(),
            usage=self._card_usage(repo),
            limits=self._card_limits() + self._calibration_note(),
        )

    def _calibration_note(self) -> list[str]:
        """The model card's line on the temperature, which code that loads the folder without
        llmdisc must apply itself."""
        c = self.calibrator
        if c is None:
            return []
        if c.method != "temperature":
            return [
                f"llmdisc's predict_proba applies {c.method} calibration (scikit-learn's one-vs-rest "
                f"{'sigmoid' if c.method == 'platt' else 'isotonic'} calibrators, fitted on {c.fitted_on} held-out "
                f"examples: ECE {c.before['ece']:.4f} -> {c.after['ece']:.4f} there; the fitted numbers are in "
                "llmdisc_config.json); code that loads this folder without llmdisc gets the uncalibrated "
                "probabilities."
            ]
        return [
            f"llmdisc's predict_proba applies a temperature of {c.temperature:.4g}, fitted on {c.fitted_on} held-out "
            f"examples (ECE {c.before['ece']:.4f} -> {c.after['ece']:.4f} there); code that loads this folder without "
            f"llmdisc gets the uncalibrated probabilities: raise them to the power 1/{c.temperature:.4g} and "
            "renormalise (or divide the logits by it)."
        ]

    # ---- the public interface ---------------------------------------------------------------

    @property
    def is_fitted(self) -> bool:
        return bool(self.labels)

    def fit(self: C, train: datasets.Dataset, eval: datasets.Dataset | None = None) -> C:  # noqa: A002
        """Train on ``train`` (and use ``eval``, where the approach can, for model selection).

        Args:
            train: a data set with ``text`` and ``ClassLabel`` ``label`` columns.
            eval: an optional data set of the same form.

        Returns:
            ``self``, trained.
        """
        names = check_dataset(train, "train")
        if eval is not None and check_dataset(eval, "eval") != names:
            raise LlmdiscError("train and eval data have different label names; load them together")
        labels = np.asarray(train["label"], dtype=np.int64)
        if len(np.unique(labels)) < 2:
            raise LlmdiscError("the training set has one class; a classifier needs at least two")
        self.labels = names
        start, loaded = time.perf_counter(), loading_seconds()
        self._fit(list(train["text"]), labels, eval)
        self.info.train_seconds, self.info.train_examples = round(time.perf_counter() - start, 3), len(train)
        self.info.load_seconds = round(loading_seconds() - loaded, 3)
        self.info.parameters = self.num_parameters()
        return self

    def calibrate(self, data: datasets.Dataset, method: str = "temperature") -> Calibration:
        """Fit a calibration on held-out ``data``; ``predict_proba`` applies it from then on.

        Temperature scaling divides the model's logits by one number fitted to minimise the log
        loss on ``data`` (see :mod:`llmdisc.classifiers.calibration`): confidences become honest and no
        prediction changes. Calling it again refits from the uncalibrated probabilities.

        Args:
            data: labelled examples the classifier was not trained on (never the split whose
                numbers are reported).
            method: ``temperature``, ``platt``, ``isotonic`` (scikit-learn's sigmoid and
                isotonic calibration, which can change predictions) or ``auto`` (the lowest
                cross-validated log loss on ``data``).

        Returns:
            The :class:`~llmdisc.classifiers.calibration.Calibration`: the temperature, and ECE and log loss
            on ``data`` before and after.
        """
        if not self.is_fitted:
            raise LlmdiscError(f"{type(self).__name__} is not trained; call fit(train) before calibrate(data)")
        if check_dataset(data, "calibration") != self.labels:
            raise LlmdiscError("calibration data has other label names than the classifier; load them together")
        raw = self.predict_proba(list(data["text"]), calibrated=False)
        self.calibrator = Calibration.fit(raw, np.asarray(data["label"]), method)
        return self.calibrator

    def predict_proba(self, texts: Sequence[str] | str, *, calibrated: bool = True) -> np.ndarray:
        """Class probabilities.

        Args:
            texts: a list of texts (or one text).
            calibrated: apply the fitted temperature, if :meth:`calibrate` fitted one (False:
                the model's own probabilities).

        Returns:
            A float64 array of shape ``(len(texts), len(self.labels))`` whose rows sum to 1.
        """
        if not self.is_fitted:
            raise LlmdiscError(f"{type(self).__name__} is not trained; call fit(train) or from_pretrained(dir) first")
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return np.zeros((0, len(self.labels)))
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise LlmdiscError(f"texts[{bad}] is a {type(texts[bad]).__name__}, not a str")
        probs = np.asarray(self._predict_proba(texts), dtype=np.float64)
        if probs.shape != (len(texts), len(self.labels)):
            raise RuntimeError(
                f"{type(self).__name__} returned shape {probs.shape}, expected {(len(texts), len(self.labels))}"
            )
        probs = probs / probs.sum(axis=1, keepdims=True)
        return self.calibrator.apply(probs) if calibrated and self.calibrator is not None else probs

    def template_probabilities(self, texts: Sequence[str]) -> dict[str, np.ndarray] | None:
        """Per prompt template, the probabilities of a classifier that averages several (zero-shot):
        template source -> ``(len(texts), labels)`` array; None for other classifiers (and one template).

        The comparison reports the spread of accuracy across the templates from these.
        """
        return None

    def predict(self, texts: Sequence[str] | str) -> list[str]:
        """The most probable label name for each text."""
        return [self.labels[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def save_pretrained(self, save_directory: str | Path, *, repo_id: str | None = None) -> Path:
        """Save to a folder (atomically): the approach's files, ``llmdisc_config.json``, a model card.

        Under several processes only the main one writes; every process returns once it has.

        Args:
            save_directory: the folder; an existing one is replaced.
            repo_id: the Hub repo the folder is meant for; the model card's snippets load from it.

        Returns:
            The folder's path.
        """
        if not self.is_fitted:
            raise LlmdiscError("nothing to save: the classifier is not trained")
        save_directory = Path(save_directory)
        if save_directory.is_dir() and any(save_directory.iterdir()) and not (save_directory / CONFIG_FILE).exists():
            raise LlmdiscError(
                f"{save_directory} is a non-empty folder that is not a saved llmdisc classifier; "
                "save to a new or empty folder"
            )
        try:
            if distributed.is_main_process():
                with atomic_dir(save_directory) as tmp:
                    self._save(tmp)
                    if repo_id is not None:
                        self._for_hub(tmp)
                    write_json(tmp / CONFIG_FILE, self._metadata())
                    if self.info.metrics:  # as transformers' examples do: metrics beside the model
                        write_json(tmp / "eval_results.json", self.info.metrics)
                    write_model_card(self.card_info(repo_id or REPO_PLACEHOLDER), tmp, repo_id=repo_id)
        finally:
            distributed.barrier()  # the others may read the folder once this returns
        return save_directory

    @classmethod
    def from_pretrained(
        cls: type[C],
        path: str | Path,
        *,
        revision: str | None = None,
        token: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
    ) -> C:
        """Load a classifier saved with :meth:`save_pretrained`, from a folder or the Hub.

        Args:
            path: the saved folder, or the ``owner/name`` id of a Hub model repo holding one
                (downloaded, or read from the local cache when the Hub is unreachable).
            revision: for a Hub repo: a branch, tag or commit.
            token: for a private Hub repo: a token (by default the stored one).
            device: where a neural classifier runs here (default: as saved, or ``auto`` when
                this machine lacks the saved device); ignored by the classical approaches.
            dtype: its precision here (default: as saved).

        Returns:
            An instance of the approach that saved it.
        """
        if is_repo_id(str(path)):
            try:
                path = download_folder(str(path), revision=revision, token=token)
            except LlmdiscError as e:
                raise LlmdiscError(f"{path} is not a local folder, and as a Hub repo: {e}") from None
        path = Path(path).expanduser()
        if not (path / CONFIG_FILE).is_file():
            raise LlmdiscError(not_a_classifier(path))
        # All of llmdisc_config.json is checked before any weight loads.
        klass, obj = _from_metadata(path, device, dtype)
        if not issubclass(klass, cls):
            raise LlmdiscError(f"{path} holds a '{klass.name}' classifier, not a {cls.__name__}")
        try:
            obj._load(path)
        except FileNotFoundError as e:
            raise LlmdiscError(
                f"{path} lacks {Path(e.filename or '?').name}, which a '{klass.name}' classifier needs; "
                "save the model again"
            ) from None
        return obj

    def push_to_hub(
        self,
        repo_id: str,
        *,
        private: bool | None = None,
        token: str | None = None,
        commit_message: str = "Upload llmdisc classifier",
        save_directory: str | Path | None = None,
    ) -> str | None:
        """Save (locally, first) and upload the saved folder to the Hub as a model repo.

        A missing token or an unreachable Hub is an error before anything is written. If the
        upload itself fails, the error names the saved folder, which is kept.

        Args:
            repo_id: ``"owner/name"``.
            private: create the repo private (if it does not exist yet).
            token: a Hub token; by default ``HF_TOKEN`` or the one ``hf auth login`` stored.
            commit_message: the commit message.
            save_directory: where to save first (default: a temporary folder, removed after a
                successful upload).

        Returns:
            The URL of the commit (None on processes other than the main one, which do not upload).
        """
        if not self.is_fitted:
            raise LlmdiscError("nothing to push: the classifier is not trained")
        token = check_push_access(repo_id, token)
        keep = save_directory is not None
        if save_directory is None:
            save_directory = (
                Path(
                    distributed.broadcast_object(
                        tempfile.mkdtemp(prefix="llmdisc-push-") if distributed.is_main_process() else None
                    )
                )
                / "model"
            )
        folder = self.save_pretrained(save_directory, repo_id=repo_id)
        if not distributed.is_main_process():
            return None
        url = upload_folder(folder, repo_id, private=private, token=token, commit_message=commit_message)
        if not keep:
            shutil.rmtree(folder.parent, ignore_errors=True)
        return url

    def _metadata(self) -> dict[str, Any]:
        return {
            "approach": self.name,
            "paradigm": self.paradigm,
            "labels": self.labels,
            "config": config_to_dict(self.config),
            "info": self.info.to_dict(),
            "temperature_scaling": dataclasses.asdict(self.calibrator) if self.calibrator is not None else None,
            "llmdisc_version": __version__,
        }

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in config_to_dict(self.config).items())
        state = f"labels={self.labels!r}" if self.is_fitted else "not fitted"
        return f"{type(self).__name__}({settings}) [{state}]"


def not_a_classifier(path: Path) -> str:
    """Why ``path`` cannot be loaded (it holds no ``llmdisc_config.json``), and what to do instead."""
    if not path.exists():
        return (
            f"{path} does not exist; pass a folder saved by llmdisc (llmdisc train ... --output-dir) "
            "or a Hub id owner/name"
        )
    if not path.is_dir():
        return f"{path} is a file; pass the folder a classifier was saved in"
    plain = path / "config.json"
    if plain.is_file():
        try:
            architecture = (json.loads(plain.read_text(encoding="utf-8")).get("architectures") or ["?"])[0]
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            architecture = "?"
        return (
            f"{path} holds a plain transformers model ({architecture}), not an llmdisc classifier (no {CONFIG_FILE}); "
            f"use it with transformers.pipeline('text-classification', model='{path}') if it has a classification "
            f"head, or train one on it with: llmdisc train encoder --model {path}"
        )
    if (path / "adapter_config.json").is_file():
        return (
            f"{path} holds a PEFT adapter, not an llmdisc classifier (no {CONFIG_FILE}); load it with "
            "peft's AutoPeftModel classes, or train one with: llmdisc train lora"
        )
    files = sorted(p.name for p in path.iterdir())
    return (
        f"{path} holds no llmdisc classifier (no {CONFIG_FILE}; it has: {', '.join(files[:8]) or 'nothing'}"
        f"{', ...' if len(files) > 8 else ''}); pass the folder given to llmdisc train --output-dir"
    )


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from a saved folder's file; a missing, unreadable or non-object file is one line."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LlmdiscError(f"{path.parent} lacks {path.name}; save the model again") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LlmdiscError(f"{path} is unreadable ({e}); save the model again") from None
    if not isinstance(value, dict):
        raise LlmdiscError(f"{path} holds a JSON {type(value).__name__}, not an object; save the model again")
    return value


def _from_metadata(path: Path, device: str | None, dtype: str | None) -> tuple[type[TextClassifier], TextClassifier]:
    """The approach and the unloaded classifier that ``path``'s ``llmdisc_config.json`` describes,
    every part of it checked first: a one-line error for any that is damaged or edited.

    ``labels`` must be two or more distinct non-empty strings, ``config`` a mapping of the
    approach's settings, ``info`` a mapping (or absent), ``temperature_scaling`` a calibration for
    that many labels (or absent).
    """
    meta_file = path / CONFIG_FILE
    meta = read_json_object(meta_file)
    fix = "save the model again"
    if not isinstance(meta.get("approach"), str):
        raise LlmdiscError(f"{meta_file} names no approach; {fix}")
    klass = get_classifier_class(meta["approach"])
    labels = meta.get("labels")
    if (
        not isinstance(labels, list)
        or len(labels) < 2
        or not all(isinstance(x, str) and x for x in labels)
        or len(set(labels)) != len(labels)
    ):
        raise LlmdiscError(
            f"{meta_file}: 'labels' must be a list of two or more distinct names, not {labels!r}; {fix}"
        )
    for key in ("config", "info"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise LlmdiscError(f"{meta_file}: '{key}' must be a mapping, not a {type(meta[key]).__name__}; {fix}")
    config = dict(meta.get("config") or {})
    _placement_on_load(klass, config, device, dtype)
    obj = klass(**config)  # unknown keys and bad values are one line (config_from_dict)
    obj.labels = list(labels)
    try:
        obj.info = TrainInfo.from_dict(meta.get("info"))
    except (TypeError, ValueError, AttributeError) as e:
        raise LlmdiscError(f"{meta_file}: 'info' is damaged ({first_line(e, 120)}); {fix}") from None
    if meta.get("temperature_scaling") is not None:
        obj.calibrator = Calibration.from_dict(
            meta["temperature_scaling"], len(labels), where=f"{meta_file}: temperature_scaling"
        )
    return klass, obj


def _placement_on_load(
    klass: type[TextClassifier], config: dict[str, Any], device: str | None, dtype: str | None
) -> None:
    """Set where a reloaded classifier runs: as asked, else as saved when this machine can, else auto.

    A model trained with ``device: cuda`` must still load on a laptop without a GPU.
    """
    from llmdisc.lm.devices import check_placement

    if "device" not in {f.name for f in dataclasses.fields(klass.Config)}:
        return  # no torch model
    config.update({k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None})
    if device is None and dtype is None:
        try:
            check_placement(config.get("device", "auto"), config.get("dtype", "auto"))
        except LlmdiscError as e:
            logger.warning("%s; loading with device auto and dtype auto instead", e)
            config["device"], config["dtype"] = "auto", "auto"


def check_dataset(ds: Any, what: str) -> list[str]:
    """The label names of a well-formed data set, or a one-line error saying what is wrong."""
    import datasets

    if not isinstance(ds, datasets.Dataset):
        raise LlmdiscError(
            f"{what} must be a datasets.Dataset with text and label columns (use llmdisc.load_text_dataset), "
            f"not a {type(ds).__name__}"
        )
    missing = [c for c in ("text", "label") if c not in ds.column_names]
    if missing:
        raise LlmdiscError(f"{what} data has no '{missing[0]}' column; columns found: {', '.join(ds.column_names)}")
    feature = ds.features["label"]
    if not isinstance(feature, datasets.ClassLabel):
        raise LlmdiscError(f"{what} data's label column is not a ClassLabel; load it with llmdisc.load_text_dataset")
    if len(ds) == 0:
        raise LlmdiscError(f"{what} data is empty")
    return list(feature.names)


def register(name: str) -> Callable[[type[C]], type[C]]:
    """Class decorator: make an approach available as ``get_classifier(name)``."""

    def wrap(cls: type[C]) -> type[C]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"approach '{name}' is already registered by {_REGISTRY[name].__name__}")
        # The declared capabilities must match the settings they rely on (a programming error).
        fields = {f.name for f in dataclasses.fields(cls.Config)}
        needs = {
            "takes_seed": {"seed"},
            "checkpoints": {"checkpoint_dir", "resume"},
            "scores_label_words": {"verbalizers", "task"},
            "uses_causal_lm": {"model"},
        }
        for capability, names in needs.items():
            if getattr(cls, capability) and not names <= fields:
                raise TypeError(
                    f"{cls.__name__} declares {capability} but its Config lacks {', '.join(sorted(names - fields))}"
                )
        if cls.can_merge and not callable(getattr(cls, "save_merged", None)):
            raise TypeError(f"{cls.__name__} declares can_merge but defines no save_merged")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def get_classifier_class(name: str) -> type[TextClassifier]:
    """The class registered as ``name``."""
    if name not in _REGISTRY:
        raise LlmdiscError(f"unknown approach '{name}'; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def get_classifier(name: str, **config: Any) -> TextClassifier:
    """Build the approach registered as ``name`` with hyper-parameters ``config``.

    Args:
        name: a registered approach (see :func:`available_classifiers`).
        **config: fields of that approach's ``Config``; unknown keys are an error.

    Returns:
        An untrained classifier.
    """
    return get_classifier_class(name)(**config)


def available_classifiers() -> list[str]:
    """Names of all registered approaches, sorted."""
    return sorted(_REGISTRY)
