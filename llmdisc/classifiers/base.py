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
  labels, config, info), ``eval_results.json`` when metrics are known, and a model card ``README.md``; it builds the folder in a temporary
  sibling and swaps it in, so a failed save leaves nothing half-written.
* ``TextClassifier.from_pretrained(dir)`` returns an instance of whichever approach saved
  ``dir``; ``SomeApproach.from_pretrained(dir)`` also checks that it is that approach.

Adding an approach is one subclass, decorated with ``@register("name")``, that defines a
``Config`` dataclass and ``_fit``, ``_predict_proba``, ``_save`` and ``_load``.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence, TypeVar

import datasets
import numpy as np

from .. import __version__
from ..config import config_from_dict, config_to_dict
from ..errors import LlmdiscError
from ..hub import write_model_card
from ..io import atomic_dir, write_json

__all__ = ["TextClassifier", "check_dataset", "register", "get_classifier", "get_classifier_class", "available_classifiers"]

logger = logging.getLogger(__name__)

CONFIG_FILE = "llmdisc_config.json"
C = TypeVar("C", bound="TextClassifier")

_REGISTRY: dict[str, type[TextClassifier]] = {}


class TextClassifier(ABC):
    """Base class of every approach. See the module docstring for the contract."""

    name: ClassVar[str] = ""  # registry name, set by @register
    paradigm: ClassVar[str] = ""  # "generative" or "discriminative"
    description: ClassVar[str] = ""  # one line for model cards and reports

    @dataclass
    class Config:
        """Hyper-parameters; each approach replaces this with its own dataclass."""

    def __init__(self, **config: Any) -> None:
        self.config = config_from_dict(self.Config, config, where=f"{self.name or type(self).__name__} config")
        self.labels: list[str] = []
        # Free-form facts recorded with the model: training time, data set, metrics...
        self.info: dict[str, Any] = {}

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
        start = time.perf_counter()
        self._fit(list(train["text"]), labels, eval)
        self.info.update(train_seconds=round(time.perf_counter() - start, 3), train_examples=len(train))
        return self

    def predict_proba(self, texts: Sequence[str] | str) -> np.ndarray:
        """Class probabilities.

        Args:
            texts: a list of texts (or one text).

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
            raise RuntimeError(f"{type(self).__name__} returned shape {probs.shape}, expected {(len(texts), len(self.labels))}")
        return probs / probs.sum(axis=1, keepdims=True)

    def predict(self, texts: Sequence[str] | str) -> list[str]:
        """The most probable label name for each text."""
        return [self.labels[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def save_pretrained(self, save_directory: str | Path) -> Path:
        """Save to a folder (atomically): the approach's files, ``llmdisc_config.json``, a model card.

        Args:
            save_directory: the folder; an existing one is replaced.

        Returns:
            The folder's path.
        """
        if not self.is_fitted:
            raise LlmdiscError("nothing to save: the classifier is not trained")
        save_directory = Path(save_directory)
        if save_directory.is_dir() and any(save_directory.iterdir()) and not (save_directory / CONFIG_FILE).exists():
            raise LlmdiscError(f"{save_directory} is a non-empty folder that is not a saved llmdisc classifier; "
                               "save to a new or empty folder")
        with atomic_dir(save_directory) as tmp:
            self._save(tmp)
            write_json(tmp / CONFIG_FILE, self._metadata())
            if self.info.get("metrics"):  # as transformers' examples do: metrics beside the model
                write_json(tmp / "eval_results.json", self.info["metrics"])
            write_model_card(self, tmp)
        return save_directory

    @classmethod
    def from_pretrained(cls: type[C], path: str | Path) -> C:
        """Load a classifier saved with :meth:`save_pretrained`.

        Args:
            path: the saved folder.

        Returns:
            An instance of the approach that saved it.
        """
        path = Path(path)
        meta_file = path / CONFIG_FILE
        if not meta_file.is_file():
            raise LlmdiscError(f"{path} is not a saved llmdisc classifier (no {CONFIG_FILE}); check the path")
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise LlmdiscError(f"{meta_file} is unreadable ({e}); save the model again") from None
        if not isinstance(meta, dict) or not {"approach", "labels"} <= set(meta):
            raise LlmdiscError(f"{meta_file} lacks 'approach' or 'labels'; save the model again")
        klass = get_classifier_class(meta["approach"])
        if not issubclass(klass, cls):
            raise LlmdiscError(f"{path} holds a '{meta['approach']}' classifier, not a {cls.__name__}")
        obj = klass(**meta.get("config", {}))
        obj.labels = list(meta["labels"])
        obj.info = dict(meta.get("info", {}))
        obj._load(path)
        return obj

    def push_to_hub(self, repo_id: str, *, private: bool | None = None, token: str | None = None,
                    commit_message: str = "Upload llmdisc classifier") -> str:
        """Save to a temporary folder and upload it to the Hub as a model repo.

        Args:
            repo_id: ``"user/name"``.
            private: create the repo private (if it does not exist yet).
            token: a Hub token; by default the one ``huggingface-cli login`` stored.
            commit_message: the commit message.

        Returns:
            The URL of the commit.
        """
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError

        api = HfApi(token=token)
        with tempfile.TemporaryDirectory() as tmp:
            folder = self.save_pretrained(Path(tmp) / "model")
            try:
                api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
                return str(api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message=commit_message))
            except (HfHubHTTPError, LocalTokenNotFoundError, OSError) as e:
                raise LlmdiscError(f"could not push to {repo_id} ({type(e).__name__}: {str(e).splitlines()[0][:150]}); "
                                   "check your connection and log in with `hf auth login` or pass token=") from None

    def _metadata(self) -> dict[str, Any]:
        return {
            "approach": self.name,
            "paradigm": self.paradigm,
            "labels": self.labels,
            "config": config_to_dict(self.config),
            "info": self.info,
            "llmdisc_version": __version__,
        }

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in config_to_dict(self.config).items())
        state = f"labels={self.labels!r}" if self.is_fitted else "not fitted"
        return f"{type(self).__name__}({settings}) [{state}]"


def check_dataset(ds: Any, what: str) -> list[str]:
    """The label names of a well-formed data set, or a one-line error saying what is wrong."""
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
