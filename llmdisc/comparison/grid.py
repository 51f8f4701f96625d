"""Compare approaches on the same splits, over training-set sizes and seeds, with a disk cache.

The grid is (approach, size, seed). For one seed, the subset of each size is the same for every
approach and nested across sizes (:func:`~llmdisc.data.subsets.stratified_subset`), so learning curves
compare like with like. An approach whose ``fit`` does not learn from examples (zero-shot
scoring) is run once and drawn as a flat line.

Each finished cell is written to ``OUTPUT_DIR/runs/APPROACH/...json`` at once, with its per-example
predictions beside it (``...parquet``, see :mod:`~llmdisc.comparison.prediction_files`), so an interrupted
comparison resumes where it stopped (``resume=True``), and a re-run with one more approach
computes only that approach. A folder made with another data set or other settings is refused,
with the difference named, rather than silently mixed.

The same folder lets several processes share the grid (:mod:`~llmdisc.comparison.shards`): ``shard``
runs one slice of it, and under ``accelerate launch`` each process runs its part of the cells on
its own device, the records gathered at the end. Each cell is claimed while it runs
(``OUTPUT_DIR/claims``), so two runs that share a folder never compute a cell twice at once.

The cells share one likelihood cache (``OUTPUT_DIR/runs/likelihoods.sqlite``, in memory without an
output folder; :mod:`~llmdisc.lm.likelihood_cache`): a prompt that one zero-shot approach or cell
scored is not scored again by another with the same model, nor by a ``--resume``.

Like :func:`~llmdisc.comparison.evaluation.evaluate_classifier`, this module only ever calls the
:class:`~llmdisc.classifiers.TextClassifier` interface.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import shutil
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from llmdisc.analysis.summary import lead_split
from llmdisc.api.records import Costs, Predictions, RunRecord
from llmdisc.classifiers import TextClassifier, get_classifier, get_classifier_class
from llmdisc.classifiers.calibration import CALIBRATION_METHODS
from llmdisc.comparison.evaluation import evaluate_classifier, robustness_probabilities
from llmdisc.comparison.progress import GridProgress
from llmdisc.comparison.run_cache import Cell, RunCache
from llmdisc.comparison.shards import Share, parse_shard
from llmdisc.comparison.synthetic_data import label_counts, parse_synthetic, synthetic_subset
from llmdisc.data.loading import label_names
from llmdisc.data.subsets import data_fingerprint, stratified_subset, subset_hash
from llmdisc.errors import LlmdiscError, first_line
from llmdisc.lm.likelihood_cache import shared_likelihoods
from llmdisc.lm.prompts import check_task, label_words_note, label_words_warning, with_data_settings
from llmdisc.plumbing import distributed
from llmdisc.plumbing.atomic_files import temp_root
from llmdisc.plumbing.config import DEFAULT_SEED
from llmdisc.plumbing.locks import FolderLock, claim
from llmdisc.plumbing.peak_memory import PeakRSS

if TYPE_CHECKING:
    import datasets

__all__ = ["compare", "normalise_approaches", "parse_sizes"]

logger = logging.getLogger(__name__)


def normalise_approaches(approaches: Mapping[str, Mapping[str, Any] | None] | Sequence[str] | str) -> dict[str, dict]:
    """Accept ``"a,b"``, ``["a", "b"]`` or ``{"a": {...config...}, "b": None}``; return name -> config."""
    if isinstance(approaches, str):
        approaches = [a.strip() for a in approaches.split(",") if a.strip()]
    if isinstance(approaches, Mapping):
        return {name: dict(cfg or {}) for name, cfg in approaches.items()}
    return {name: {} for name in approaches}


def parse_sizes(sizes: Sequence[int | str], n_train: int) -> tuple[list[int], list[str]]:
    """Training-set sizes as numbers: ``"all"`` is ``n_train``; larger sizes are capped.

    Args:
        sizes: ints, digit strings or ``"all"``.
        n_train: the number of training examples.

    Returns:
        (the distinct sizes in increasing order, a note for each size that was capped).
    """
    out, notes = set(), []
    for size in sizes:
        if str(size).strip().lower() == "all":
            out.add(n_train)
            continue
        try:
            n = int(size)
        except ValueError:
            raise LlmdiscError(f"size {size!r} is neither a number nor 'all'; use e.g. --sizes 8,32,all") from None
        if n <= 0:
            raise LlmdiscError(f"size {n} must be positive")
        if n > n_train:
            notes.append(f"size {n} is larger than the training set; capped at {n_train}")
        out.add(min(n, n_train))
    return sorted(out), notes


def _run_cell(
    cell: Cell,
    train: datasets.Dataset,
    data: datasets.DatasetDict,
    splits: Sequence[str],
    selection: datasets.Dataset | None,
    robustness: dict[str, Any] | None,
    calibration: str = "none",
) -> list[RunRecord]:
    """Train one approach on one subset, calibrate it on ``selection`` (trained approaches, when
    ``calibration`` is not ``none``), and evaluate it on every split; failures become records."""
    config = dict(cell.config)
    if cell.seed is not None and cell.cls.takes_seed and "seed" not in config:
        config["seed"] = cell.seed  # vary the approach's own randomness with the subset
    base = dict(
        approach=cell.registered,
        variant=cell.name,
        paradigm=cell.paradigm,
        size=cell.size,
        seed=cell.seed,
        labels=label_names(train),
        train_examples=0 if cell.size is None else len(train),
        train_subset=subset_hash(train) if cell.size is not None else None,
        generator=cell.synthetic.model if cell.synthetic else None,
    )
    records: list[RunRecord] = []
    try:
        with PeakRSS() as memory:
            clf = get_classifier(cell.registered, **config)
            clf.fit(train, eval=selection)
            if calibration != "none" and selection is not None and clf.uses_training_data:
                clf.calibrate(selection, method=calibration)
            for split in splits:
                e = evaluate_classifier(clf, data[split])
                gold = np.asarray(data[split]["label"])
                record = RunRecord(
                    **base,
                    split=split,
                    examples=e.examples,
                    metrics=e.metrics,
                    reliability=e.reliability,
                    confusion=e.confusion,
                    temperature=clf.calibrator.temperature if clf.calibrator else None,
                    calibration=clf.calibrator.method if clf.calibrator else None,
                    uncalibrated=e.uncalibrated,
                    train_steps=clf.info.trainer.global_step if clf.info.trainer else None,
                    per_example=Predictions(np.arange(len(gold)), gold, e.probabilities.astype(np.float32)),
                    costs=Costs(
                        train_seconds=_plus(clf.info.train_seconds, cell.generation_seconds),
                        predict_seconds=e.predict_seconds,
                        examples_per_second=e.examples_per_second,
                        parameters_total=clf.info.parameters.get("total"),
                        parameters_trainable=clf.info.parameters.get("trainable"),
                    ),
                    device=clf.info.device or "cpu",
                    dtype=clf.info.dtype,
                    prompt=clf.info.prompt.describe() if clf.info.prompt else None,
                    template_accuracy=_template_accuracy(clf, data[split]),
                )
                if cell.robustness and robustness and split == robustness["split"]:
                    # Rate 0 is the split itself: its probabilities were just computed.
                    damaged = robustness_probabilities(
                        clf,
                        robustness["data"],
                        robustness["rates"],
                        robustness["seed"],
                        undamaged=e.probabilities[robustness["index"]],
                    )
                    gold = np.asarray(robustness["data"]["label"])
                    record.robustness = {k: float((p.argmax(axis=1) == gold).mean()) for k, p in damaged.items()}
                    record.robustness_per_example = {
                        k: Predictions(robustness["index"], gold, p.astype(np.float32)) for k, p in damaged.items()
                    }
                records.append(record)
        for record in records:
            record.costs.peak_rss_mib, record.costs.rss_increase_mib = (
                round(memory.peak_mib, 1),
                round(memory.increase_mib, 1),
            )
            if memory.gpu_peak_mib is not None:
                record.costs.peak_gpu_mib = round(memory.gpu_peak_mib, 1)
    except Exception as e:  # one approach failing must not sink the comparison
        message = first_line(e)
        logger.error("%s failed: %s", cell.name, message)
        if not isinstance(e, LlmdiscError):
            logger.debug("".join(traceback.format_exception(e)))
        records = [RunRecord(**base, split=split, status="failed", error=message) for split in splits]
    return records


def _remove_empty_folders(root: Path) -> None:
    """Remove ``root`` and the folders below it that are empty (deepest first)."""
    for folder in sorted(
        (p for p in [root, *root.glob("**/")] if p.is_dir()), key=lambda p: len(p.parts), reverse=True
    ):
        with contextlib.suppress(OSError):  # not empty
            folder.rmdir()


def _plus(seconds: float | None, more: float) -> float | None:
    return seconds + more if seconds is not None and more else seconds


def _template_accuracy(clf: TextClassifier, split: datasets.Dataset) -> dict[str, float] | None:
    """Each prompt template's accuracy on ``split``, for a classifier that averages several."""
    parts = clf.template_probabilities(list(split["text"]))
    gold = np.asarray(split["label"])
    return None if parts is None else {t: float((p.argmax(axis=1) == gold).mean()) for t, p in parts.items()}


