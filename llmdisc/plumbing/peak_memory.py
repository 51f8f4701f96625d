"""The peak memory of a block of code, sampled while it runs (a comparison's cost columns)."""

from __future__ import annotations

import threading
import time
from typing import Any

import psutil

__all__ = ["PeakRSS"]


class PeakRSS:
    """Context manager: the peak memory of this process while the block runs.

    RSS is sampled every 20 ms in a thread: the kernel's own high-water mark (VmHWM) spans the
    process's whole life, and several approaches run in one process. ``peak_mib`` includes what
    the process held at entry (so it depends on what ran before); ``increase_mib`` is the peak
    minus the RSS at entry, closer to what the block itself needed. On a GPU, ``gpu_peak_mib``
    is torch's peak allocated memory during the block (None without CUDA).
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval, self.peak_mib, self.increase_mib, self.gpu_peak_mib = interval, 0.0, 0.0, None
        self._process, self._done = psutil.Process(), threading.Event()

    def _sample(self) -> None:
        while not self._done.is_set():
            self._peak = max(self._peak, self._process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        import torch

        self._start = self._peak = self._process.memory_info().rss
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        import torch

        self._done.set()
        self._thread.join()
        self._peak = max(self._peak, self._process.memory_info().rss)
        self.peak_mib, self.increase_mib = self._peak / 2**20, (self._peak - self._start) / 2**20
        if torch.cuda.is_available():
            self.gpu_peak_mib = torch.cuda.max_memory_allocated() / 2**20
