"""Is the Hugging Face Hub reachable? Answered in seconds, so offline runs fail fast.

Offline (as on the project's own machines) nothing may hang in ``huggingface_hub``'s retries:
callers check :func:`hub_reachable` first and give a clear message, or load from the local
cache only.

The question goes through ``huggingface_hub``'s own HTTP session, the one every download and
upload uses, so what reaches the Hub for them reaches it here: ``HTTPS_PROXY`` / ``HTTP_PROXY`` /
``NO_PROXY``, certificates, a client set with ``huggingface_hub.set_client_factory``. (A raw TCP
connection to the endpoint treated a user behind a proxy as offline for data, models and pushes.)
"""

from __future__ import annotations

import functools
import os

from huggingface_hub import constants

__all__ = ["hub_reachable"]


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub endpoint answers an HTTP request (False when ``HF_HUB_OFFLINE`` is set).

    Args:
        timeout: seconds to wait to connect, and then for the answer.

    Returns:
        True if a ``HEAD`` of the endpoint (``HF_ENDPOINT``, default https://huggingface.co) got any
        HTTP answer, an error status included; False if none came (no network, a refused proxy, a
        failed TLS handshake, a timeout).
    """
    if constants.HF_HUB_OFFLINE:
        return False
    from huggingface_hub.utils import get_session  # ~1 s to import: only when the Hub is asked about

    try:
        get_session().head(os.environ.get("HF_ENDPOINT", constants.ENDPOINT), timeout=timeout, follow_redirects=False)
    except Exception:  # whatever the HTTP client raises, no answer came
        return False
    return True
