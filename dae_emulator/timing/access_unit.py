"""The access unit in the fast model: one core's event walk, one line request per cycle.

Starting an event reserves a queue entry per token, so it waits until the token ``queue_capacity`` places
earlier has been popped. Each read then needs one of ``max_outstanding`` request slots, and when all are
taken the read waits for the earliest to come back. Writes are posted. An event without lines still takes
a cycle.

Only the earliest busy-until time of a core's slots matters, and it is asked for once per read: the slots
sit in two sorted rings, one for hits and one for misses. A core's hits come back a fixed latency after
their issue cycle and its misses in the order the bus served them, so each ring is appended to at its end
(an out-of-order time is still inserted in place), and the earliest slot is the front of one of the two:
O(1) per read where a binary heap took a sift of log2(slots) levels.
"""
from __future__ import annotations

import numba
import numpy as np


HIT, MISS = 0, 1     # the two kinds of request a slot can hold, each kept in its own ring


@numba.njit(cache=True, nogil=True, _nrt=False)
def _earliest_kind(ring: np.ndarray, head: np.ndarray, count: np.ndarray, core: int) -> int:
    """Which ring holds the earliest-free slot of ``core`` (at least one slot must be in use)."""
    if count[core, HIT] == 0:
        return MISS
    if count[core, MISS] == 0:
        return HIT
    return HIT if ring[core, HIT, head[core, HIT]] <= ring[core, MISS, head[core, MISS]] else MISS


@numba.njit(cache=True, nogil=True, _nrt=False)
def slot_free_at(ring: np.ndarray, head: np.ndarray, count: np.ndarray, core: int, cycle: float) -> float:
    """Earliest cycle >= ``cycle`` at which one of ``core``'s request slots is free."""
    slots = ring.shape[2]
    if count[core, HIT] + count[core, MISS] < slots:
        return cycle
    kind = _earliest_kind(ring, head, count, core)
    return max(cycle, ring[core, kind, head[core, kind]])


@numba.njit(cache=True, nogil=True, _nrt=False)
def hold_slot(ring: np.ndarray, head: np.ndarray, count: np.ndarray, core: int, until: float, kind: int) -> None:
    """Occupy one of ``core``'s slots until ``until`` (freeing the earliest-free one when all are taken)."""
    slots = ring.shape[2]
    if count[core, HIT] + count[core, MISS] == slots:
        oldest = _earliest_kind(ring, head, count, core)
        head[core, oldest] = head[core, oldest] + 1 if head[core, oldest] + 1 < slots else 0
        count[core, oldest] -= 1
    # insert in order: one step in the usual case, where a kind's busy-until times come in nondecreasing
    i = count[core, kind]
    position = head[core, kind] + i
    position = position - slots if position >= slots else position
    while i > 0:
        before = position - 1 if position > 0 else slots - 1
        if ring[core, kind, before] <= until:
            break
        ring[core, kind, position] = ring[core, kind, before]
        position, i = before, i - 1
    ring[core, kind, position] = until
    count[core, kind] += 1


@numba.njit(cache=True, nogil=True, _nrt=False)
def entries_free_at(pops: np.ndarray, core: int, pushed: int, tokens: int) -> float:
    """When ``core``'s queue of ``pops.shape[1]`` entries has room for ``tokens`` more after ``pushed`` tokens."""
    capacity = pops.shape[1]
    oldest_needed = pushed + tokens - 1 - capacity
    return pops[core, oldest_needed % capacity] if tokens and oldest_needed >= 0 else 0.0
