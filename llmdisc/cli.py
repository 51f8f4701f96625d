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
import sys
from collections.abc import Sequence

from llmdisc.commands import compare, evaluate, generate, predict, score, train
from llmdisc.plumbing.console import run
from llmdisc.version import __version__

__all__ = ["main", "make_parser", "run"]


def make_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="llmdisc", description="Discriminative vs generative text classification, side by side."
    )
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``llmdisc`` console script."""
    return run(make_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
