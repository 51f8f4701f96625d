"""Model cards for saved classifiers, in the Hub's format (``huggingface_hub.ModelCard``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from . import __version__
from .config import config_to_dict
from .models import ALIASES

if TYPE_CHECKING:  # only for the annotation; classifiers import this module
    from .classifiers.base import TextClassifier

__all__ = ["write_model_card"]


def _metrics_to_model_index(info: dict[str, Any]) -> list[EvalResult]:
    dataset = info.get("dataset", "unknown")
    results = []
    for split, metrics in (info.get("metrics") or {}).items():
        for key in ("accuracy", "macro_f1"):
            if key in metrics:
                results.append(EvalResult(
                    task_type="text-classification", dataset_type=dataset, dataset_name=dataset,
                    dataset_split=split, metric_type="f1" if key == "macro_f1" else key,
                    metric_name=key, metric_value=float(metrics[key]),
                ))
    return results


def _hub_base_model(model: Any) -> str | None:
    """The Hub id of a base model: an alias's source repo, a Hub id as given, never a local path."""
    if not isinstance(model, str):
        return None
    if model in ALIASES:
        return ALIASES[model].hub_id
    if os.path.exists(os.path.expanduser(model)) or model.startswith((".", "/", "~")) or model.count("/") != 1:
        return None
    return model


def write_model_card(clf: TextClassifier, folder: Path) -> None:
    """Write ``README.md``: a Hub model card for a saved classifier.

    The card's metadata (library, tags, base model, data set, metrics in ``model-index`` form)
    parses with ``huggingface_hub.ModelCard.load``; its text says what the approach is, which
    labels it predicts, its hyper-parameters and how to load it.

    Args:
        clf: the trained classifier being saved.
        folder: the folder being written.
    """
    config = config_to_dict(clf.config)
    info = clf.info
    base_model = _hub_base_model(config.get("model"))
    results = _metrics_to_model_index(info)
    data = ModelCardData(
        library_name="llmdisc",
        pipeline_tag="text-classification",
        tags=["llmdisc", "text-classification", clf.paradigm, clf.name],
        base_model=base_model,
        datasets=[info["dataset"]] if info.get("dataset") else None,
        # model-index needs a model name.
        model_name=f"llmdisc-{clf.name}" if results else None,
        eval_results=results or None,
    )
    settings = "\n".join(f"| `{k}` | `{v}` |" for k, v in config.items()) or "| (none) | |"
    metrics = "\n".join(
        f"| {split} | " + " | ".join(f"{m.get(k, float('nan')):.4f}" for k in ("accuracy", "macro_f1", "log_loss", "ece")) + " |"
        for split, m in (info.get("metrics") or {}).items()
    )
    content = f"""---
{data.to_yaml()}
---

# {type(clf).__name__} ({clf.name})

{clf.description}

- **Paradigm:** {clf.paradigm}
- **Labels:** {", ".join(f"`{label}`" for label in clf.labels)}
- **Training data:** {info.get("dataset", "not recorded")} ({info.get("train_examples", "?")} examples, {info.get("train_seconds", "?")} s)
- **Made with:** [llmdisc](https://pypi.org/project/llmdisc/) {__version__}

## Hyper-parameters

| setting | value |
| --- | --- |
{settings}

## Metrics

{"| split | accuracy | macro-F1 | log loss | ECE (15 bins) |" + chr(10) + "| --- | --- | --- | --- | --- |" + chr(10) + metrics if metrics else "Not evaluated when saved."}

## How to use

```python
from llmdisc import TextClassifier

clf = TextClassifier.from_pretrained("path/or/hub-folder")
clf.predict_proba(["a text to classify"])  # columns: {clf.labels}
```

## Intended use and limits

A {clf.paradigm} text classifier for comparing approaches with llmdisc. It predicts only the
labels above, and was trained on the data named above: expect lower accuracy on text unlike it.
"""
    ModelCard(content).save(folder / "README.md")
