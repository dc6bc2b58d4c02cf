"""Scratch arrays that the timing model reuses from one launch to the next.

A launch's intermediate arrays (its line stream, its per-event counts) live only while ``estimate`` runs.
Fresh ones cost a page fault per 4 KiB the first time they are written (a few microseconds each on a
virtual machine, more than the arithmetic done on them), and the C allocator hands such large blocks back
to the system when they are freed, so every launch faulted them in again: 62k faults, a quarter of the
timing model's time, over the 26 tables of ``benchmarks/emulator_speed.py``. Each thread keeps one array
per purpose and grows it as needed, so the pages stay mapped; what that holds is the largest launch's
intermediates, per thread that ran one.
"""
from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def scratch(purpose: str, size: int, dtype: type | np.dtype) -> np.ndarray:
    """``size`` elements of ``dtype``, uninitialized, valid until this thread asks for ``purpose`` again."""
    buffers: dict[str, np.ndarray] = _local.__dict__.setdefault("buffers", {})
    buffer = buffers.get(purpose)
    dtype = np.dtype(dtype)
    if buffer is None or buffer.dtype != dtype or buffer.size < size:
        buffer = np.empty(max(size, 2 * buffer.size if buffer is not None and buffer.dtype == dtype else 0), dtype)
        buffers[purpose] = buffer
    return buffer[:size]


def zeroed(purpose: str, size: int, dtype: type | np.dtype) -> np.ndarray:
    """``scratch`` filled with zeros."""
    out = scratch(purpose, size, dtype)
    out.fill(0)
    return out
