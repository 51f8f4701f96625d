"""Compare approaches on the same splits, over training-set sizes and seeds, with a disk cache.

The grid is (approach, size, seed). For one seed, the subset of each size is the same for every
approach and nested across sizes (:func:`~llmdisc.data.subsets.stratified_subset`), so learning curves
compare like with like. An approach whose ``fit`` does not learn from examples (zero-shot
scoring) is run once and drawn as a flat line; one whose prompt nobody chose first picks it on the
comparison's smallest training subset (first seed), which every trained approach sees too
(:meth:`~llmdisc.classifiers.TextClassifier.prompt_pick`).

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
import logging
import shutil
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from llmdisc.api.records import Costs, Predictions, RunRecord
from llmdisc.classifiers import TextClassifier, get_classifier, get_classifier_class
from llmdisc.classifiers.calibration import CALIBRATION_METHODS
from llmdisc.comparison.costs import SAMPLE, prediction_cost, training_cost
from llmdisc.comparison.evaluation import evaluate_classifier, robustness_probabilities
from llmdisc.comparison.progress import GridProgress
from llmdisc.comparison.run_cache import Cell, RunCache
from llmdisc.comparison.settings import CompareSettings, check_verdict_settings, lead_split
from llmdisc.comparison.shards import Share, parse_shard
from llmdisc.comparison.synthetic_data import label_counts, parse_synthetic, synthetic_subset
from llmdisc.data.loading import label_names
from llmdisc.data.subsets import data_fingerprint, stratified_subset, subset_hash
from llmdisc.errors import LlmdiscError, first_line
from llmdisc.lm.likelihood_cache import shared_likelihoods
from llmdisc.lm.prompts import check_task, label_words_note, label_words_warning, with_data_settings
from llmdisc.plumbing import distributed
from llmdisc.plumbing.atomic_files import temp_root
from llmdisc.plumbing.config import replace_config
from llmdisc.plumbing.locks import FolderLock, claim
from llmdisc.plumbing.peak_memory import PeakRSS

if TYPE_CHECKING:
    import datasets

__all__ = ["PICK_AT_MOST", "CompareSettings", "compare", "normalise_approaches", "parse_sizes"]

logger = logging.getLogger(__name__)

#: The majority-class approach every comparison holds (unless ``baseline: false``).
BASELINE = "majority"
# The most training examples a zero-shot run picks its prompt on: each is scored once per candidate
# template, and a smallest size of "all" would score every training text (SST-2: 67,349 x 4); 128
# already pick the template a named task would give (benchmarks/RESULTS.md, "Zero-shot picks its prompt").
PICK_AT_MOST = 128


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


@dataclass
class _Grid:
    """What every cell of one comparison shares: the data, where it is evaluated, the extras."""

    data: datasets.DatasetDict
    splits: list[str]
    selection: datasets.Dataset | None  # passed to fit as eval; the temperature is fitted on it
    calibration: str
    verbalizers: Mapping[str, str] | None
    robustness: dict[str, Any] | None  # the damaged split: name, rates, seed, its subset and positions
    sample: list[str]  # the texts every approach's prediction cost is timed on (comparison.costs)

    @property
    def train(self) -> datasets.Dataset:
        return self.data["train"]


def compare(
    approaches: Mapping[str, Mapping[str, Any] | None] | Sequence[str] | str,
    data: datasets.DatasetDict,
    settings: CompareSettings | None = None,
    **overrides: Any,
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
        settings: the :class:`~llmdisc.comparison.settings.CompareSettings` (their defaults when
            None; each field's help says what it does). Notes on some of them:
            ``sizes`` larger than the training set are capped; each of ``seeds`` draws its own
            subsets and seeds the approaches that take one; the robustness curve is measured at
            each approach's largest size with the first seed; ``selection_split`` may not be the
            split the report leads with (``test`` when evaluated, else the first split), since
            numbers there would flatter the approaches that pick on it; ``holdout`` holds that
            many stratified training examples out as the selection split; ``calibration`` is
            ``temperature`` (one temperature per trained run, fitted on the selection split; see
            :meth:`~llmdisc.classifiers.TextClassifier.calibrate`), ``platt`` / ``isotonic``
            (scikit-learn's, which can change predictions), ``auto`` (the lowest cross-validated
            log loss of the three, per run) or ``none``; ``verbalizers`` and ``task`` reach every
            approach that scores label words (its own settings win); ``shard`` (``"I/N"``) runs
            slice I of N of the grid, cached in ``output_dir`` for a later ``resume`` without it
            to merge (under ``accelerate launch`` the processes share the cells of the slice,
            and every process returns them all).
        **overrides: any field of the settings, replacing its value (``sizes=[8, 32, "all"]``);
            an unknown one is an error.

    Returns:
        One :class:`~llmdisc.api.records.RunRecord` per (approach, size, seed, split) (of the slice), with
        ``status`` ``failed`` and the ``error`` for a run that raised, and ``robustness``
        (drop rate -> accuracy) on the robustness split's record of the largest size.
    """
    settings = replace_config(settings if settings is not None else CompareSettings(), overrides)
    share = Share(parse_shard(settings.shard), distributed.rank(), distributed.world_size())
    if not share.whole and settings.output_dir is None:
        raise LlmdiscError(
            f"{share.describe()}: the processes share the grid through the output folder; "
            "give an --output-dir that all of them reach"
        )
    distributed.own_gpu_only()  # before anything below asks torch about GPUs
    grid, numbers, notes = _prepare(data, settings)
    plan = _plan(approaches, settings, numbers, grid.train, notes)
    manifest = {
        "data": data_fingerprint(grid.data),
        "splits": grid.splits,
        "selection_split": settings.selection_split if not settings.holdout else "holdout",
        "calibration": settings.calibration,
        "robustness": {k: v for k, v in (grid.robustness or {}).items() if k not in ("data", "index")}
        | {"examples": settings.robustness_examples},
    }
    with _holding(settings.output_dir, shared=not share.whole):
        # Only a valid plan claims the folder: a refused setting must not leave a comparison.json
        # that makes the corrected command ask for --resume.
        cache = RunCache(settings.output_dir, manifest, settings.resume, settings.overwrite, shared=not share.whole)
        records = _run_grid(plan, grid, cache, share)
    if notes:
        for record in records:
            record.notes = "; ".join(notes)
    return records


