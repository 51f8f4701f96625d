"""Is the Hugging Face Hub reachable? Answered in seconds, so offline runs fail fast.

Offline (as on the project's own machines) nothing may hang in ``huggingface_hub``'s retries:
callers check :func:`hub_reachable` first and give a clear message, or load from the local
cache only.
"""

from __future__ import annotations

import functools
import os
import socket
from urllib.parse import urlparse

from huggingface_hub import constants

__all__ = ["hub_reachable"]


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub endpoint accepts a TCP connection (False when ``HF_HUB_OFFLINE`` is set).

    Args:
        timeout: seconds to wait for the connection.

    Returns:
        True if a connection to the endpoint's host on port 443 (or the URL's port) succeeded.
    """
    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", constants.ENDPOINT))
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False
