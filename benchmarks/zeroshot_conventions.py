"""Which prompt conventions the review-template numbers depend on (SST-2 validation, SmolLM2).

    .venv/bin/python benchmarks/zeroshot_conventions.py

Channel: three ways to cut "Review: {text}\\nSentiment: {label}" into (context, continuation).
Calibrated direct: three content-free inputs. Prints one accuracy per variant.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import llmdisc
from llmdisc.lm.loading import load_model
from llmdisc.lm.loglikelihood import loglikelihood
from llmdisc.metrics.classification import softmax

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"
WORDS = ["negative", "positive"]


def main() -> None:
    model, tokenizer = load_model("smollm2-135m")
    data = llmdisc.load_text_dataset(str(SST2), label_names=WORDS)
    texts, labels = list(data["validation"]["text"]), np.asarray(data["validation"]["label"])

    def scores(pair) -> np.ndarray:
        return np.array(loglikelihood(model, tokenizer, [pair(t, w) for t in texts for w in WORDS], 32)).reshape(-1, 2)

    channel = {
        "llmdisc: ('Sentiment: w\\nReview:', ' text')": lambda t, w: (f"Sentiment: {w}\nReview:", f" {t}"),
        "reference: ('Sentiment: w', ' text')": lambda t, w: (f"Sentiment: {w}", f" {t}"),
        "whole text part: ('Sentiment: w', '\\nReview: text')": lambda t, w: (f"Sentiment: {w}", f"\nReview: {t}"),
    }
    for name, pair in channel.items():
        print(f"channel {name}: {(scores(pair).argmax(1) == labels).mean():.4f}", flush=True)
    direct = softmax(scores(lambda t, w: (f"Review: {t}\nSentiment:", f" {w}")))
    print(f"direct: {(direct.argmax(1) == labels).mean():.4f}")
    for content_free in ["N/A", "", "[MASK]"]:
        c = softmax(
            np.array(
                [loglikelihood(model, tokenizer, [(f"Review: {content_free}\nSentiment:", f" {w}") for w in WORDS])]
            )
        )[0]
        print(
            f"calibrated direct, content-free {content_free!r} (p = {c.round(3).tolist()}): "
            f"{((direct / c).argmax(1) == labels).mean():.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