def _prepare(data: datasets.DatasetDict, settings: CompareSettings) -> tuple[_Grid, list[int], list[str]]:
    """Check the settings against the data, one line for the first problem, before any run.

    Returns:
        (what the cells share, the training sizes as numbers, notes for the report).
    """
    selection_split = settings.selection_split
    if settings.holdout:
        from llmdisc.data.subsets import hold_out

        data, selection_split = hold_out(data, settings.holdout, settings.seed), "holdout"
    splits = [s for s in settings.splits if s in data]
    if not splits:
        raise LlmdiscError(f"none of the splits to evaluate is in the data; it has: {', '.join(data)}")
    if settings.seeds < 1:
        raise LlmdiscError(f"seeds must be at least 1, got {settings.seeds}")
    if settings.calibration not in CALIBRATION_METHODS:
        raise LlmdiscError(
            f"unknown calibration '{settings.calibration}'; use one of {', '.join(CALIBRATION_METHODS)}"
        )
    lead, labels = lead_split(splits), label_names(data["train"])
    if selection_split is not None and selection_split == lead and selection_split in data:
        raise LlmdiscError(
            f"the selection split '{selection_split}' is the split the report leads with: checkpoints and "
            "temperatures picked on it would flatter the approaches that pick; hold out training "
            "examples (--holdout 500), name another --selection-split, or --selection-split none"
        )
    bad = [r for r in settings.drop_rates if not 0 <= r < 1]
    if bad:
        raise LlmdiscError(f"drop rates must be in [0, 1), got {bad[0]}")
    check_verdict_settings(settings, data[lead]["label"], labels, lead)
    _check_classes(data["train"])
    numbers, notes = parse_sizes(settings.sizes, len(data["train"]))
    _check_sizes(numbers, labels)
    for note in notes:
        logger.warning(note)
    selection = data[selection_split] if selection_split in data else None
    robustness = _robustness_split(data, splits, settings) if settings.drop_rates else None
    sample = list(data[lead]["text"][:SAMPLE])
    grid = _Grid(data, splits, selection, settings.calibration, settings.verbalizers, robustness, sample)
    return grid, numbers, notes


