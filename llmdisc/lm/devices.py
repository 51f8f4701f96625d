"""Where a model runs and in what precision: the one place that decides.

Every neural approach, ``llmdisc score`` and ``llmdisc generate`` take ``device`` and ``dtype``
settings; :func:`resolve_device` and :func:`resolve_dtype` turn them into torch objects:

* ``device: auto`` (the default) is the first CUDA GPU, else Apple's MPS, else the CPU. Under
  ``accelerate launch`` / ``torchrun`` (several processes), ``auto`` and ``cuda`` mean the
  process's own GPU (``cuda:LOCAL_RANK``), so each process holds its own copy of the model.
* ``dtype: auto`` is bfloat16 on a CUDA GPU that supports it and float32 everywhere else (MPS
  and older GPUs included: float16 overflows where bfloat16 does not, so it is never chosen
  for you).

A device that is not there (``cuda`` on a machine without a GPU) or a dtype the device cannot
run (bfloat16 on a GPU without it, float16 on the CPU) is a one-line
:class:`~llmdisc.errors.LlmdiscError`, raised by :func:`check_placement` before any model loads.

torch is imported inside the functions: ``import llmdisc`` stays light.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmdisc.errors import LlmdiscError
from llmdisc.plumbing.distributed import local_rank, world_size

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEVICES",
    "DTYPES",
    "Placement",
    "check_placement",
    "device_field",
    "dtype_field",
    "resolve_device",
    "resolve_dtype",
    "model_placement",
    "place_for_inference",
    "resolve_placement",
]

#: What ``device`` accepts (``cuda:N`` too).
DEVICES = ("auto", "cuda", "mps", "cpu")
#: What ``dtype`` accepts.
DTYPES = ("auto", "float32", "bfloat16", "float16")


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str = "auto") -> torch.device:
    """The torch device that ``device`` names on this machine, in this process.

    Args:
        device: ``auto``, ``cuda``, ``cuda:N``, ``mps`` or ``cpu``.

    Returns:
        The device. Under several processes, ``auto`` and ``cuda`` give ``cuda:LOCAL_RANK``.
    """
    import torch

    name = (device or "auto").strip().lower()
    several = world_size() > 1
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank() if several else 0)
        if _mps_available() and not several:  # MPS is one device: several processes cannot share it
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if match:
        if not torch.cuda.is_available():
            raise LlmdiscError(
                f"device '{device}' asked for, but torch sees no CUDA GPU on this machine; use --device auto or cpu"
            )
        index = int(match.group(1)) if match.group(1) is not None else (local_rank() if several else 0)
        count = torch.cuda.device_count()
        if index >= count:
            raise LlmdiscError(
                f"device '{device}' asked for, but this machine has {count} CUDA GPU(s) (cuda:0 to cuda:{count - 1})"
            )
        return torch.device("cuda", index)
    if name == "mps":
        if not _mps_available():
            raise LlmdiscError(
                "device 'mps' asked for, but Apple's MPS backend is not available here; use --device auto or cpu"
            )
        return torch.device("mps")
    raise LlmdiscError(f"unknown device '{device}'; use one of {', '.join(DEVICES)} (or cuda:N)")


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """The torch dtype that ``dtype`` names for a model on ``device``.

    Args:
        dtype: ``auto``, ``float32``, ``bfloat16`` or ``float16``.
        device: where the model runs (from :func:`resolve_device`).

    Returns:
        The dtype; ``auto`` is bfloat16 on a CUDA GPU that supports it, else float32.
    """
    import torch

    name = (dtype or "auto").strip().lower()
    if name not in DTYPES:
        raise LlmdiscError(f"unknown dtype '{dtype}'; use one of {', '.join(DTYPES)}")
    cuda = device.type == "cuda"
    bf16_gpu = cuda and torch.cuda.is_bf16_supported()
    if name == "auto":
        return torch.bfloat16 if bf16_gpu else torch.float32
    if name == "bfloat16" and cuda and not bf16_gpu:
        raise LlmdiscError(
            f"dtype bfloat16 asked for, but the GPU on {device} does not support it; use float16 or float32"
        )
    if name == "float16" and device.type == "cpu":
        # Many CPU kernels have no float16 version, and those that do are slow: bfloat16 is the
        # CPU's half precision.
        raise LlmdiscError("dtype float16 cannot run on the CPU; use bfloat16 or float32 there")
    return getattr(torch, name)


@dataclass(frozen=True)
class Placement:
    """A resolved device and dtype, with the names that run records store."""

    device: torch.device
    dtype: torch.dtype

    @property
    def device_name(self) -> str:
        """``cpu``, ``mps`` or ``cuda:N``."""
        return str(self.device)

    @property
    def dtype_name(self) -> str:
        """``float32``, ``bfloat16`` or ``float16``."""
        return str(self.dtype).removeprefix("torch.")

    @property
    def half(self) -> bool:
        """Whether the model computes in 16-bit precision."""
        return self.dtype_name != "float32"


def resolve_placement(device: str = "auto", dtype: str = "auto") -> Placement:
    """:func:`resolve_device` and :func:`resolve_dtype` in one call."""
    where = resolve_device(device)
    return Placement(where, resolve_dtype(dtype, where))


def check_placement(device: str = "auto", dtype: str = "auto") -> None:
    """Fail in one line, before any model loads, on a device or dtype that cannot be used here.

    The names are checked without torch (fast, for the CLI); only a valid name imports it.
    """
    name = (device or "auto").strip().lower()
    if name not in DEVICES and not re.fullmatch(r"cuda:\d+", name):
        raise LlmdiscError(f"unknown device '{device}'; use one of {', '.join(DEVICES)} (or cuda:N)")
    if (dtype or "auto").strip().lower() not in DTYPES:
        raise LlmdiscError(f"unknown dtype '{dtype}'; use one of {', '.join(DTYPES)}")
    resolve_placement(device, dtype)


def device_field():
    """The ``device`` setting of an approach or command (a dataclass field)."""
    from llmdisc.plumbing.config import arg

    return arg("auto", "where the model runs: auto (CUDA, then MPS, then CPU), cuda, cuda:N, mps or cpu")


def dtype_field():
    """The ``dtype`` setting of an approach or command (a dataclass field)."""
    from llmdisc.plumbing.config import arg

    return arg(
        "auto", "precision: auto (bfloat16 on GPUs that support it, else float32), float32, bfloat16 or float16"
    )


def model_placement(model) -> tuple[str, str]:
    """``(device, dtype)`` names of where a loaded torch model's weights are, for run records."""
    parameter = next(iter(model.parameters()), None)
    if parameter is None:
        return "cpu", "float32"
    return str(parameter.device), str(parameter.dtype).removeprefix("torch.")


def place_for_inference(model, device: str = "auto", dtype: str = "auto"):
    """Move a trained (or reloaded) model to its device and precision for prediction; return it.

    Training keeps float32 weights (mixed precision); prediction runs in the dtype asked for.
    """
    placement = resolve_placement(device, dtype)
    return model.to(device=placement.device, dtype=placement.dtype)
