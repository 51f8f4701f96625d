"""Running a command-line parser: logging set up once, one-line errors, exit statuses.

``llmdisc`` (:mod:`llmdisc.cli`) and each ``python -m llmdisc.commands.NAME`` run through
:func:`run`; it lives apart from ``cli.py`` so that the commands need not import the module
that imports them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from llmdisc.errors import LlmdiscError

__all__ = ["run"]


def _setup_logging(verbose: bool) -> None:
    from llmdisc.plumbing.distributed import is_main_process

    # Under accelerate launch the other processes log only errors, so each message appears once.
    level = (logging.DEBUG if verbose else logging.INFO) if is_main_process() else logging.ERROR
    logging.basicConfig(level=level, format="llmdisc: %(message)s", stream=sys.stderr)
    for noisy in (
        "httpx",
        "urllib3",
        "filelock",
        "huggingface_hub",
        "datasets",
        "transformers",
        "sentence_transformers",
        "setfit",
    ):
        logging.getLogger(noisy).setLevel(max(level, logging.DEBUG if verbose else logging.WARNING))
    if not verbose:
        # datasets and transformers read these when first imported, by the command that needs
        # them: importing them here, to call their setters, would delay every command by seconds.
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # what transformers' own switch turns off
        _quiet_hub_bars()
        if "datasets" in sys.modules:  # imported already: `main` called from Python
            sys.modules["datasets"].disable_progress_bars()
        if "transformers" in sys.modules:
            sys.modules["transformers"].utils.logging.set_verbosity_error()
            sys.modules["transformers"].utils.logging.disable_progress_bar()


def _quiet_hub_bars() -> None:
    """Turn huggingface_hub's bars off (transformers' "Loading weights" and "Writing model shards" too).

    ``import llmdisc`` has read ``huggingface_hub.constants`` already, so the environment variable
    set now comes too late for it: set what the variable would have set. Once its tqdm module is
    imported, its own switch does it.
    """
    if "huggingface_hub.utils.tqdm" in sys.modules:
        sys.modules["huggingface_hub.utils.tqdm"].disable_progress_bars()
    elif "huggingface_hub.constants" in sys.modules:
        sys.modules["huggingface_hub.constants"].HF_HUB_DISABLE_PROGRESS_BARS = True


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` with ``parser``, call the chosen command; one-line errors, exit code 2.

    A command's function may return an exit status (an int); anything else means 0.
    """
    args = parser.parse_args(argv)
    _setup_logging(getattr(args, "verbose", False))
    try:
        status = args.func(args)
    except LlmdiscError as e:
        print(f"llmdisc: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("llmdisc: interrupted", file=sys.stderr)
        return 130
    return status if isinstance(status, int) and not isinstance(status, bool) else 0