def _robustness_split(data: datasets.DatasetDict, splits: list[str], settings: CompareSettings) -> dict[str, Any]:
    """The split whose words are dropped: its (subset's) texts, their positions, the rates and seed."""
    split = settings.robustness_split if settings.robustness_split in splits else splits[-1]
    # The subset's positions in the split, so that its per-example rows name their examples.
    indexed = stratified_subset(
        data[split].add_column("_llmdisc_index", list(range(len(data[split])))),
        settings.robustness_examples,
        settings.seed,
    )
    return {
        "split": split,
        "rates": [float(r) for r in settings.drop_rates],
        "seed": settings.seed,
        "index": np.asarray(indexed["_llmdisc_index"]),
        "data": indexed.remove_columns("_llmdisc_index"),
    }


@contextlib.contextmanager
def _holding(output_dir: str | Path | None, shared: bool) -> Iterator[None]:
    """Hold the output folder's lock, with temporary folders in OUTPUT_DIR/tmp.

    The lock stops a second comparison on the same folder from computing the whole grid again;
    the lock of a killed one is taken over. Temporary folders (a Trainer's checkpoints) go in
    OUTPUT_DIR/tmp, where the next comparison, once its cache accepts the folder, removes what a
    killed one left. A comparison refused in one line (settings that do not match the cache, no
    --resume...) changes nothing there: it removes neither tmp/ nor a folder it created.
    """
    if output_dir is None:
        yield
        return
    folder = Path(output_dir)
    if folder.exists() and not folder.is_dir():
        raise LlmdiscError(f"--output-dir {output_dir} is a file; pass a folder")
    tmp = folder / "tmp"
    if shared:
        # Shared by several processes: each cell is claimed instead, and each process's
        # checkpoints carry its tag (temp_dir removes only those of dead processes).
        with temp_root(tmp):
            yield
        return
    # The first folder of the path that does not exist yet (None: all do): a refusal removes it again.
    path = folder.absolute()
    created = next((p for p in [*reversed(path.parents), path] if not p.exists()), None)
    try:
        with FolderLock(output_dir), temp_root(tmp):
            try:
                yield
            except LlmdiscError:
                raise  # refused before any cell ran: tmp/ stays (RunCache clears it once it accepts the folder)
            except BaseException:
                _clear_scratch(folder)
                raise
            _clear_scratch(folder)
    except LlmdiscError:
        if created is not None:  # a refused comparison leaves no empty folder behind
            _remove_empty_folders(created)
        raise


def _clear_scratch(output_dir: Path) -> None:
    """Remove OUTPUT_DIR/tmp and the empty folders of OUTPUT_DIR/claims (a claim another run holds stays)."""
    shutil.rmtree(output_dir / "tmp", ignore_errors=True)
    _remove_empty_folders(output_dir / "claims")


def _run_grid(plan: list[Cell], grid: _Grid, cache: RunCache, share: Share) -> list[RunRecord]:
    """Run this process's cells that are not cached; return the records of the slice, in plan order."""
    positions = share.slice(range(len(plan)))
    # Look every cached cell up before running anything: a refusal comes at once, not hours in.
    cached = {p: cache.get(plan[p]) for p in positions}
    for p in positions:
        if cached[p] is not None:
            logger.debug("%s, %s: cached", plan[p].name, plan[p].label)
    todo = [p for p in share.mine(range(len(plan))) if cached[p] is None]
    if not share.whole:
        mine = len(share.mine(range(len(plan))))
        logger.info("%s: %d of the grid's %d cells, %d of them to run", share.describe(), mine, len(plan), len(todo))
    ran: dict[int, list[RunRecord] | None] = {}
    alone = distributed.on_its_own() if share.processes > 1 else contextlib.nullcontext()
    with GridProgress([plan[p] for p in todo]) as progress, alone, shared_likelihoods(cache.folder):
        for p in todo:
            ran[p] = _run_claimed(plan[p], grid, cache, progress)
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
    return records


