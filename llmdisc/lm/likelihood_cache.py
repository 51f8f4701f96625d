"""One likelihood cache per comparison: each prompt is scored once, whichever approach asks.

In one comparison several approaches score the same prompts with the same LM: zero-shot direct
and calibrated (the same prompts plus content-free ones), two templates averaged (one of them the
direct one), prompt selection (whose candidates include it, and whose training subsets are
nested across sizes), the robustness curves (the same damaged texts for every approach).
lm-evaluation-harness's ``--use_cache`` keeps each request's answer in a SQLite file so that a
rerun asks the model only for what it has not scored; this cache does the same for llmdisc's
scorer (:func:`llmdisc.lm.loglikelihood.score_ids`), one level lower: it keeps each request's
per-token log-probs, so a sum and a per-token mean both come from it.

**The key** is the model's identity and the request's exact token ids:

* the model: a SHA-256 of its weights (every parameter and buffer, by name, dtype, shape and
  bytes), the dtype it computes in, the device type (a GPU rounds differently from the CPU),
  and a fingerprint of the tokenizer (its full definition, chat template included);
* the request: its context and continuation token ids. A template, a verbalizer, a
  demonstration or a chat template change the ids, so they are in the key without being named.

So a score is never returned for another model, other weights under the same name, another
dtype, tokenizer or template (each tested). Frozen models only: the zero-shot classifier and the
anomaly detector use it; a LoRA head's weights are new in every run, so it would only fill the
file (and hashing them costs a pass over the weights each time).

**The file** is ``OUTPUT_DIR/runs/likelihoods.sqlite`` (beside the cached cells, so ``--resume`` and
an added approach reuse it, ``--overwrite`` discards it with them, and it stays local when the
comparison is pushed to the Hub). SQLite: one file, transactions, and a lock that lets several
processes (shards, ``accelerate launch``) share it. Scores are stored as little-endian float32
bytes and read back with ``numpy.frombuffer``; nothing is unpickled. A comparison without an
output folder keeps its cache in memory for its duration.

**Bad input** never yields a score; each case is one warning line, and scoring goes on:

* a file written by another llmdisc version or cache format: its entries are dropped and the
  file starts again;
* a file that is not a readable SQLite database (truncated, damaged): set aside as
  ``likelihoods.sqlite.bad`` and a new one started; an error while reading or writing later
  turns the cache off for the rest of the run;
* entries made with the same model name but other weights or another dtype: never read (their
  key differs); the warning says they are there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import struct
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from llmdisc.version import __version__

__all__ = [
    "CACHE_FILE",
    "FORMAT",
    "LikelihoodCache",
    "ModelLikelihoods",
    "active_cache",
    "bypassed",
    "cache_path",
    "model_identity",
    "shared_likelihoods",
]

logger = logging.getLogger(__name__)

#: The cache's file name, in a comparison's ``runs/`` folder.
CACHE_FILE = "likelihoods.sqlite"
#: The layout and meaning of the stored scores; a file of another format is not read.
FORMAT = 1

_META = {"format": str(FORMAT), "llmdisc": __version__}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scores (
    model TEXT NOT NULL, request BLOB NOT NULL, logprobs BLOB NOT NULL, PRIMARY KEY (model, request)
) WITHOUT ROWID;
"""


def cache_path(output_dir: str | Path) -> Path:
    """Where a comparison's likelihood cache lives: ``OUTPUT_DIR/runs/likelihoods.sqlite``."""
    return Path(output_dir) / "runs" / CACHE_FILE


