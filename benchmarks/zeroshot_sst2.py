"""Benchmark: zero-shot SST-2 with SmolLM2-135M, scoring speed, the peer check, generation speed.

    .venv/bin/python benchmarks/zeroshot_sst2.py --part accuracy   # all templates, 872 sentences
    .venv/bin/python benchmarks/zeroshot_sst2.py --part speed      # vs a plain loop and lm-eval's HFLM
    .venv/bin/python benchmarks/zeroshot_sst2.py --part peer       # log-likelihoods vs HFLM, to 1e-3
    .venv/bin/python benchmarks/zeroshot_sst2.py --part generation # tokens/s vs plain model.generate
    .venv/bin/python benchmarks/zeroshot_sst2.py --part prompts    # neutral vs sentiment templates; prior correction
    .venv/bin/python benchmarks/zeroshot_sst2.py --part chat       # task sentiment, with and without the chat template
    .venv/bin/python benchmarks/zeroshot_sst2.py --part batching   # token-budget batches vs fixed batches of 16
    .venv/bin/python benchmarks/zeroshot_sst2.py --part dtype      # float32 vs bfloat16 weights on the CPU
    .venv/bin/python benchmarks/zeroshot_sst2.py --part prefix     # k-shot: shared prefix once vs every prompt whole

Settings follow the reference table in the generative issue: fp32, the packaged weights, no BOS
token; direct scores " terrible" after "{text} A"; channel scores " {text}" after
"A terrible one ."; calibration divides by the label probabilities for "N/A".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch

import llmdisc
from llmdisc.classifiers.zeroshot import MIN_TEMPLATES, REVIEW_TEMPLATE, Template
from llmdisc.lm.generation import SamplingConfig, generate
from llmdisc.lm.loading import load_model
from llmdisc.lm.loglikelihood import encode_pair, loglikelihood

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"
MIN_WORDS = {"negative": "terrible", "positive": "great"}
# Ours: the review template with a task line, and the label names as verbalizers.
OWN_TEMPLATE = "Is this movie review positive or negative?\nReview: {text}\nSentiment: {label}"


def run(data, **config) -> tuple[float, float, float]:
    """Accuracy uncalibrated and calibrated (from one scoring pass), and examples/s."""
    clf = llmdisc.get_classifier("zeroshot", calibrate=True, **config).fit(llmdisc.stratified_subset(data["train"], 8))
    labels = np.asarray(data["validation"]["label"])
    start = time.perf_counter()
    calibrated = clf.predict_proba(list(data["validation"]["text"]))
    seconds = time.perf_counter() - start
    # Calibration only rescales columns, so the raw probabilities come back as p_cal * c, renormalised.
    raw = calibrated * clf.calibration[0]
    return (
        float((raw.argmax(1) == labels).mean()),
        float((calibrated.argmax(1) == labels).mean()),
        len(labels) / seconds,
    )


def part_accuracy(data, only_review: bool = False) -> dict:
    rows = {}
    settings = [(t, MIN_WORDS) for t in MIN_TEMPLATES] + [(REVIEW_TEMPLATE, None), (OWN_TEMPLATE, None)]
    if only_review:
        settings = settings[-2:]
    for template, words in settings:
        direct, calibrated, speed = run(data, templates=[template], verbalizers=words, mode="direct")
        channel, _, cspeed = run(data, templates=[template], verbalizers=words, mode="channel")
        rows[template] = {
            "direct": direct,
            "calibrated_direct": calibrated,
            "channel": channel,
            "direct_ex_s": round(speed, 2),
            "channel_ex_s": round(cspeed, 2),
        }
        print(json.dumps({template: rows[template]}), flush=True)
    if only_review:
        return {"templates": rows}
    best = {}
    for name, config in {
        "own, pmi": dict(templates=[OWN_TEMPLATE], pmi=True),
        "own, 4-shot": dict(templates=[OWN_TEMPLATE], k_shot=4),
    }.items():
        acc, cal, speed = run(data, mode="direct", **config)
        best[name] = {"accuracy": acc, "calibrated": cal, "ex_s": round(speed, 2)}
        print(json.dumps({name: best[name]}), flush=True)
    mins = [rows[t] for t in MIN_TEMPLATES]
    summary = {
        k: {"mean": float(np.mean([r[k] for r in mins])), "worst": float(np.min([r[k] for r in mins]))}
        for k in ("direct", "calibrated_direct", "channel")
    }
    return {"templates": rows, "min_templates": summary, "search": best}


def part_chat(data, modes: tuple[str, ...] = ("direct", "channel"), n: int | None = None) -> dict:
    """Task sentiment (the review template), label words negative/positive: each mode with and without
    the chat template, on the first ``n`` validation sentences (all by default); direct and calibrated
    come from one scoring pass."""
    if n is not None:
        data = {"train": data["train"], "validation": data["validation"].select(range(n))}
    rows = {}
    for mode in modes:
        for chat in (False, True):
            plain, calibrated, speed = run(data, task="sentiment", mode=mode, chat_template=chat)
            key = f"{mode}, chat template {'on' if chat else 'off'}"
            rows[key] = {"accuracy": plain, "calibrated": calibrated, "ex_s": round(speed, 2)}
            print(json.dumps({key: rows[key]}), flush=True)
    return rows


def part_batching(
    data, n: int, rounds: int = 2, modes: tuple[str, ...] = ("direct", "channel"), budgets: tuple[int, ...] = ()
) -> dict:
    """Scoring speed of token-budget batches (the default budget, and any in ``budgets``) against the
    old fixed batches of 16 pairs, on the same ``n`` validation sentences, alternating the paths
    ``rounds`` times in one run."""
    from llmdisc.lm.loglikelihood import DEFAULT_MAX_TOKENS

    texts = list(data["validation"]["text"][:n])
    old_path = "old: batch_size 16, no token budget"
    paths = {old_path: dict(batch_size=16, max_tokens=None)}
    for budget in dict.fromkeys([DEFAULT_MAX_TOKENS, *budgets]):
        paths[f"new: max_tokens {budget}, batch_size 64"] = dict(batch_size=64, max_tokens=budget)
    result = {}
    model = tokenizer = None
    for mode in modes:
        scores, seconds = {}, {name: [] for name in paths}
        for _ in range(rounds):
            for name, settings in paths.items():
                clf = llmdisc.get_classifier("zeroshot", task="sentiment", mode=mode, **settings)
                clf.model, clf.tokenizer = model, tokenizer  # one loaded LM for every run
                scorer = clf.fit(data["train"].select(range(8))).scorer()
                model, tokenizer = clf.model, clf.tokenizer
                start = time.perf_counter()
                scores[name] = scorer.label_scores(texts, scorer.templates[0])
                seconds[name].append(time.perf_counter() - start)
        old = np.asarray(scores[old_path])
        speeds = {name: round(n / min(s), 2) for name, s in seconds.items()}
        new = {name: np.asarray(v) for name, v in scores.items() if name != old_path}
        result[mode] = {
            "ex_s": speeds,
            "ratio_over_old": {name: round(speeds[name] / speeds[old_path], 3) for name in new},
            "max_abs_logprob_diff": max(float(np.abs(v - old).max()) for v in new.values()),
            "same_predictions": all(bool((v.argmax(1) == old.argmax(1)).all()) for v in new.values()),
            "seconds": {k: [round(x, 2) for x in v] for k, v in seconds.items()},
        }
        print(json.dumps({mode: result[mode]}), flush=True)
    return result


def part_dtype(data, n: int | None = None, modes: tuple[str, ...] = ("direct", "channel"), rounds: int = 1) -> dict:
    """float32 against bfloat16 on the CPU: bfloat16 as it scores now (the output layer in float32,
    :mod:`llmdisc.lm.head_precision`) and as it did before (the output layer in bfloat16). Accuracy
    (direct mode also calibrated by the content-free input), examples/s (the paths alternated
    ``rounds`` times in one process) and the largest label log-prob difference from float32, on the
    first ``n`` validation sentences (all by default)."""
    import contextlib

    import llmdisc.lm.loglikelihood as scoring
    from llmdisc.metrics.classification import softmax

    texts = list(data["validation"]["text"][:n])
    labels = np.asarray(data["validation"]["label"][:n])
    paths = {
        "float32": ("float32", True),
        "bfloat16, float32 output layer": ("bfloat16", True),
        "bfloat16, bfloat16 output layer (before)": ("bfloat16", False),
    }
    models = {dtype: load_model("smollm2-135m", dtype=dtype, device="cpu") for dtype in ("float32", "bfloat16")}
    result = {}
    for mode in modes:
        scorers = {}
        for dtype, (model, tokenizer) in models.items():
            clf = llmdisc.get_classifier("zeroshot", task="sentiment", mode=mode, dtype=dtype, device="cpu")
            clf.model, clf.tokenizer = model, tokenizer
            scorers[dtype] = clf.fit(data["train"].select(range(8))).scorer()
        scores, free, seconds = {}, {}, {name: [] for name in paths}
        for _ in range(rounds):
            for name, (dtype, float32_output) in paths.items():
                scorer = scorers[dtype]
                before = contextlib.nullcontext if not float32_output else scoring.float32_head
                original, scoring.float32_head = scoring.float32_head, lambda model, before=before: before(model)
                try:
                    scorer.label_scores(texts[:16], scorer.templates[0])  # warm-up
                    start = time.perf_counter()
                    scores[name] = np.asarray(scorer.label_scores(texts, scorer.templates[0]))
                    seconds[name].append(time.perf_counter() - start)
                    if mode == "direct":
                        free[name] = softmax(scorer.label_scores(["N/A"], scorer.templates[0]))[0]
                finally:
                    scoring.float32_head = original
        rows = {}
        for name in paths:
            row = {
                "ex_s": round(len(texts) / min(seconds[name]), 2),
                "seconds": [round(x, 2) for x in seconds[name]],
                "accuracy": round(float((scores[name].argmax(1) == labels).mean()), 4),
                "same_predictions_as_float32": float((scores[name].argmax(1) == scores["float32"].argmax(1)).mean()),
                "max_abs_logprob_diff_from_float32": float(np.abs(scores[name] - scores["float32"]).max()),
            }
            if mode == "direct":
                calibrated = softmax(scores[name]) / free[name]
                row["calibrated_accuracy"] = round(float((calibrated.argmax(1) == labels).mean()), 4)
            rows[name] = row
        for name in list(paths)[1:]:
            rows[name]["speed_over_float32"] = round(rows[name]["ex_s"] / rows["float32"]["ex_s"], 2)
            rows[name]["speed_pairs"] = [round(a / b, 2) for a, b in zip(seconds["float32"], seconds[name])]
        result[mode] = rows
        print(json.dumps({mode: rows}), flush=True)
    return result


def part_prefix(data, n: int, rounds: int = 2, modes: tuple[str, ...] = ("direct", "channel"), k: int = 4) -> dict:
    """k-shot scoring with the demonstrations' shared prefix run once, against today's path (every
    prompt whole, ``shared_prefix: false``) and 0-shot, alternated ``rounds`` times in one process
    on the same ``n`` validation sentences; then lm-eval's HFLM scoring the same k-shot prompts."""
    import dataclasses

    texts = list(data["validation"]["text"][:n])
    model, tokenizer = load_model("smollm2-135m")
    lm = hflm(model, tokenizer)
    result = {}
    for mode in modes:
        scorers = {}
        for shots in (k, 0):
            clf = llmdisc.get_classifier("zeroshot", task="sentiment", mode=mode, k_shot=shots)
            clf.model, clf.tokenizer = model, tokenizer  # one loaded LM for every path
            scorers[shots] = clf.fit(data["train"]).scorer()
        template = scorers[k].templates[0]
        paths = {
            f"{k}-shot, every prompt whole (today)": (scorers[k], False),
            f"{k}-shot, shared prefix once": (scorers[k], True),
            "0-shot": (scorers[0], True),
        }
        scores, seconds = {}, {name: [] for name in paths}
        scorers[0].label_scores(texts[:8], template)  # warm-up
        for _ in range(rounds):
            for name, (scorer, shared) in paths.items():
                scorer.scoring = dataclasses.replace(scorer.scoring, shared_prefix=shared)
                start = time.perf_counter()
                scores[name] = np.asarray(scorer.label_scores(texts, template))
                seconds[name].append(time.perf_counter() - start)
        whole, shared = (scores[name] for name in list(paths)[:2])
        scorer = scorers[k]
        pair = template.direct if mode == "direct" else template.channel
        prompts = [
            scorer.request(scorer.prefix(template) + c, x)
            for t in texts
            for c, x in (pair(t, w) for w in scorer.words)
        ]
        start = time.perf_counter()
        hflm_scores(lm, prompts)
        hflm_ex_s = n / (time.perf_counter() - start)
        names = list(paths)
        result[mode] = {
            "examples": n,
            "prefix_tokens": len(tokenizer(scorer.prefix(template))["input_ids"]),
            "seconds": {name: [round(x, 2) for x in v] for name, v in seconds.items()},
            "pairs_shared_over_whole": [round(a / b, 2) for a, b in zip(seconds[names[0]], seconds[names[1]])],
            "pairs_shared_over_0shot": [round(a / b, 2) for a, b in zip(seconds[names[1]], seconds[names[2]])],
            "ex_s": {name: round(n / min(v), 2) for name, v in seconds.items()}
            | {f"lm-eval HFLM b8, {k}-shot": round(hflm_ex_s, 2)},
            "max_abs_logprob_diff_shared_vs_whole": float(np.abs(shared - whole).max()),
            "same_predictions": bool((shared.argmax(1) == whole.argmax(1)).all()),
        }
        print(json.dumps({mode: result[mode]}), flush=True)
    return result


