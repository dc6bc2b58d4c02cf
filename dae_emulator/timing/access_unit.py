"""The access unit in the fast model: one core's event walk, one line request per cycle.

Starting an event reserves a queue entry per token, so it waits until the token ``queue_capacity`` places
earlier has been popped. Each read then needs one of ``max_outstanding`` request slots: the slots' busy-until
times sit in a small min-heap, and a full heap makes the read wait for the earliest to come back. Writes
are posted. An event without lines still takes a cycle.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _sift_down(heap: np.ndarray, size: int) -> None:
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            return
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        if heap[i] <= heap[child]:
            return
        heap[i], heap[child] = heap[child], heap[i]
        i = child


@numba.njit(cache=True, nogil=True)
def _sift_up(heap: np.ndarray, i: int) -> None:
    while i > 0:
        parent = (i - 1) // 2
        if heap[parent] <= heap[i]:
            return
        heap[i], heap[parent] = heap[parent], heap[i]
        i = parent


@numba.njit(cache=True, nogil=True)
def slot_free_at(slots: np.ndarray, used: int, cycle: float) -> float:
    """Earliest cycle >= ``cycle`` at which one of the request slots is free."""
    return cycle if used < slots.size else max(cycle, slots[0])


@numba.njit(cache=True, nogil=True)
def hold_slot(slots: np.ndarray, used: int, until: float) -> int:
    """Occupy a slot until ``until`` (the earliest-free one when all are taken); returns the slots in use."""
    if used == slots.size:
        slots[0] = until
        _sift_down(slots, used)
        return used
    slots[used] = until
    _sift_up(slots, used)
    return used + 1


@numba.njit(cache=True, nogil=True)
def entries_free_at(pops: np.ndarray, pushed: int, tokens: int) -> float:
    """When a queue of ``pops.size`` entries has room for ``tokens`` more after ``pushed`` tokens."""
    oldest_needed = pushed + tokens - 1 - pops.size
    return pops[oldest_needed % pops.size] if tokens and oldest_needed >= 0 else 0.0