def _weights_digest(model) -> str:
    """SHA-256 over every parameter and buffer: name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    seen = set()
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if id(tensor) in seen:  # a tied weight (the input embedding as the output layer) counts once
            continue
        seen.add(id(tensor))
        flat = tensor.detach().reshape(-1).contiguous().cpu()
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(flat.view(_uint8()).numpy())
    return digest.hexdigest()


def _uint8():
    import torch

    return torch.uint8


_DEFINITIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # tokenizer -> digest of its definition


def _tokenizer_digest(tokenizer) -> str:
    """SHA-256 of the tokenizer's whole definition (a fast tokenizer's JSON, else its vocabulary),
    its special tokens and its chat template."""
    body = _DEFINITIONS.get(tokenizer)
    if body is None:  # the definition is fixed once loaded; the template and special tokens are read each time
        backend = getattr(tokenizer, "backend_tokenizer", None)
        definition = backend.to_str() if backend is not None else json.dumps(tokenizer.get_vocab(), sort_keys=True)
        body = _DEFINITIONS[tokenizer] = hashlib.sha256(definition.encode()).hexdigest()
    extra = json.dumps(
        [type(tokenizer).__name__, tokenizer.all_special_tokens, getattr(tokenizer, "chat_template", None)],
        default=str,
    )
    return hashlib.sha256((body + extra).encode()).hexdigest()


def model_identity(model, tokenizer, scoring: str = "") -> tuple[str, dict[str, str]]:
    """The model's key in the cache, and what it is made of (for the file's ``models`` table).

    Args:
        model: the loaded LM, as it scores (its weights are hashed: about a second for 135M
            parameters).
        tokenizer: its tokenizer.
        scoring: anything else that changes the numbers for the same weights and ids (the head's
            precision, say).
    """
    parameter = next(iter(model.parameters()), None)
    description = {
        "name": str(getattr(model.config, "_name_or_path", "") or type(model).__name__),
        "weights": _weights_digest(model),
        "dtype": str(parameter.dtype).removeprefix("torch.") if parameter is not None else "none",
        "device": parameter.device.type if parameter is not None else "cpu",
        "tokenizer": _tokenizer_digest(tokenizer),
        "scoring": scoring,
    }
    key = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()
    return key, description


def _request_key(context: Sequence[int], continuation: Sequence[int]) -> bytes:
    """A request's key: the SHA-256 of its context and continuation ids (the context's length first)."""
    ids = np.asarray([*context, *continuation], dtype="<i8").tobytes()
    return hashlib.sha256(struct.pack("<Q", len(context)) + ids).digest()


class LikelihoodCache:
    """Per-token log-probs of scored requests, in one SQLite file (or in memory), for any model.

    Args:
        path: the file (created with its folder when a model first uses it: a comparison without
            a language model leaves none); None: in memory, for this process only.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        # model -> (its tensors' addresses and versions, tokenizer digest, binding): the weights are
        # hashed again only when a tensor was replaced or changed in place (its version moved).
        self._bound: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._db: sqlite3.Connection | None = None
        self._opened = False

    def _warn(self, what: str, message: str, *args) -> None:
        """One warning line per kind of problem and file."""
        if what not in self._warned:
            self._warned.add(what)
            logger.warning("likelihood cache %s: " + message, self.path or "(in memory)", *args)

    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            return sqlite3.connect(":memory:", check_same_thread=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return sqlite3.connect(self.path, timeout=60, check_same_thread=False)

    def _open(self) -> sqlite3.Connection | None:
        """The database, checked: another version's entries dropped, an unreadable file set aside."""
        for attempt in range(2):
            db = None
            try:
                db = self._connect()
                with db:
                    self._check_version(db)
                    db.executescript(_SCHEMA)
                    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", sorted(_META.items()))
                return db
            except sqlite3.DatabaseError as e:
                if db is not None:
                    db.close()
                if attempt or self.path is None:
                    self._warn("broken", "cannot be used (%s); scoring without it", e)
                    return None
                self._warn(
                    "unreadable",
                    "not a readable cache (%s); set aside as %s.bad, and a new one started",
                    e,
                    self.path.name,
                )
                self.path.replace(self.path.with_name(self.path.name + ".bad"))
        return None

    def _check_version(self, db: sqlite3.Connection) -> None:
        """Drop a file's tables when another llmdisc version or cache format wrote them."""
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        meta = dict(db.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
        if tables and meta != _META:
            self._warn(
                "version",
                "made by llmdisc %s (cache format %s), not this one (%s, format %s); its entries are not used, "
                "and it starts again",
                meta.get("llmdisc", "?"),
                meta.get("format", "?"),
                __version__,
                FORMAT,
            )
            for name in tables:
                db.execute(f'DROP TABLE "{name}"')

    def for_model(self, model, tokenizer, scoring: str = "") -> ModelLikelihoods:
        """This cache, for one model (see :func:`model_identity`; the weights are hashed once per
        loaded model, and again if any of its tensors changes)."""
        tensors = [*model.parameters(), *model.buffers()]
        state = (tuple((t.data_ptr(), t._version) for t in tensors), _tokenizer_digest(tokenizer), scoring)
        known = self._bound.get(model)
        if known is not None and known[0] == state:
            return known[1]
        key, description = model_identity(model, tokenizer, scoring)
        self._register(key, description)
        bound = ModelLikelihoods(self, key)
        self._bound[model] = (state, bound)
        return bound

    def _register(self, key: str, description: dict[str, str]) -> None:
        rows = self._run(
            lambda db: list(db.execute("SELECT id, description FROM models WHERE name = ?", (description["name"],)))
        )
        others = [json.loads(d) for i, d in rows or [] if i != key]
        if others:
            self._warn(
                f"other:{key}",
                "holds scores of %s made with other weights, another dtype or another tokenizer (%s); they are not "
                "used",
                description["name"],
                ", ".join(sorted({f"{d['dtype']}, weights {d['weights'][:12]}" for d in others})),
            )
        self._run(
            lambda db: db.execute(
                "INSERT OR IGNORE INTO models VALUES (?, ?, ?)", (key, description["name"], json.dumps(description))
            ),
            write=True,
        )

    def _run(self, action, write: bool = False):
        """``action(db)`` under the lock (in a transaction when writing); None when the cache is off."""
        with self._lock:
            if not self._opened:
                self._db, self._opened = self._open(), True
            if self._db is None:
                return None
            try:
                if write:
                    with self._db:
                        return action(self._db)
                return action(self._db)
            except sqlite3.DatabaseError as e:
                self._warn("broken", "cannot be used (%s); scoring without it", e)
                self._db = None
                return None

    def get(self, model: str, requests: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[np.ndarray | None]:
        """Each request's stored per-token log-probs, or None where there are none (all None while
        :func:`bypassed`)."""
        if _BYPASSED[0]:
            return [None] * len(requests)
        keys = [_request_key(c, x) for c, x in requests]
        found: dict[bytes, bytes] = {}

        def read(db):
            for start in range(0, len(keys), 500):  # SQLite caps a statement's parameters
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                found.update(
                    db.execute(
                        f"SELECT request, logprobs FROM scores WHERE model = ? AND request IN ({marks})",
                        (model, *part),
                    )
                )

        self._run(read)
        out: list[np.ndarray | None] = []
        for key, (_, continuation) in zip(keys, requests):
            blob = found.get(key)
            scores = np.frombuffer(blob, dtype="<f4") if blob is not None else None
            # A stored entry of the wrong length is damage, never a score.
            out.append(scores.astype(np.float32) if scores is not None and len(scores) == len(continuation) else None)
        return out

    def put(self, model: str, requests: Sequence[tuple[Sequence[int], Sequence[int]]], scores: Sequence[np.ndarray]):
        """Store each request's per-token log-probs (nothing while :func:`bypassed`)."""
        if _BYPASSED[0]:
            return
        rows = [
            (model, _request_key(c, x), np.asarray(s, dtype="<f4").tobytes()) for (c, x), s in zip(requests, scores)
        ]
        self._run(lambda db: db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?)", rows), write=True)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
            self._db, self._opened = None, True


class ModelLikelihoods:
    """A :class:`LikelihoodCache` bound to one model: what :func:`~llmdisc.lm.loglikelihood.score_ids` takes."""

    def __init__(self, cache: LikelihoodCache, model: str) -> None:
        self.cache, self.model = cache, model

    def get(self, requests: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[np.ndarray | None]:
        return self.cache.get(self.model, requests)

    def put(self, requests: Sequence[tuple[Sequence[int], Sequence[int]]], scores: Sequence[np.ndarray]) -> None:
        self.cache.put(self.model, requests, scores)


_ACTIVE: list[LikelihoodCache] = []


def active_cache() -> LikelihoodCache | None:
    """The cache of the comparison running in this process, or None outside one."""
    return _ACTIVE[-1] if _ACTIVE else None


@contextlib.contextmanager
def shared_likelihoods(output_dir: str | Path | None) -> Iterator[LikelihoodCache]:
    """Within the block, every frozen-LM scorer built shares one cache (see the module docstring):
    the comparison's file in ``output_dir``, or one in memory when it is None."""
    cache = LikelihoodCache(cache_path(output_dir) if output_dir is not None else None)
    _ACTIVE.append(cache)
    try:
        yield cache
    finally:
        _ACTIVE.remove(cache)
        cache.close()


_BYPASSED = [0]  # how many bypassed() blocks are open in this process


@contextlib.contextmanager
def bypassed() -> Iterator[None]:
    """Within the block, every cache answers nothing and keeps nothing: the scoring runs in full.

    What a comparison times as an approach's prediction cost (:mod:`llmdisc.comparison.costs`) is
    what predicting costs where it ships, with no comparison's cache behind it.
    """
    _BYPASSED[0] += 1
    try:
        yield
    finally:
        _BYPASSED[0] -= 1
