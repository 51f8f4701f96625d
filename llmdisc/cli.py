"""The ``llmdisc`` command: parse, call the library, print. No logic lives here.

    llmdisc --help
    llmdisc compare [--config FILE.yaml] [flags]
    llmdisc train APPROACH [--config FILE.yaml] [flags]
    llmdisc generate [PROMPT ...] [flags]
    llmdisc score [TEXT ...] [flags]
    llmdisc predict MODEL [TEXT ...] [flags]
    llmdisc evaluate MODEL [--data ...] [flags]

A problem the user can fix is printed as one line, ``llmdisc: error: ...``, with exit status 2.
A command that ran but did not do all it was asked (a comparison with failed runs) exits 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from .version import __version__
from .commands import compare, evaluate, generate, predict, score, train
from .errors import LlmdiscError

__all__ = ["main", "make_parser", "run"]


def make_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="llmdisc", description="Discriminative vs generative text classification, side by side.")
    parser.add_argument("--version", action="version", version=f"llmdisc {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    compare.make_parser(sub)
    train.make_parser(sub)
    generate.make_parser(sub)
    score.make_parser(sub)
    predict.make_parser(sub)
    evaluate.make_parser(sub)
    return parser


def _setup_logging(verbose: bool) -> None:
    from .distributed import is_main_process

    # Under accelerate launch the other processes log only errors, so each message appears once.
    level = (logging.DEBUG if verbose else logging.INFO) if is_main_process() else logging.ERROR
    logging.basicConfig(level=level, format="llmdisc: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "urllib3", "filelock", "huggingface_hub", "datasets", "transformers"):
        logging.getLogger(noisy).setLevel(max(level, logging.DEBUG if verbose else logging.WARNING))
    if not verbose:
        # datasets and transformers read these when first imported, by the command that needs
        # them: importing them here, to call their setters, would delay every command by seconds.
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # what transformers' own switch turns off
        if "datasets" in sys.modules:  # imported already: `main` called from Python
            sys.modules["datasets"].disable_progress_bars()
        if "transformers" in sys.modules:
            sys.modules["transformers"].utils.logging.set_verbosity_error()
            sys.modules["transformers"].utils.logging.disable_progress_bar()


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``llmdisc`` console script."""
    return run(make_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