def _run_claimed(cell: Cell, grid: _Grid, cache: RunCache, progress: GridProgress) -> list[RunRecord] | None:
    """Run one cell holding its claim, cache it if it succeeded; None when another run holds the claim."""
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
        subset = _train_subset(cell, grid.train, cache.folder, grid.verbalizers)
        start = time.perf_counter()
        done = _run_cell(cell, subset, grid)
        progress.end(cell, time.perf_counter() - start)
        if all(r.ok for r in done):
            cache.put(cell, done)  # failures are retried on resume
        return done
    finally:
        if lock is not None:
            lock.release()


def _run_cell(cell: Cell, train: datasets.Dataset, grid: _Grid) -> list[RunRecord]:
    """Train one approach on one subset, calibrate it on the selection split (trained approaches,
    when ``calibration`` is not ``none``), and evaluate it on every split; failures become records."""
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
        train_subset=subset_hash(train) if cell.size is not None or cell.pick else None,
        generator=cell.synthetic.model if cell.synthetic else None,
    )
    try:
        with PeakRSS() as memory:
            clf = get_classifier(cell.registered, **config)
            clf.fit(train, eval=grid.selection)
            if grid.calibration != "none" and grid.selection is not None and clf.uses_training_data:
                clf.calibrate(grid.selection, method=grid.calibration)
            records = [_evaluated(cell, clf, grid, split, base) for split in grid.splits]
        # After the peak-memory window: the repeats are the measurement, not the run.
        train_cost = training_cost(
            clf,
            lambda: get_classifier(cell.registered, **config).fit(train, eval=grid.selection),
            extra=cell.generation_seconds,
        )
        predict_cost = prediction_cost(clf, grid.sample)
        for record in records:
            record.costs.peak_rss_mib = round(memory.peak_mib, 1)
            record.costs.rss_increase_mib = round(memory.increase_mib, 1)
            if memory.gpu_peak_mib is not None:
                record.costs.peak_gpu_mib = round(memory.gpu_peak_mib, 1)
            record.costs.load_seconds = clf.info.load_seconds
            record.costs.train_warm_seconds, record.costs.train_spread_seconds = train_cost
            record.costs.predict_ms, record.costs.predict_spread_ms = predict_cost
    except Exception as e:  # one approach failing must not sink the comparison
        message = first_line(e)
        logger.error("%s failed: %s", cell.name, message)
        if not isinstance(e, LlmdiscError):
            logger.debug("".join(traceback.format_exception(e)))
        records = [RunRecord(**base, split=split, status="failed", error=message) for split in grid.splits]
    return records


def _evaluated(cell: Cell, clf: TextClassifier, grid: _Grid, split: str, base: dict[str, Any]) -> RunRecord:
    """The record of a trained classifier on one split (with its robustness curve where it is measured)."""
    e = evaluate_classifier(clf, grid.data[split])
    gold = np.asarray(grid.data[split]["label"])
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
        template_accuracy=_template_accuracy(clf, grid.data[split]),
    )
    robustness = grid.robustness
    if cell.robustness and robustness and split == robustness["split"]:
        # Rate 0 is the split itself: its probabilities were just computed.
        undamaged = e.probabilities[robustness["index"]]
        damaged = robustness_probabilities(
            clf, robustness["data"], robustness["rates"], robustness["seed"], undamaged=undamaged
        )
        gold = np.asarray(robustness["data"]["label"])
        record.robustness = {k: float((p.argmax(axis=1) == gold).mean()) for k, p in damaged.items()}
        record.robustness_per_example = {
            k: Predictions(robustness["index"], gold, p.astype(np.float32)) for k, p in damaged.items()
        }
    return record


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
    """The cell's training set: all of ``train`` (zero-shot), the subset a zero-shot run picks its
    prompt on, its stratified subset, or as many synthetic texts per label as that subset holds (see
    :mod:`~llmdisc.comparison.synthetic_data`; their share of the generation time is set on the cell, to
    count as training time)."""
    if cell.pick:
        return stratified_subset(train, *cell.pick)
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