def _train_subset(
    cell: Cell, train: datasets.Dataset, folder: Path | None, verbalizers: Mapping[str, str] | None
) -> datasets.Dataset:
    """The cell's training set: all of ``train`` (zero-shot), its stratified subset, or as many
    synthetic texts per label as that subset holds (see :mod:`~llmdisc.comparison.synthetic_data`; their
    share of the generation time is set on the cell, to count as training time)."""
    if cell.size is None:
        return train
    subset = stratified_subset(train, cell.size, cell.seed)
    if cell.synthetic is None:
        return subset
    from llmdisc.lm.label_likelihood import resolve_verbalizers

    labels = label_names(train)
    largest = label_counts(stratified_subset(train, cell.largest, cell.seed), len(labels))
    path = folder / "runs" / cell.name / f"synthetic-seed{cell.seed}.json" if folder is not None else None
    subset, cell.generation_seconds = synthetic_subset(
        cell.synthetic,
        label_counts(subset, len(labels)),
        largest,
        resolve_verbalizers(labels, verbalizers),
        train.features,
        cell.seed,
        path,
    )
    return subset


def _holding_output_dir(run):
    """Run a comparison holding its output folder's lock, with temporary folders in OUTPUT_DIR/tmp.

    The lock stops a second comparison on the same folder from computing the whole grid again;
    the lock of a killed one is taken over. Temporary folders (a Trainer's checkpoints) go in
    OUTPUT_DIR/tmp, where the next comparison, holding the lock, removes what a killed one left.
    """

    @functools.wraps(run)
    def wrapper(*args, **kwargs):
        arguments = inspect.signature(run).bind(*args, **kwargs).arguments
        output_dir = arguments.get("output_dir")
        if output_dir is None:
            return run(*args, **kwargs)
        tmp = Path(output_dir) / "tmp"
        if arguments.get("shard") or distributed.world_size() > 1:
            # Shared by several processes: each cell is claimed instead, and each process's
            # checkpoints carry its tag (temp_dir removes only those of dead processes).
            with temp_root(tmp):
                return run(*args, **kwargs)
        with FolderLock(output_dir), temp_root(tmp):
            if tmp.exists():
                logger.info("removing %s, left by an interrupted comparison", tmp)
                shutil.rmtree(tmp, ignore_errors=True)
            try:
                return run(*args, **kwargs)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
                _remove_empty_folders(Path(output_dir) / "claims")  # a claim another run holds stays

    return wrapper


