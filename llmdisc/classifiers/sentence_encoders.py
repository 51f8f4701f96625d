"""Sentence encoders (sentence-transformers) for the approaches that embed texts: embedding_lr, setfit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmdisc.errors import LlmdiscError, first_line
from llmdisc.lm.devices import resolve_placement
from llmdisc.lm.loading import ALIASES, NO_REMOTE_CODE, remote_code_error, resolve_model
from llmdisc.plumbing.stopwatch import loading

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["encoder_hub_id", "load_sentence_encoder", "require"]


def require(module: str, pip_name: str, approach: str) -> None:
    """A one-line error, before any work, if ``module`` is not installed."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise LlmdiscError(f"{approach} needs the {pip_name} package; install it with: pip install {pip_name}")


def load_sentence_encoder(model: str, device: str = "auto", dtype: str = "auto") -> SentenceTransformer:
    """A sentence-transformers model from an alias, a folder or a Hub id (one-line errors).

    A plain transformers folder (no ``modules.json``) is wrapped by sentence-transformers with
    mean pooling. A model that asks to run its own code (a module outside sentence-transformers,
    an ``auto_map``) is refused in one line: ``trust_remote_code=False``.

    Args:
        model: an alias of :data:`llmdisc.lm.loading.ALIASES`, a local folder or a Hub id.
        device: where it runs (see :mod:`llmdisc.lm.devices`).
        dtype: the precision of its weights.

    Returns:
        The model, on its device, in eval mode.
    """
    from sentence_transformers import SentenceTransformer

    placement = resolve_placement(device, dtype)
    path = resolve_model(model)
    try:
        with loading():  # counted apart from training time
            return SentenceTransformer(
                path, device=placement.device_name, model_kwargs={"dtype": placement.dtype}, **NO_REMOTE_CODE
            )
    except (OSError, ValueError) as e:
        raise remote_code_error(model, e) or LlmdiscError(
            f"could not load sentence encoder '{model}' ({first_line(e, 200)}); "
            "pass a sentence-transformers or BERT-style folder, an alias or a Hub id"
        ) from None


def encoder_hub_id(model: str) -> str:
    """A sentence encoder as the Hub knows it: a packaged alias stands for its Hub copy."""
    spec = ALIASES.get(model)
    return spec.hub_id if spec else model
