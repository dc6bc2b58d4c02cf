"""Scratch arrays that the timing model reuses from one launch to the next.

A launch's intermediate arrays (its line stream, its per-event counts) live only while ``estimate`` runs.
Fresh ones cost a page fault per 4 KiB the first time they are written (a few microseconds each on a
virtual machine, more than the arithmetic done on them), and the C allocator hands such large blocks back
to the system when they are freed, so every launch faulted them in again: 62k faults, a quarter of the
timing model's time, over the 26 tables of ``benchmarks/emulator_speed.py``. Each thread keeps one array
per purpose and grows it as needed, so the pages stay mapped. It keeps at most ``RETAINED_BYTES`` in all
(a DLRM table of 40k lookups keeps 14 MiB); a launch too big for that gets fresh arrays, whose page
faults are then small beside the rest of its work.
"""
from __future__ import annotations

import threading

import numpy as np

RETAINED_BYTES = 64 << 20       # per thread

_local = threading.local()


def _buffers() -> dict[str, np.ndarray]:
    return _local.__dict__.setdefault("buffers", {})


def scratch(purpose: str, size: int, dtype: type | np.dtype) -> np.ndarray:
    """``size`` elements of ``dtype``, uninitialized, valid until this thread asks for ``purpose`` again."""
    buffers, dtype = _buffers(), np.dtype(dtype)
    buffer = buffers.pop(purpose, None)
    if buffer is not None and buffer.dtype == dtype and buffer.size >= size:
        buffers[purpose] = buffer
        return buffer[:size]
    room = RETAINED_BYTES - retained_bytes()
    grown = max(size, 2 * buffer.size if buffer is not None and buffer.dtype == dtype else 0)
    for kept in (grown, size):      # room to grow geometrically, else to keep just this size
        if kept * dtype.itemsize <= room:
            buffers[purpose] = np.empty(kept, dtype)
            return buffers[purpose][:size]
    return np.empty(size, dtype)


def zeroed(purpose: str, size: int, dtype: type | np.dtype) -> np.ndarray:
    """``scratch`` filled with zeros."""
    out = scratch(purpose, size, dtype)
    out.fill(0)
    return out


def retained_bytes() -> int:
    """Bytes this thread's scratch arrays hold between launches."""
    return sum(buffer.nbytes for buffer in _buffers().values())
