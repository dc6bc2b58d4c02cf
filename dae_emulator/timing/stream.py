"""The trace as the hardware sees it: cache-line requests in one device-wide issue order.

A row access of ``nbytes`` at ``address`` touches every line from ``address // line`` to
``(address + nbytes - 1) // line``. Outer items are split into contiguous per-core blocks. Inside a core,
requests go in event order, then in the order of the trace's access records, then in record order. The
cores run concurrently, and the shared cache needs one global order: the device order interleaves the
cores' events so that they advance at equal pace (the k-th of a core's n events at fraction k / n).
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from dae_emulator.trace import LaunchTrace, Side


@dataclass(frozen=True)
class LineStream:
    """Every line request of a launch in device order; each event's requests are contiguous."""

    line: np.ndarray           # int64 line address
    write: np.ndarray          # bool
    prefetch: np.ndarray       # bool: a prefetch (nothing waits for its data)
    access_lines: np.ndarray   # int64 per event: lines its access unit issues
    execute_lines: np.ndarray  # int64 per event: lines its execute unit issues
    line_start: np.ndarray     # int64 per event: index of its first line in the stream


def event_cores(trace: LaunchTrace, cores: int) -> np.ndarray:
    """Core of each event: core ``c`` takes outer items ``[c * n // cores, (c + 1) * n // cores)``."""
    items = trace.event_item.numpy()
    return ((items + 1) * cores + trace.num_items - 1) // trace.num_items - 1


def device_order(core_of_event: np.ndarray, cores: int) -> np.ndarray:
    """The events in device order."""
    num_events = core_of_event.size
    if cores == 1:
        return np.arange(num_events)
    counts = np.bincount(core_of_event, minlength=cores)
    if counts.size == cores and np.all(counts == counts[0]) and np.all(core_of_event[1:] >= core_of_event[:-1]):
        # equal blocks in core order: the k-th events of all cores, then the (k+1)-th (what the sort gives)
        return np.arange(num_events).reshape(cores, -1).T.ravel()
    by_core = np.argsort(core_of_event, kind="stable")
    rank = np.empty(num_events)
    rank[by_core] = np.arange(num_events) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.argsort(rank / counts[core_of_event], kind="stable")


@numba.njit(cache=True, nogil=True)
def _ordered_lines(
    position: np.ndarray, event: np.ndarray, address: np.ndarray, record: np.ndarray, record_bytes: np.ndarray,
    record_execute: np.ndarray, record_write: np.ndarray, record_prefetch: np.ndarray, line_bytes: int,
):
    """Access i becomes lines address[i] // line_bytes onwards, each tagged with its access's direction,
    placed by a stable counting sort on (device position of its event, side).

    An access's first line and line count are worked out in each of the two passes rather than kept (three
    arrays the size of the trace, whose fresh pages cost more than the arithmetic); a power-of-two line
    size divides by a shift (a 64-bit division costs tens of cycles, and there are two per access)."""
    keys = 2 * position.size
    start = np.zeros(keys + 1, dtype=np.int64)
    shift = -1
    if line_bytes & (line_bytes - 1) == 0:
        shift = 0
        while (1 << shift) < line_bytes:
            shift += 1
    for i in range(event.size):
        first, count = _lines_of(address[i], record_bytes[record[i]], line_bytes, shift)
        start[2 * position[event[i]] + record_execute[record[i]] + 1] += count
    access_lines = np.empty(position.size, dtype=np.int64)
    execute_lines = np.empty(position.size, dtype=np.int64)
    line_start = np.empty(position.size, dtype=np.int64)
    for e in range(position.size):
        k = 2 * position[e]
        access_lines[e], execute_lines[e] = start[k + 1], start[k + 2]
    for k in range(keys):
        start[k + 1] += start[k]
    for e in range(position.size):
        line_start[e] = start[2 * position[e]]
    total = start[keys]
    lines = np.empty(total, dtype=np.int64)
    write = np.empty(total, dtype=np.bool_)
    prefetch = np.empty(total, dtype=np.bool_)
    for i in range(event.size):
        r = record[i]
        first, count = _lines_of(address[i], record_bytes[r], line_bytes, shift)
        key = 2 * position[event[i]] + record_execute[r]
        k = start[key]
        for j in range(count):
            lines[k + j], write[k + j], prefetch[k + j] = first + j, record_write[r], record_prefetch[r]
        start[key] = k + count
    return lines, write, prefetch, access_lines, execute_lines, line_start


@numba.njit(cache=True, nogil=True, _nrt=False)
def _lines_of(address: int, nbytes: int, line_bytes: int, shift: int) -> tuple[int, int]:
    """(first line, line count) of ``nbytes`` at ``address``; ``shift``: log2 of a power-of-two line size, or -1."""
    last = address + nbytes - 1
    if shift >= 0:
        first = address >> shift
        return first, (last >> shift) - first + 1
    first = address // line_bytes
    return first, last // line_bytes - first + 1


def line_stream(trace: LaunchTrace, line_bytes: int, events: np.ndarray) -> LineStream:
    """Expand every access of ``trace`` into its lines, in the device order ``events``.

    Within an event the access unit's lines come first: the execute unit's follow its callbacks.
    """
    position = np.empty(events.size, dtype=np.int64)
    position[events] = np.arange(events.size)
    if not trace.accesses:
        empty = np.zeros(0, dtype=np.int64)
        none = np.zeros(events.size, dtype=np.int64)
        return LineStream(empty, empty.astype(bool), empty.astype(bool), none, none, none)
    event = np.concatenate([record.event.numpy() for record in trace.accesses])
    address = np.concatenate([record.address.numpy() for record in trace.accesses])
    record = np.repeat(np.arange(len(trace.accesses)), [r.event.numel() for r in trace.accesses])
    record_bytes = np.array([r.nbytes for r in trace.accesses], dtype=np.int64)
    execute = np.array([r.side is Side.EXECUTE for r in trace.accesses], dtype=np.int64)
    write = np.array([r.is_write for r in trace.accesses])
    prefetch = np.array([r.prefetch for r in trace.accesses])
    return LineStream(*_ordered_lines(position, event, address, record, record_bytes, execute, write, prefetch,
                                      line_bytes))