@_holding_output_dir
def compare(
    approaches: Mapping[str, Mapping[str, Any] | None] | Sequence[str] | str,
    data: datasets.DatasetDict,
    splits: Sequence[str] = ("validation", "test"),
    sizes: Sequence[int | str] = ("all",),
    seeds: int = 1,
    seed: int = DEFAULT_SEED,
    drop_rates: Sequence[float] = (),
    robustness_split: str = "test",
    robustness_examples: int | None = None,
    selection_split: str | None = "validation",
    calibration: str = "temperature",
    output_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    verbalizers: Mapping[str, str] | None = None,
    task: str | None = None,
    shard: str | tuple[int, int] | None = None,
) -> list[RunRecord]:
    """Train every approach on the same subsets and evaluate it on the same splits.

    Args:
        approaches: names, or a mapping of name to that approach's config. A config may also
            hold ``approach``, the registered approach when the name is a variant's (as in
            ``{"zeroshot_channel": {"approach": "zeroshot", "mode": "channel"}}``), and
            ``sizes`` / ``seeds`` to replace the global ones for that approach (an expensive
            approach may stop at a smaller size). Every approach is built and checked against
            the data's labels before the first run: a bad one is a one-line error at once.
        data: a ``DatasetDict`` from :func:`~llmdisc.load_text_dataset`.
        splits: the splits to evaluate on (missing ones are skipped).
        sizes: training-set sizes (``"all"``: the whole training split); larger ones are capped.
        seeds: how many seeds per size (``seed``, ``seed + 1``, ...): each draws its own
            subsets and is passed to approaches that take a ``seed``.
        seed: the first seed.
        drop_rates: word-dropout rates for the robustness curve (empty: none), measured at the
            largest size with the first seed.
        robustness_split: the split whose texts are damaged (the last evaluated split if absent).
        robustness_examples: damage a stratified subset of this many examples (``None``: all).
        selection_split: the split passed to ``fit`` as ``eval``, for the approaches that pick
            a checkpoint or stop early on it (``None``: none; the last checkpoint is kept).
            Numbers on this split are then optimistic for those approaches, so it may not be
            the split the report leads with (``test`` when evaluated, else the first split).
        calibration: ``temperature``: fit one temperature per trained run on the selection
            split (see :meth:`~llmdisc.classifiers.TextClassifier.calibrate`); the records hold
            the metrics with it and ECE and log loss without it. ``platt`` / ``isotonic``:
            scikit-learn's sigmoid / isotonic calibration instead (it can change predictions);
            ``auto``: the one of the three with the lowest cross-validated log loss on the
            selection split, per run. ``none``: no calibration.
        output_dir: where to cache each finished cell (``None``: no cache).
        resume: reuse the cells cached in ``output_dir``.
        overwrite: discard the cells cached in ``output_dir``.
        verbalizers: label -> word, for every approach that scores label words (its own
            ``verbalizers`` win, label by label); see :mod:`llmdisc.lm.prompts`.
        task: the task, picking the templates of those approaches that set none.
        shard: ``"I/N"`` (or ``(I, N)``): run slice I of N of the grid only (see
            :mod:`~llmdisc.comparison.shards`), caching it in ``output_dir`` for a later ``resume``
            without ``shard`` to merge. Under ``accelerate launch`` the processes share the
            cells (of the slice) whatever ``shard`` says, and every process returns them all.

    Returns:
        One :class:`~llmdisc.api.records.RunRecord` per (approach, size, seed, split) (of the slice), with
        ``status`` ``failed`` and the ``error`` for a run that raised, and ``robustness``
        (drop rate -> accuracy) on the robustness split's record of the largest size.
    """
    share = Share(
        shard if isinstance(shard, tuple) else parse_shard(shard), distributed.rank(), distributed.world_size()
    )
    if not share.whole and output_dir is None:
        raise LlmdiscError(
            f"{share.describe()}: the processes share the grid through the output folder; "
            "give an --output-dir that all of them reach"
        )
    distributed.own_gpu_only()  # before anything below asks torch about GPUs
    splits = [s for s in splits if s in data]
    if not splits:
        raise LlmdiscError(f"none of the splits to evaluate is in the data; it has: {', '.join(data)}")
    if seeds < 1:
        raise LlmdiscError(f"seeds must be at least 1, got {seeds}")
    if calibration not in CALIBRATION_METHODS:
        raise LlmdiscError(f"unknown calibration '{calibration}'; use one of {', '.join(CALIBRATION_METHODS)}")
    lead = lead_split(splits)  # the rule the report uses
    if selection_split is not None and selection_split == lead and selection_split in data:
        raise LlmdiscError(
            f"the selection split '{selection_split}' is the split the report leads with: checkpoints and "
            "temperatures picked on it would flatter the approaches that pick; hold out training "
            "examples (--holdout 500), name another --selection-split, or --selection-split none"
        )
    bad = [r for r in drop_rates if not 0 <= r < 1]
    if bad:
        raise LlmdiscError(f"drop rates must be in [0, 1), got {bad[0]}")
    train = data["train"]
    _check_classes(train)
    numbers, notes = parse_sizes(sizes, len(train))
    _check_sizes(numbers, label_names(train))
    for note in notes:
        logger.warning(note)
    robustness = None
    if drop_rates:
        split = robustness_split if robustness_split in splits else splits[-1]
        # The subset's positions in the split, so that its per-example rows name their examples.
        indexed = stratified_subset(
            data[split].add_column("_llmdisc_index", list(range(len(data[split])))), robustness_examples, seed
        )
        robustness = {
            "split": split,
            "rates": [float(r) for r in drop_rates],
            "seed": seed,
            "index": np.asarray(indexed["_llmdisc_index"]),
            "data": indexed.remove_columns("_llmdisc_index"),
        }
    manifest = {
        "data": data_fingerprint(data),
        "splits": splits,
        "selection_split": selection_split,
        "calibration": calibration,
        "robustness": {k: v for k, v in (robustness or {}).items() if k not in ("data", "index")}
        | {"examples": robustness_examples},
    }
    labels = label_names(train)
    if verbalizers:  # checked once, before any approach names it
        from llmdisc.lm.label_likelihood import resolve_verbalizers

        resolve_verbalizers(labels, verbalizers)
    check_task(task)
    plan = _plan(approaches, numbers, seeds, seed, len(train), labels, notes, verbalizers, task)
    # Only a valid plan claims the folder: a refused setting must not leave a comparison.json
    # that makes the corrected command ask for --resume.
    cache = RunCache(output_dir, manifest, resume, overwrite, shared=not share.whole)
    positions = share.slice(range(len(plan)))
    # Look every cached cell up before running anything: a refusal comes at once, not hours in.
    cached = {p: cache.get(plan[p]) for p in positions}
    for p in positions:
        if cached[p] is not None:
            logger.debug("%s, %s: cached", plan[p].name, plan[p].label)
    todo = [p for p in share.mine(range(len(plan))) if cached[p] is None]
    if not share.whole:
        logger.info(
            "%s: %d of the grid's %d cells, %d of them to run",
            share.describe(),
            len(share.mine(range(len(plan)))),
            len(plan),
            len(todo),
        )
    run = functools.partial(
        _run_claimed,
        train=train,
        data=data,
        splits=splits,
        robustness=robustness,
        calibration=calibration,
        selection=data[selection_split] if selection_split in data else None,
        verbalizers=verbalizers,
    )
    ran: dict[int, list[RunRecord]] = {}
    with (
        GridProgress([plan[p] for p in todo]) as progress,
        distributed.on_its_own() if share.processes > 1 else contextlib.nullcontext(),
        shared_likelihoods(output_dir),
    ):
        for p in todo:
            ran[p] = run(plan[p], cache, progress)
    if share.processes > 1:  # meet the others, and take what they ran
        with distributed.group_joined():
            parts = distributed.gather_object(ran)
        for part in parts:
            ran.update({p: found for p, found in part.items() if found is not None})
    records = []
    for p in positions:
        found = cached[p] or ran.get(p)
        if found is None:
            logger.warning(
                "%s, %s: not in these results, another run was computing it; run again with --resume when it is done",
                plan[p].name,
                plan[p].label,
            )
        records += found or []
    if notes:
        for record in records:
            record.notes = "; ".join(notes)
    return records


