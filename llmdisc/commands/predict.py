"""``llmdisc predict MODEL``: run a saved classifier (any approach) on new texts.

    llmdisc predict outputs/nb "a delightful film" "dull and far too long"
    llmdisc predict outputs/enc --file reviews.csv --text-column review --output predictions.parquet
    cat reviews.txt | llmdisc predict you/minilm-demo        # a Hub id (or its local cache, offline)
    accelerate launch -m llmdisc.cli predict outputs/enc --file reviews.txt --output out.jsonl

MODEL is a folder saved by ``llmdisc train`` (or ``save_pretrained``) or a Hub model repo holding
one. Texts come from the arguments, else ``--file`` (.txt: one per line; .jsonl, .csv, .tsv or
.parquet: the ``--text-column``), else standard input.

One record per text, in order: ``text``, ``label`` (the most probable) and ``prob_LABEL`` for
every label. JSON lines on standard output, or ``--output`` as .jsonl, .csv or .parquet, written
to a temporary file and renamed: a failed run leaves no partial output. Texts are read, predicted
and written a batch at a time, so memory does not grow with the input. Under ``accelerate
launch`` the processes share the batches of the neural approaches; the main one writes.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from llmdisc.commands.inputs import check_output, iter_inputs, record_writer
from llmdisc.plumbing import distributed
from llmdisc.plumbing.config import arg, parse_config
from llmdisc.plumbing.config import make_parser as _fields_parser

__all__ = ["PredictConfig", "main", "make_parser", "prediction_records"]


@dataclass
class PredictConfig:
    file: str | None = arg(None, "texts: .txt (one per line), or .jsonl / .csv / .tsv / .parquet with a text column")
    text_column: str | None = arg(
        None, "the text column of a table file (default: text, sentence, review, content or document)"
    )
    output: str | None = arg(
        None, "write the records here: .jsonl, .csv or .parquet (default: JSON lines on standard output)"
    )
    batch_size: int = arg(256, "texts read, predicted (one predict_proba call) and written at a time")
    revision: str | None = arg(None, "for a Hub id: the branch, tag or commit to load")
    device: str | None = arg(None, "where the model runs: auto, cuda, cuda:N, mps, cpu (default: as saved)")
    dtype: str | None = arg(None, "its precision: auto, float32, bfloat16, float16 (default: as saved)")


def prediction_records(texts: list[str], labels: list[str], probs: Any) -> list[dict[str, Any]]:
    """One record per text: ``text``, ``label`` (the most probable) and ``prob_LABEL`` per label."""
    return [
        {
            "text": text,
            "label": labels[int(row.argmax())],
            **{f"prob_{name}": float(p) for name, p in zip(labels, row)},
        }
        for text, row in zip(texts, probs)
    ]


def main(model: str, config: PredictConfig, texts: list[str] | None = None) -> None:
    """Predict every text with the classifier saved at ``model``, writing the records batch by batch.

    The input is read and the records written a batch at a time (``batch_size`` texts), so memory
    stays flat however long the input is. Every problem found before the first text (no input, a
    wrong column, a bad output path) is reported before the model loads.
    """
    import contextlib
    import itertools

    from tqdm.auto import tqdm

    from llmdisc.classifiers import TextClassifier
    from llmdisc.errors import LlmdiscError

    if config.batch_size < 1:
        raise LlmdiscError(f"--batch-size must be at least 1, got {config.batch_size}")
    check_output(config.output)  # before any work: a bad path must not cost a model load
    inputs = iter_inputs(texts or [], config.file, text_column=config.text_column)
    first = next(inputs, None)
    if first is None:
        raise LlmdiscError("the input holds no text")
    clf = TextClassifier.from_pretrained(model, revision=config.revision, device=config.device, dtype=config.dtype)
    # Every process predicts every batch (the neural approaches share each batch's work out);
    # only the main one shows progress and writes.
    main_process = distributed.is_main_process()
    bar = tqdm(unit="text", desc="predict", file=sys.stderr, delay=2, disable=not main_process)
    writer = record_writer(config.output) if main_process else contextlib.nullcontext(lambda records: None)
    with writer as write:
        remaining = itertools.chain([first], inputs)
        while batch := list(itertools.islice(remaining, config.batch_size)):
            write(prediction_records(batch, clf.labels, clf.predict_proba(batch)))
            bar.update(len(batch))
    bar.close()


def make_parser(subparsers: Any = None) -> argparse.ArgumentParser:
    kwargs = {"description": __doc__, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = (
        subparsers.add_parser("predict", help="predict labels of new texts with a saved classifier", **kwargs)
        if subparsers
        else argparse.ArgumentParser(**kwargs)
    )
    parser.add_argument("model", metavar="MODEL", help="a folder saved by llmdisc train, or a Hub id owner/name")
    parser.add_argument("inputs", nargs="*", metavar="TEXT", help="texts (else --file, else stdin)")
    _fields_parser(PredictConfig, parser)
    parser.set_defaults(
        func=lambda args: main(args.model, parse_config(PredictConfig, _without(args, "model")), args.inputs)
    )
    return parser


def _without(args: argparse.Namespace, *names: str) -> argparse.Namespace:
    """``args`` less the positional arguments that are not settings."""
    return argparse.Namespace(**{k: v for k, v in vars(args).items() if k not in names})


if __name__ == "__main__":
    from llmdisc.plumbing.console import run

    sys.exit(run(make_parser()))
