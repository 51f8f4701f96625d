"""The recipes behind ``llmdisc SUBCOMMAND``: each module has a config dataclass, ``main(config)``
and ``make_parser()``, and runs as ``python -m llmdisc.commands.NAME`` too."""

from llmdisc.commands import compare, evaluate, generate, predict, score, train

__all__ = ["compare", "evaluate", "generate", "predict", "score", "train"]