def _run_claimed(
    cell: Cell,
    cache: RunCache,
    progress: GridProgress,
    train: datasets.Dataset,
    data: datasets.DatasetDict,
    **settings: Any,
) -> list[RunRecord] | None:
    """Run one cell holding its claim, cache it if it succeeded; None when another run holds the claim.

    Args:
        cell: the cell; cache: the output folder's cache; progress: the grid's progress.
        train: the whole training split (the cell's subset is drawn from it); data: every split.
        **settings: :func:`_run_cell`'s remaining arguments.
    """
    lock = claim(cache.claim_path(cell), f"{cell.name}, {cell.label}") if cache.folder is not None else None
    if cache.folder is not None and lock is None:
        logger.info("%s, %s: skipped, another run sharing the folder is computing it", cell.name, cell.label)
        progress.skip(cell)
        return None
    try:
        done = cache.get(cell)  # finished meanwhile by another run sharing the folder
        if done is not None:
            progress.skip(cell)
            return done
        progress.begin(cell)
        subset = _train_subset(cell, train, cache.folder, settings["verbalizers"])
        start = time.perf_counter()
        done = _run_cell(
            cell,
            subset,
            data,
            settings["splits"],
            settings["selection"],
            settings["robustness"],
            settings["calibration"],
        )
        progress.end(cell, time.perf_counter() - start)
        if all(r.ok for r in done):
            cache.put(cell, done)  # failures are retried on resume
        return done
    finally:
        if lock is not None:
            lock.release()


