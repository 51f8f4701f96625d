"""Training subsets: stratified, nested across sizes, a held-out part for model selection, and the
hashes that tell whether two runs saw the same examples."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

from llmdisc.errors import LlmdiscError
from llmdisc.plumbing.config import DEFAULT_SEED

if TYPE_CHECKING:
    import datasets

__all__ = ["data_fingerprint", "hold_out", "stratified_subset", "subset_hash"]


def stratified_subset(ds: datasets.Dataset, n: int | None, seed: int = DEFAULT_SEED) -> datasets.Dataset:
    """A class-stratified random subset of ``n`` examples, nested across ``n`` for one seed.

    Each class gets a share proportional to its frequency, and at least one example while ``n``
    allows. For a fixed seed the subset of size ``n`` contains the subset of any smaller size, so
    learning curves compare like with like.

    Args:
        ds: a data set with a ``label`` column.
        n: the subset size; ``None`` or ``n >= len(ds)`` returns ``ds`` unchanged.
        seed: the random seed.

    Returns:
        The subset, in the original order of ``ds``.
    """
    if n is None or n >= len(ds):
        return ds
    if n <= 0:
        raise LlmdiscError(f"subset size must be positive, got {n}")
    labels = np.asarray(ds["label"])
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    perms = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    sizes = np.array([len(p) for p in perms], dtype=float)
    # One fixed sequence of class picks, whatever n is, so that smaller subsets are prefixes of
    # larger ones (nested): first one example of each class, most frequent first, then always the
    # class furthest below its proportional share.
    counts = np.zeros(len(classes), dtype=int)
    for c in np.argsort(-sizes, kind="stable")[:n]:
        counts[c] += 1
    for step in range(counts.sum(), n):
        deficit = (step + 1) * sizes / sizes.sum() - counts
        deficit[counts >= sizes] = -np.inf  # a class that is used up
        counts[int(np.argmax(deficit))] += 1
    chosen = np.concatenate([p[:k] for p, k in zip(perms, counts)])
    return ds.select(np.sort(chosen))


def hold_out(
    data: datasets.DatasetDict, n: int, seed: int = DEFAULT_SEED, name: str = "holdout"
) -> datasets.DatasetDict:
    """Move a stratified ``n`` training examples into a split of their own, for model selection.

    Checkpoints and temperatures picked on the split a report leads with flatter the approaches
    that pick; a held-out part of the training data avoids that when the data has only one
    labelled evaluation split (SST-2's validation, say). Training subsets are then drawn from the
    rest of ``train``.

    Args:
        data: a ``DatasetDict`` with a ``train`` split.
        n: how many training examples to hold out (fewer than the training split has).
        seed: the seed of the draw (independent of the subsets' seeds: the held-out examples
            are the same for every seed of a comparison).
        name: the new split's name.

    Returns:
        A new ``DatasetDict``: ``train`` without those examples, and ``name`` with them.
    """
    import datasets

    train = data["train"]
    if not 0 < n < len(train):
        raise LlmdiscError(
            f"cannot hold out {n} of the {len(train)} training examples; give a number between 1 and {len(train) - 1}"
        )
    if name in data:
        raise LlmdiscError(
            f"the data already has a '{name}' split; use it as the selection split instead of holding out"
        )
    # stratified_subset keeps the original order; a row-number column says which rows it chose.
    rows = np.asarray(stratified_subset(train.add_column("_row", list(range(len(train)))), n, seed)["_row"])
    rest = np.setdiff1d(np.arange(len(train)), rows)
    out = datasets.DatasetDict(dict(data))
    out["train"], out[name] = train.select(rest), train.select(rows)
    return out


def subset_hash(ds: datasets.Dataset) -> str:
    """A short hash of a data set's texts and labels: equal hashes, equal examples."""
    digest = hashlib.sha256()
    for text, label in zip(ds["text"], ds["label"]):
        digest.update(f"{label}\t{text}\n".encode())
    return digest.hexdigest()[:16]


def data_fingerprint(data: datasets.DatasetDict) -> dict[str, Any]:
    """Label names and, per split, the example count and a hash of its texts and labels."""
    out: dict[str, Any] = {}
    for name, split in data.items():
        out[name] = {"examples": len(split), "sha256": subset_hash(split)}
        out["labels"] = list(split.features["label"].names)
    return out
