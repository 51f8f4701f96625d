"""Scikit-learn models in skops files: loaded only when they hold the types llmdisc saves.

skops never unpickles: it rebuilds objects from an allow-list of types. The classical approaches,
embedding_lr and setfit keep their scikit-learn parts this way; each names the exact types its own
files hold, and anything else in a file is refused on load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmdisc.errors import LlmdiscError

__all__ = ["MODEL_FILE", "LOGISTIC_HEAD_TYPES", "load_logistic_head", "load_skops"]

MODEL_FILE = "model.skops"
# A saved logistic regression holds only scikit-learn's and numpy's types (skops 0.16 defaults).
LOGISTIC_HEAD_TYPES: frozenset[str] = frozenset()


def load_skops(path: Path, trusted: frozenset[str]) -> Any:
    """Load a skops file that holds no type beyond skops' defaults and ``trusted``, else refuse it.

    Args:
        path: the ``.skops`` file.
        trusted: the exact type names (never prefixes) the approach's own saved files hold.

    Returns:
        The loaded object; the caller still checks its shape (skops trusts every scikit-learn class).
    """
    import skops.io as sio

    if not path.is_file():
        raise LlmdiscError(f"{path.parent} has no {path.name}; save the model again")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as e:  # noqa: BLE001 - not a zip, no schema...: a damaged or foreign file
        raise LlmdiscError(f"{path} is not a readable skops file ({type(e).__name__}); save the model again") from None
    refused = sorted(set(untrusted) - trusted)
    if refused:
        raise LlmdiscError(
            f"refusing to load {path}: it holds types llmdisc never saves ({', '.join(refused)}); "
            "load only folders you or llmdisc wrote"
        )
    return sio.load(path, trusted=sorted(trusted))


def load_logistic_head(path: Path):
    """The logistic-regression head saved at ``path`` (skops), refusing anything else.

    skops trusts every scikit-learn class, so beyond the allow-list the loaded object must be
    exactly the ``LogisticRegression`` llmdisc saves (embedding_lr's head, setfit's head).
    """
    from sklearn.linear_model import LogisticRegression

    head = load_skops(path, LOGISTIC_HEAD_TYPES)
    if type(head) is not LogisticRegression:
        raise LlmdiscError(
            f"refusing to load {path}: it holds a {type(head).__name__}, not the "
            "LogisticRegression llmdisc saves; load only folders you or llmdisc wrote"
        )
    return head
