"""Several processes, one result: the little that llmdisc needs to run under ``accelerate launch``.

``accelerate launch --multi_gpu --num_processes N script`` (or ``torchrun``) starts N copies of
the same program. Trainer already trains data-parallel across them; this module makes the rest
behave:

* :func:`map_batches` splits batched inference (log-likelihood scoring, zero-shot and encoder
  prediction) across the processes and gathers the results back, in their original order, on
  every process. Batch ``i`` goes to process ``i % N`` and is computed exactly as one process
  computes it, so the results equal the single-process ones bit for bit.
* :func:`is_main_process` and :func:`barrier` let only the main process save and print.
* :func:`on_its_own`, :func:`own_gpu_only` and :func:`group_joined` serve work that is shared out
  by whole units instead (the cells of ``llmdisc compare``): each process computes its units as
  a program of its own, on its own GPU, and the processes meet once at the end to gather.

Not launched that way (no ``WORLD_SIZE`` > 1 and no process group), every function returns at
once without importing or initialising anything: single-process runs behave as before.

Every process must make the same calls in the same order (they are collective): score on all
processes, then let the main one write.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import torch

__all__ = [
    "world_size",
    "rank",
    "local_rank",
    "is_main_process",
    "barrier",
    "broadcast_object",
    "gather_object",
    "group_joined",
    "map_batches",
    "on_its_own",
    "own_gpu_only",
    "process_device",
    "shows_progress",
]

logger = logging.getLogger(__name__)

X = TypeVar("X")
Y = TypeVar("Y")

# What torchrun / accelerate launch (WORLD_SIZE) and MPI launchers set.
_SIZE_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
_RANK_VARS = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
_LOCAL_RANK_VARS = ("LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "MV2_COMM_WORLD_LOCAL_RANK")
# Everything a launcher sets that tells a library (Trainer, accelerate) it is one of several.
_LAUNCH_VARS = (
    _SIZE_VARS
    + _RANK_VARS
    + _LOCAL_RANK_VARS
    + ("LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE", "ROLE_RANK", "ROLE_WORLD_SIZE")
)
# This process's rank while on_its_own hides it (None otherwise).
_rank_on_its_own: int | None = None
#: How long :func:`group_joined` waits for the slowest process: a grid's share may take days.
JOIN_TIMEOUT = datetime.timedelta(days=7)


def _env_int(names: Sequence[str], default: int) -> int:
    for name in names:
        if os.environ.get(name, "").strip():
            return int(os.environ[name])
    return default


def _initialized() -> bool:
    # No process group can exist before torch is imported; asking then would import torch for
    # nothing (seconds) in every single-process command.
    torch = sys.modules.get("torch")
    return torch is not None and torch.distributed.is_available() and torch.distributed.is_initialized()


def world_size() -> int:
    """How many processes run this program (1 when not launched with several)."""
    if _initialized():
        return sys.modules["torch"].distributed.get_world_size()
    return _env_int(_SIZE_VARS, 1)


def rank() -> int:
    """This process's global index (0 is the main process)."""
    if _initialized():
        return sys.modules["torch"].distributed.get_rank()
    return _env_int(_RANK_VARS, 0)


def local_rank() -> int:
    """This process's index on its machine (which GPU it uses)."""
    return _env_int(_LOCAL_RANK_VARS, 0)


def is_main_process() -> bool:
    """Whether this is the process that saves, uploads and prints."""
    return rank() == 0


def process_device() -> torch.device:
    """The device a model should sit on in this process: its own GPU when there are GPUs."""
    import torch

    return torch.device("cuda", local_rank()) if torch.cuda.is_available() else torch.device("cpu")


def _ensure_group() -> bool:
    """Join the process group (gloo on CPU, nccl on GPUs) if several processes run; return whether they do."""
    if _initialized():
        return sys.modules["torch"].distributed.get_world_size() > 1
    if _env_int(_SIZE_VARS, 1) <= 1:
        return False  # one process: torch stays unimported (savers of classical models need none)
    import torch

    # accelerate's PartialState reads every launcher's variables and picks the backend. On a
    # machine without GPUs it must be told cpu=True, or it sees no backend and stays single.
    from accelerate import PartialState

    PartialState(cpu=not torch.cuda.is_available())
    return _initialized() and torch.distributed.get_world_size() > 1


def barrier() -> None:
    """Wait until every process gets here (no-op in a single process)."""
    if _ensure_group():
        import torch  # already loaded by _ensure_group

        torch.distributed.barrier()


