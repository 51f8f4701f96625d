"""The few-shot search behind issue 13's 32-example target: embedding_lr's C, SetFit's settings.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fewshot_search_sst2.py --part embedding
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fewshot_search_sst2.py --part setfit --variant default --seeds 2

The subsets are the ones ``llmdisc.compare`` trains on in ``fair_budgets_sst2.py --part fewshot``
(500 training examples held out, then ``stratified_subset(train, 32, seed)``), scored on SST-2
validation. For each encoder (the frozen MiniLM, or the body SetFit tuned) it fits logistic
regression heads on the 32 examples with fixed C values and with C picked by cross-validation on
those 32 examples (``LogisticRegressionCV``), and prints one JSON line per (encoder, seed):
validation accuracy per head. Validation picks nothing; it is only reported.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import llmdisc
from llmdisc.data.subsets import hold_out
from llmdisc.lm.loading import resolve_model

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"
FIXED_C = (1.0, 10.0, 100.0, 1000.0)

#: SetFit variants: keyword arguments of setfit.TrainingArguments.
VARIANTS = {
    "default": {"num_iterations": 20},  # llmdisc's setting until now
    "oversampling": {},  # setfit 1.x's own default sampling
    "iter20_lr1e-5": {"num_iterations": 20, "body_learning_rate": 1e-5},
    "iter20_lr5e-5": {"num_iterations": 20, "body_learning_rate": 5e-5},
    "iter10": {"num_iterations": 10},
    "iter40": {"num_iterations": 40},
    "iter20_ep2": {"num_iterations": 20, "num_epochs": 2},
}


def heads(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray) -> dict[str, float]:
    """Validation accuracy of logistic-regression heads: fixed C, and C chosen by CV on the training examples."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

    out = {}
    for c in FIXED_C:
        head = LogisticRegression(C=c, max_iter=1000).fit(train_x, train_y)
        out[f"C={c:g}"] = round(float((head.predict(val_x) == val_y).mean()), 4)
    cv = LogisticRegressionCV(Cs=np.logspace(-2, 4, 13), cv=4, scoring="neg_log_loss", max_iter=1000).fit(
        train_x, train_y
    )
    out["cv"] = round(float((cv.predict(val_x) == val_y).mean()), 4)
    out["cv_C"] = round(float(cv.C_[0]), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["embedding", "setfit"], required=True)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="default")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument(
        "--setfit-seed",
        type=int,
        default=None,
        help="SetFit's own seed (pairs, fine-tuning); default: the subset's seed, as compare does",
    )
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    data = hold_out(llmdisc.load_text_dataset(str(SST2), label_names=["negative", "positive"]), 500)
    val_texts, val_y = list(data["validation"]["text"]), np.asarray(data["validation"]["label"])
    for seed in (int(s) for s in args.seeds.split(",")):
        subset = llmdisc.stratified_subset(data["train"], args.size, seed)
        texts, y = list(subset["text"]), np.asarray(subset["label"])
        start = time.time()
        row = {"part": args.part, "seed": seed, "size": args.size}
        if args.part == "embedding":
            body = SentenceTransformer(resolve_model("minilm-l6"), device="cpu")
        else:
            from setfit import SetFitModel, Trainer, TrainingArguments

            model = SetFitModel.from_pretrained(resolve_model("minilm-l6"), device="cpu")
            with tempfile.TemporaryDirectory() as tmp:
                targs = TrainingArguments(
                    output_dir=tmp,
                    batch_size=16,
                    seed=seed if args.setfit_seed is None else args.setfit_seed,
                    report_to="none",
                    save_strategy="no",
                    show_progress_bar=False,
                    **VARIANTS[args.variant],
                )
                trainer = Trainer(model=model, args=targs, train_dataset=llmdisc_dataset(texts, y))
                trainer.train()
            body = model.model_body
            row["variant"] = args.variant
            row["setfit_seed"] = seed if args.setfit_seed is None else args.setfit_seed
            row["setfit_head"] = round(float((np.asarray(model.predict(val_texts, as_numpy=True)) == val_y).mean()), 4)
        train_x = body.encode(texts, convert_to_numpy=True)
        val_x = body.encode(val_texts, convert_to_numpy=True, batch_size=64)
        row.update(heads(train_x, y, val_x, val_y))
        row["seconds"] = round(time.time() - start)
        print(json.dumps(row), flush=True)


def llmdisc_dataset(texts: list[str], labels: np.ndarray):
    import datasets

    return datasets.Dataset.from_dict({"text": texts, "label": [int(v) for v in labels]})


if __name__ == "__main__":
    main()