def plain_loop(model, tokenizer, pairs) -> list[float]:
    """The baseline: one unbatched forward pass per (context, continuation) pair."""
    out = []
    with torch.no_grad():
        for context, continuation in pairs:
            ctx, cont = encode_pair(tokenizer, context, continuation)
            logprobs = torch.log_softmax(model(torch.tensor([ctx + cont])).logits[0].float(), -1)
            out.append(sum(logprobs[len(ctx) - 1 + j, t].item() for j, t in enumerate(cont)))
    return out


def hflm(model, tokenizer, batch_size=8):
    from lm_eval.models.huggingface import HFLM

    # prefix_token_id=0: start empty contexts from <|endoftext|> as llmdisc does (lm-eval's
    # default would be SmolLM2-Instruct's nominal BOS, <|im_start|>).
    return HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, prefix_token_id=0)


def hflm_scores(lm, pairs) -> list[float]:
    from lm_eval.api.instance import Instance

    instances = [Instance(request_type="loglikelihood", doc={}, arguments=p, idx=i) for i, p in enumerate(pairs)]
    return [ll for ll, _ in lm.loglikelihood(instances, disable_tqdm=True)]


def part_speed(data, n: int, plain_n: int) -> dict:
    model, tokenizer = load_model("smollm2-135m")
    texts = list(data["validation"]["text"][:n])
    template = Template(REVIEW_TEMPLATE)
    results = {}
    # llmdisc as the zero-shot classifier runs it: its default row cap and token budget per batch.
    defaults = llmdisc.get_classifier("zeroshot").config
    results["llmdisc_batching"] = {"batch_size": defaults.batch_size, "max_tokens": defaults.max_tokens}
    lm = hflm(model, tokenizer)
    for mode in ("direct", "channel"):
        pairs = [getattr(template, mode)(t, w) for t in texts for w in ("negative", "positive")]
        timings = {}
        start = time.perf_counter()
        ours = loglikelihood(model, tokenizer, pairs, batch_size=defaults.batch_size, max_tokens=defaults.max_tokens)
        timings["llmdisc"] = n / (time.perf_counter() - start)
        start = time.perf_counter()
        theirs = hflm_scores(lm, pairs)
        timings["lm_eval_hflm_b8"] = n / (time.perf_counter() - start)
        start = time.perf_counter()
        plain_loop(model, tokenizer, pairs[: 2 * plain_n])
        timings["plain_loop_b1"] = plain_n / (time.perf_counter() - start)
        # What llmdisc runs: each distinct context once (through the body), each continuation
        # token once more, and the vocabulary projection only where a token is scored.
        encoded = [encode_pair(tokenizer, *p) for p in pairs]
        contexts = {tuple(c) for c, _ in encoded}
        single = all(len(x) == 1 for _, x in encoded)
        body_tokens = sum(len(c) for c in contexts) + (0 if single else sum(len(x) for _, x in encoded))
        head_tokens = len(contexts) if single else sum(len(x) for _, x in encoded)
        results[mode] = {
            "examples": n,
            "ex_s": {k: round(v, 2) for k, v in timings.items()},
            "vs_lm_eval": round(timings["llmdisc"] / timings["lm_eval_hflm_b8"], 2),
            "vs_plain": round(timings["llmdisc"] / timings["plain_loop_b1"], 2),
            "max_abs_diff_vs_lm_eval": float(np.max(np.abs(np.array(ours) - np.array(theirs)))),
            "body_tokens_per_example": body_tokens / n,
            "head_tokens_per_example": head_tokens / n,
        }
        print(json.dumps({mode: results[mode]}), flush=True)
    # FLOP ceiling: 2 x non-embedding parameters per token processed, at the measured matmul rate.
    a, b = torch.randn(1024, 576), torch.randn(576, 1536)
    for _ in range(3):
        a @ b
    start, reps = time.perf_counter(), 200
    for _ in range(reps):
        a @ b
    rate = 2 * 1024 * 576 * 1536 * reps / (time.perf_counter() - start)
    embedding = model.get_input_embeddings().weight.numel()  # tied: also the vocabulary projection
    non_embedding = sum(p.numel() for p in model.parameters()) - embedding
    results["flops"] = {
        "matmul_gflops": round(rate / 1e9, 1),
        "non_embedding_params": non_embedding,
        "vocab_projection_params": embedding,
    }
    for mode in ("direct", "channel"):
        r = results[mode]
        flops = 2 * non_embedding * r["body_tokens_per_example"] + 2 * embedding * r["head_tokens_per_example"]
        results["flops"][f"{mode}_gflop_per_example"] = round(flops / 1e9, 2)
        results["flops"][f"{mode}_ceiling_ex_s"] = round(rate / flops, 1)
        results["flops"][f"{mode}_fraction_of_ceiling"] = round(r["ex_s"]["llmdisc"] / (rate / flops), 2)
    print(json.dumps(results["flops"]), flush=True)
    return results