def _plan(
    approaches: Any,
    numbers: list[int],
    seeds: int,
    seed: int,
    n_train: int,
    labels: list[str],
    notes: list[str],
    verbalizers: Mapping[str, str] | None = None,
    task: str | None = None,
) -> list[Cell]:
    """The grid's cells, approach by approach; ``notes`` gets a line for each capped size and
    one saying which label words the likelihood approaches score.

    Every approach is built from its config and checked against ``labels`` here, before any
    run: an unknown key, a wrong type, an unknown model, a bad template or a verbalizer naming
    an unknown label is a one-line error naming the approach.
    """
    plan: list[Cell] = []
    scored: dict[str, list[str] | None] = {}
    for name, config in normalise_approaches(approaches).items():
        config = dict(config)
        # Comparison options an approach's entry may carry, besides its own settings.
        registered = config.pop("approach", name)
        own_numbers = numbers
        if "sizes" in config:
            own_numbers, own_notes = parse_sizes(config.pop("sizes"), n_train)
            try:
                _check_sizes(own_numbers, labels)
            except LlmdiscError as e:
                raise LlmdiscError(f"approach '{name}': {e}") from None
            for note in own_notes:
                logger.warning("%s: %s", name, note)
                notes.append(f"{name}: {note}")
        own_seeds = int(config.pop("seeds", seeds))
        synthetic = config.pop("synthetic", None)
        try:
            synthetic = parse_synthetic(synthetic, get_classifier_class(registered).uses_training_data)
            if get_classifier_class(registered).scores_label_words:
                config = with_data_settings(config, verbalizers, task)
            clf = get_classifier(registered, **config)
            clf.check(labels, sizes=own_numbers if clf.uses_training_data else ())
        except LlmdiscError as e:
            raise LlmdiscError(f"approach '{name}': {e}") from None
        scored[name] = clf.label_words(labels)
        cls, paradigm = type(clf), clf.paradigm
        if not clf.uses_training_data:
            plan.append(Cell(name, registered, cls, paradigm, config, None, None, robustness=True))
            continue
        plan += [
            Cell(
                name,
                registered,
                cls,
                paradigm,
                config,
                n,
                s,
                robustness=(n == own_numbers[-1] and s == seed),
                synthetic=synthetic,
                largest=own_numbers[-1],
            )
            for s in range(seed, seed + own_seeds)
            for n in own_numbers
        ]
    warning, note = label_words_warning(labels, scored), label_words_note(labels, scored)
    if warning:  # one line before the first run, for the whole grid
        logger.warning(warning)
    if note:
        notes.append(note)
    return plan


def _check_classes(train: datasets.Dataset) -> None:
    """A class with fewer than two training examples: one line, before any run.

    Stratified subsets, cross-validated calibration (linear_svm) and SetFit's pairs all need two
    examples of each class; with one, a learning curve would say nothing about that class.
    """
    counts = np.bincount(np.asarray(train["label"]), minlength=len(label_names(train)))
    rare = [name for name, count in zip(label_names(train), counts) if count < 2]
    if rare:
        raise LlmdiscError(
            f"class(es) {', '.join(map(repr, rare))} have fewer than 2 training examples; "
            "add examples, or merge or drop those labels before comparing"
        )


def _check_sizes(sizes: Sequence[int], labels: Sequence[str]) -> None:
    """A training size smaller than the number of classes leaves a class out: one line, before any run."""
    small = [n for n in sizes if n < len(labels)]
    if small:
        raise LlmdiscError(
            f"size {small[0]} is smaller than the {len(labels)} classes: every class needs an example; "
            f"use sizes of at least {len(labels)}"
        )