def _plan(
    approaches: Any, settings: CompareSettings, numbers: list[int], train: datasets.Dataset, notes: list[str]
) -> list[Cell]:
    """The grid's cells, approach by approach; ``notes`` gets a line for each capped size and
    one saying which label words the likelihood approaches score.

    A zero-shot run that picks its prompt picks it on the smallest size any cell trains at (the
    global smallest when none does; at most :data:`PICK_AT_MOST`), first seed: it never sees more
    labelled examples than a trained approach does, and its subset is nested in theirs.

    Every approach is built from its config and checked against the labels here, before any
    run: an unknown key, a wrong type, an unknown model, a bad template or a verbalizer naming
    an unknown label is a one-line error naming the approach.
    """
    labels = label_names(train)
    if settings.verbalizers:  # checked once, before any approach names it
        from llmdisc.lm.label_likelihood import resolve_verbalizers

        resolve_verbalizers(labels, settings.verbalizers)
    check_task(settings.task)
    plan: list[Cell] = []
    scored: dict[str, list[str] | None] = {}
    entries = normalise_approaches(approaches)
    if settings.baseline and not any(c.get("approach", name) == BASELINE for name, c in entries.items()):
        entries[BASELINE] = {}  # the floor under every verdict: free, so always there
    for name, config in entries.items():
        try:
            clf, cells = _cells(name, dict(config), settings, numbers, train, notes)
        except LlmdiscError as e:
            raise LlmdiscError(f"approach '{name}': {e}") from None
        scored[name] = clf.label_words(labels)
        plan += cells
    smallest = min(PICK_AT_MOST, min((c.size for c in plan if c.size is not None), default=numbers[0]))
    for cell in plan:
        if cell.pick:
            cell.pick = (smallest, settings.seed)
    warning, note = label_words_warning(labels, scored), label_words_note(labels, scored)
    if warning:  # one line before the first run, for the whole grid
        logger.warning(warning)
    if note:
        notes.append(note)
    return plan


def _cells(
    name: str,
    config: dict[str, Any],
    settings: CompareSettings,
    numbers: list[int],
    train: datasets.Dataset,
    notes: list[str],
) -> tuple[TextClassifier, list[Cell]]:
    """One approach's entry: its classifier, built and checked against the labels, and its cells."""
    labels = label_names(train)
    # Comparison options an approach's entry may carry, besides its own settings.
    registered = config.pop("approach", name)
    if "sizes" in config:
        numbers, own_notes = parse_sizes(config.pop("sizes"), len(train))
        _check_sizes(numbers, labels)
        for note in own_notes:
            logger.warning("%s: %s", name, note)
            notes.append(f"{name}: {note}")
    seeds = int(config.pop("seeds", settings.seeds))
    cls = get_classifier_class(registered)
    synthetic = parse_synthetic(config.pop("synthetic", None), cls.uses_training_data)
    if cls.scores_label_words:
        config = with_data_settings(config, settings.verbalizers, settings.task)
    clf = get_classifier(registered, **config)
    clf.check(labels, sizes=numbers if clf.uses_training_data else ())
    if not clf.uses_training_data:
        pick = clf.prompt_pick()
        if pick:  # nobody chose the prompt: it is picked on training examples (the size is set by _plan)
            config = {**config, **pick}
            clf = get_classifier(registered, **config)
            clf.check(labels)
        at = (numbers[0], settings.seed) if pick else None
        return clf, [Cell(name, registered, type(clf), clf.paradigm, config, None, None, robustness=True, pick=at)]
    first = settings.seed
    cells = [
        Cell(
            name,
            registered,
            type(clf),
            clf.paradigm,
            config,
            n,
            s,
            robustness=(n == numbers[-1] and s == first),
            synthetic=synthetic,
            largest=numbers[-1],
        )
        for s in range(first, first + seeds)
        for n in numbers
    ]
    return clf, cells


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