def part_peer(data) -> dict:
    model, tokenizer = load_model("smollm2-135m")
    texts = list(data["validation"]["text"][:40])
    pairs = [Template(t).direct(x, w) for t in MIN_TEMPLATES[:2] for x in texts for w in ("terrible", "great")]
    pairs += [Template(REVIEW_TEMPLATE).channel(x, "positive") for x in texts] + [("", x) for x in texts[:10]]
    diff = np.abs(
        np.array(loglikelihood(model, tokenizer, pairs)) - np.array(hflm_scores(hflm(model, tokenizer), pairs))
    )
    out = {"pairs": len(pairs), "max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean())}
    print(json.dumps(out), flush=True)
    return out


def part_generation() -> dict:
    model, tokenizer = load_model("smollm2-135m")
    prompts = [
        "Write a sentence about the sea.",
        "Name three fruits.",
        "What is a movie review?",
        "Describe a rainy day.",
        "Give me a tip for cooking rice.",
        "What is 2 + 2?",
        "Say something kind.",
        "Describe a cat.",
    ]
    config = SamplingConfig(max_new_tokens=48, batch_size=8, chat_template=True)
    start = time.perf_counter()
    ours = generate(model, tokenizer, prompts, config)
    ours_s = time.perf_counter() - start
    ours_tokens = sum(r["tokens"] for r in ours)
    # Plain model.generate: same prompts, template, left padding and greedy settings.
    tokenizer.padding_side = "left"
    texts = [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]
    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=48, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    plain_s = time.perf_counter() - start
    new = out[:, enc["input_ids"].shape[1] :]
    plain_tokens = int(
        sum(next((i + 1 for i, t in enumerate(row.tolist()) if t == tokenizer.eos_token_id), len(row)) for row in new)
    )
    result = {
        "llmdisc_tokens_s": round(ours_tokens / ours_s, 2),
        "plain_tokens_s": round(plain_tokens / plain_s, 2),
        "ratio": round((ours_tokens / ours_s) / (plain_tokens / plain_s), 3),
        "same_completions": [r["completion"] for r in ours] == tokenizer.batch_decode(new, skip_special_tokens=True),
    }
    print(json.dumps(result), flush=True)
    return result


# Task-neutral candidates for the default template, against the sentiment one (issue 18).
NEUTRAL_CANDIDATES = ["Text: {text}\nLabel: {label}", "Text: {text}\nCategory: {label}"]


def _macro_f1(pred: np.ndarray, gold: np.ndarray, k: int) -> float:
    f1 = []
    for c in range(k):
        tp, fp, fn = (
            np.sum((pred == c) & (gold == c)),
            np.sum((pred == c) & (gold != c)),
            np.sum((pred != c) & (gold == c)),
        )
        f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(f1))