def broadcast_object(obj: X) -> X:
    """The main process's ``obj`` on every process (``obj`` itself in a single process)."""
    if not _ensure_group():
        return obj
    import torch  # already loaded by _ensure_group

    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def gather_object(obj: X) -> list[X]:
    """Every process's ``obj``, in rank order, on every process (``[obj]`` in a single process)."""
    if not _ensure_group():
        return [obj]
    import torch  # already loaded by _ensure_group

    out: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(out, obj)
    return out


def map_batches(fn: Callable[[X], Y], batches: Sequence[X]) -> list[Y]:
    """``[fn(b) for b in batches]``, with the batches shared out among the processes.

    Args:
        fn: computes one batch's result, which must be picklable (results travel between
            processes; ``fn`` itself does not).
        batches: the batches, identical on every process.

    Returns:
        Every batch's result in the order of ``batches``, on every process.
    """
    if not _ensure_group():
        return [fn(b) for b in batches]
    import torch  # already loaded by _ensure_group

    me, size = torch.distributed.get_rank(), torch.distributed.get_world_size()
    # Round-robin: with batches sorted longest first, every process gets a similar share of work.
    mine = {i: fn(batches[i]) for i in range(me, len(batches), size)}
    merged: dict[int, Y] = {}
    for part in gather_object(mine):
        merged.update(part)
    return [merged[i] for i in range(len(batches))]


@contextlib.contextmanager
def on_its_own() -> Iterator[None]:
    """While the block runs, this process works as a program of its own.

    The launcher's variables (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``...) are hidden, so Trainer
    trains here alone (no data-parallel group), :func:`map_batches` computes every batch and
    ``device: auto`` is the first visible GPU; they are back after the block, for
    :func:`group_joined`. Call it before any process group exists.
    """
    if _initialized():
        from llmdisc.errors import LlmdiscError

        raise LlmdiscError(
            "this process already joined a process group; work shared out by whole units "
            "must start before anything trains or scores data-parallel"
        )
    global _rank_on_its_own
    _rank_on_its_own = rank()
    hidden = {name: os.environ.pop(name) for name in _LAUNCH_VARS if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(hidden)
        _rank_on_its_own = None


def shows_progress() -> bool:
    """Whether this process draws progress bars: the main one only, even while :func:`on_its_own`
    makes every process its own main process (to save, each its own checkpoints)."""
    return (rank() if _rank_on_its_own is None else _rank_on_its_own) == 0


def own_gpu_only() -> None:
    """Leave this process only its own GPU visible (``CUDA_VISIBLE_DEVICES``), under several processes.

    In one process Trainer takes every visible GPU (``DataParallel``) and ``auto`` means
    ``cuda:0``; with one GPU visible, both mean this process's GPU (``LOCAL_RANK``, shared
    round-robin when there are more processes than GPUs). CUDA reads the variable once, when it
    starts: call this before anything asks torch about GPUs.
    """
    if world_size() <= 1:
        return
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        gpus = [g.strip() for g in visible.split(",") if g.strip()]
    else:
        import torch

        # NVML counts the GPUs without starting CUDA (which would fix the visible set for good).
        count = torch.cuda._device_count_nvml() if torch.cuda._is_compiled() else 0
        gpus = [str(i) for i in range(max(count, 0))]
    if not gpus:
        return  # CPUs only
    if local_rank() >= len(gpus):
        logger.warning(
            "more processes than GPUs on this machine: process %d shares GPU %s",
            local_rank(),
            gpus[local_rank() % len(gpus)],
        )
    os.environ["CUDA_VISIBLE_DEVICES"] = gpus[local_rank() % len(gpus)]


@contextlib.contextmanager
def group_joined(timeout: datetime.timedelta = JOIN_TIMEOUT) -> Iterator[bool]:
    """Join the processes' group for the block (gloo, from the launcher's variables); yield whether several run.

    For processes that worked :func:`on_its_own` and meet to gather their results: the main
    process may wait here for hours while the others finish their share, hence the long
    ``timeout``. In the block, :func:`gather_object` and :func:`barrier` use this group; it is
    left after it (a group that existed before is kept).
    """
    if _initialized():
        yield sys.modules["torch"].distributed.get_world_size() > 1
        return
    if _env_int(_SIZE_VARS, 1) <= 1:
        yield False
        return
    import torch

    # gloo, even on GPUs: only pickled Python objects travel, and they need no GPU.
    torch.distributed.init_process_group("gloo", timeout=timeout)
    try:
        yield torch.distributed.get_world_size() > 1
    finally:
        torch.distributed.destroy_process_group()