def _prompt_scores(sets: dict, templates: list[str], cache: Path, reverse: bool = False, skip: tuple = ()) -> dict:
    """Per (set, template, mode): raw (n, k) label scores from llmdisc's scorer; content-free probs.

    One scoring pass per (set, template, mode), each cached as a file in the folder ``cache``
    (an interrupted run resumes): direct, calibrated and prior-corrected numbers are all derived
    from these arrays with the library's functions.
    """
    from llmdisc.lm.label_likelihood import LikelihoodScorer, PromptScoring

    cache.mkdir(parents=True, exist_ok=True)
    model = tokenizer = None
    out = {}
    # --reverse: a second process can fill the cache from the other end (a slow, shared machine).
    for t, template in (reversed if reverse else list)(list(enumerate(templates))):
        for mode in ("direct", "channel"):
            for name, texts in [*sets.items(), ("cf", None)]:
                key = f"{name}|{t}|{mode}"
                path = cache / f"{hashlib.sha256(template.encode()).hexdigest()[:8]}-{name}-{mode}.npy"
                if name == "cf" and mode == "channel":
                    continue
                if path.exists():
                    out[key] = np.load(path)
                    continue
                if key in skip:  # --skip: left out (its numbers are then missing from the tables)
                    continue
                if model is None:
                    model, tokenizer = load_model("smollm2-135m")
                scorer = LikelihoodScorer(
                    model,
                    tokenizer,
                    ["negative", "positive"],
                    [template],
                    scoring=PromptScoring(mode=mode, batch_size=32),
                )
                start = time.perf_counter()
                out[key] = (
                    scorer.content_free_probabilities("N/A")[0]
                    if name == "cf"
                    else scorer.label_scores(texts, scorer.templates[0])
                )
                np.save(path, out[key])
                if texts:
                    print(
                        f"{name} template {t} {mode}: {len(texts) / (time.perf_counter() - start):.1f} ex/s",
                        flush=True,
                    )
    return out


def part_prompts(
    data,
    seeds: int = 3,
    n: int = 32,
    candidates: int = len(NEUTRAL_CANDIDATES),
    reverse: bool = False,
    skip: tuple = (),
) -> dict:
    """The neutral default template against the sentiment one (direct, calibrated, channel) on
    SST-2 validation and the demo data; and prior correction from n training examples on SST-2
    validation and on 85/15 subsets of it, mean of ``seeds`` draws of the n examples."""
    from llmdisc.lm.label_likelihood import apply_weights, prior_weights
    from llmdisc.metrics.classification import softmax

    demo = llmdisc.load_text_dataset("demo")
    rng = np.random.default_rng(0)
    pool = rng.choice(len(data["train"]), size=128, replace=False)  # the training texts priors are drawn from
    sets = {
        "sst2": list(data["validation"]["text"]),
        "pool": [data["train"][int(i)]["text"] for i in pool],
        "demo": list(demo["validation"]["text"]) + list(demo["test"]["text"]),
    }
    gold = {
        "sst2": np.asarray(data["validation"]["label"]),
        "pool": np.asarray(data["train"].select(pool)["label"]),
        "demo": np.asarray(list(demo["validation"]["label"]) + list(demo["test"]["label"])),
    }
    templates = [REVIEW_TEMPLATE] + NEUTRAL_CANDIDATES[:candidates]
    scores = _prompt_scores(sets, templates, Path("outputs/bench-prompts-scores"), reverse, skip)

    def probs(name, t, variant):
        if f"{name}|{t}|{'channel' if variant == 'channel' else 'direct'}" not in scores:
            return None
        if variant == "channel":
            return softmax(scores[f"{name}|{t}|channel"])
        p = softmax(scores[f"{name}|{t}|direct"])
        return apply_weights(p, 1 / scores[f"cf|{t}|direct"]) if variant == "calibrated" else p

    result = {"templates": {}, "prior": {}}
    for t, template in enumerate(templates):
        row = {
            f"{name}_{v}": round(float((probs(name, t, v).argmax(1) == gold[name]).mean()), 4)
            for name in ("sst2", "demo")
            for v in ("direct", "calibrated", "channel")
            if probs(name, t, v) is not None
        }
        row.update(
            {
                f"demo_test_{v}": round(float((probs("demo", t, v)[80:].argmax(1) == gold["demo"][80:]).mean()), 4)
                for v in ("direct", "calibrated", "channel")
                if probs("demo", t, v) is not None
            }
        )  # the slow test's split
        result["templates"][template] = row
        print(json.dumps({template: row}), flush=True)
    # Prior correction: the eval set, balanced (all of validation) or 85/15 either way; the n
    # training examples drawn from the pool at the eval set's class ratio.
    val = gold["sst2"]
    by_class = [np.flatnonzero(val == c) for c in (0, 1)]
    evals = {"balanced": np.arange(len(val))}
    for major in (0, 1):
        minor_n = round(len(by_class[major]) * 15 / 85)
        evals[f"85/15 {['negative', 'positive'][major]}"] = np.concatenate(
            [by_class[major], np.random.default_rng(1).choice(by_class[1 - major], minor_n, replace=False)]
        )
    for t in (0, 1):  # the sentiment template and the first neutral one
        for variant in ("direct", "calibrated", "channel"):
            if probs("sst2", t, variant) is None or probs("pool", t, variant) is None:
                continue
            for eval_name, idx in evals.items():
                share = np.bincount(val[idx], minlength=2) / len(idx)
                accs, f1s, base = [], [], probs("sst2", t, variant)[idx]
                for seed in range(seeds):
                    r = np.random.default_rng(100 + seed)
                    counts = np.round(share * n).astype(int)
                    train = np.concatenate(
                        [r.choice(np.flatnonzero(gold["pool"] == c), counts[c], replace=False) for c in (0, 1)]
                    )
                    w = prior_weights(probs("pool", t, variant)[train], gold["pool"][train])
                    pred = apply_weights(base, w).argmax(1)
                    accs.append((pred == val[idx]).mean())
                    f1s.append(_macro_f1(pred, val[idx], 2))
                key = f"{templates[t]!r} {variant} {eval_name}"
                result["prior"][key] = {
                    "examples": len(idx),
                    "accuracy": round(float((base.argmax(1) == val[idx]).mean()), 4),
                    "macro_f1": round(_macro_f1(base.argmax(1), val[idx], 2), 4),
                    "prior_accuracy": round(float(np.mean(accs)), 4),
                    "prior_macro_f1": round(float(np.mean(f1s)), 4),
                }
                print(json.dumps({key: result["prior"][key]}), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--part",
        choices=["accuracy", "speed", "peer", "generation", "prompts", "chat", "batching", "dtype", "prefix"],
        required=True,
    )
    parser.add_argument("--modes", default="direct,channel", help="chat, batching: the scoring modes, comma-separated")
    parser.add_argument(
        "--examples", type=int, default=None, help="chat, dtype: the first N validation sentences (default: all)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="batching, prefix, dtype: times each path is timed (the best counts)"
    )
    parser.add_argument(
        "--budgets", default="", help="batching: more token budgets to time beside the default, comma-separated"
    )
    parser.add_argument("--data", default=str(SST2))
    parser.add_argument("--speed-examples", type=int, default=200)
    parser.add_argument("--plain-examples", type=int, default=50)
    parser.add_argument("--only-review", action="store_true", help="accuracy: only the review and own templates")
    parser.add_argument(
        "--candidates", type=int, default=len(NEUTRAL_CANDIDATES), help="prompts: neutral candidates to score"
    )
    parser.add_argument("--reverse", action="store_true", help="prompts: score the templates last to first")
    parser.add_argument(
        "--skip", default="", help="prompts: score keys (set|template|mode) to leave out, comma-separated"
    )
    args = parser.parse_args()
    data = llmdisc.load_text_dataset(args.data, label_names=["negative", "positive"])
    result = {
        "accuracy": lambda: part_accuracy(data, args.only_review),
        "speed": lambda: part_speed(data, args.speed_examples, args.plain_examples),
        "peer": lambda: part_peer(data),
        "generation": part_generation,
        "chat": lambda: part_chat(data, tuple(args.modes.split(",")), args.examples),
        "dtype": lambda: part_dtype(data, args.examples, tuple(args.modes.split(",")), args.rounds),
        "prefix": lambda: part_prefix(data, args.speed_examples, args.rounds, tuple(args.modes.split(","))),
        "batching": lambda: part_batching(
            data,
            args.speed_examples,
            args.rounds,
            tuple(args.modes.split(",")),
            tuple(int(b) for b in args.budgets.split(",") if b),
        ),
        "prompts": lambda: part_prompts(
            data, candidates=args.candidates, reverse=args.reverse, skip=tuple(k for k in args.skip.split(",") if k)
        ),
    }[args.part]()
    path = Path(
        f"outputs/bench-zeroshot-{args.part}{'-review' if args.only_review else ''}"
        f"{'-' + args.modes.replace(',', '-') if args.part in ('chat', 'batching', 'dtype', 'prefix') else ''}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
