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

from dae_emulator.timing.arena import scratch
from dae_emulator.trace import LaunchTrace, Side, item_cores


@dataclass(frozen=True)
class LineStream:
    """Every line request of a launch in device order; each event's requests are contiguous. The arrays are
    the thread's scratch (``arena``): valid until the next launch's stream."""

    line: np.ndarray           # int64 line address
    write: np.ndarray          # bool
    prefetch: np.ndarray       # bool: a prefetch (nothing waits for its data)
    access_lines: np.ndarray   # int64 per event: lines its access unit issues
    execute_lines: np.ndarray  # int64 per event: lines its execute unit issues
    line_start: np.ndarray     # int64 per event: index of its first line in the stream


def event_cores(trace: LaunchTrace, cores: int) -> np.ndarray:
    """Core of each event: the core of its outer item (``item_cores``)."""
    return item_cores(trace.event_item.numpy(), trace.num_items, cores, trace.tile)


def device_order(core_of_event: np.ndarray, cores: int) -> np.ndarray:
    """The events in device order (for equal blocks in core order, the thread's scratch: ``arena``)."""
    num_events = core_of_event.size
    if cores == 1:
        return np.arange(num_events)
    counts = np.bincount(core_of_event, minlength=cores)
    if counts.size == cores and np.all(counts == counts[0]) and _nondecreasing(core_of_event):
        # equal blocks in core order: the k-th events of all cores, then the (k+1)-th (what the sort gives)
        return _interleave(cores, counts[0], scratch("device order", num_events, np.int64))
    by_core = np.argsort(core_of_event, kind="stable")
    rank = np.empty(num_events)
    rank[by_core] = np.arange(num_events) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.argsort(rank / counts[core_of_event], kind="stable")


@numba.njit(cache=True, nogil=True, _nrt=False)
def _nondecreasing(values: np.ndarray) -> bool:
    for i in range(1, values.size):
        if values[i] < values[i - 1]:
            return False
    return True


@numba.njit(cache=True, nogil=True, _nrt=False)
def _interleave(blocks: int, size: int, out: np.ndarray) -> np.ndarray:
    """Block b's k-th element (b * size + k) at place k * blocks + b."""
    for b in range(blocks):
        for k in range(size):
            out[k * blocks + b] = b * size + k
    return out


@numba.njit(cache=True, nogil=True, _nrt=False)
def _count_lines(
    position: np.ndarray, event: np.ndarray, address: np.ndarray, bounds: np.ndarray, record_bytes: np.ndarray,
    record_execute: np.ndarray, line_bytes: int, start: np.ndarray, access_lines: np.ndarray,
    execute_lines: np.ndarray, line_start: np.ndarray,
) -> int:
    """First pass of a stable counting sort of the lines on (device position of their event, side): each
    event's line counts and first line, and in ``start`` where each (position, side) key's lines begin.
    Accesses ``bounds[r]:bounds[r + 1]`` are record ``r``'s. Returns the number of lines."""
    keys = 2 * position.size
    start[:] = 0
    shift = _shift_of(line_bytes)
    for r in range(bounds.size - 1):
        for i in range(bounds[r], bounds[r + 1]):
            _, count = _lines_of(address[i], record_bytes[r], line_bytes, shift)
            start[2 * position[event[i]] + record_execute[r] + 1] += count
    for e in range(position.size):
        k = 2 * position[e]
        access_lines[e], execute_lines[e] = start[k + 1], start[k + 2]
    for k in range(keys):
        start[k + 1] += start[k]
    for e in range(position.size):
        line_start[e] = start[2 * position[e]]
    return start[keys]


@numba.njit(cache=True, nogil=True, _nrt=False)
def _place_lines(
    position: np.ndarray, event: np.ndarray, address: np.ndarray, bounds: np.ndarray, record_bytes: np.ndarray,
    record_execute: np.ndarray, record_write: np.ndarray, record_prefetch: np.ndarray, line_bytes: int,
    start: np.ndarray, lines: np.ndarray, write: np.ndarray, prefetch: np.ndarray,
) -> None:
    """Second pass: access i becomes lines address[i] // line_bytes onwards, each tagged with its access's
    direction, at its key's next places (``start`` from ``_count_lines``).

    An access's first line and line count are worked out in each pass rather than kept (arrays the size of
    the trace, whose fresh pages cost more than the arithmetic); a power-of-two line size divides by a
    shift (a 64-bit division costs tens of cycles, and there are two per access)."""
    shift = _shift_of(line_bytes)
    for r in range(bounds.size - 1):
        for i in range(bounds[r], bounds[r + 1]):
            first, count = _lines_of(address[i], record_bytes[r], line_bytes, shift)
            key = 2 * position[event[i]] + record_execute[r]
            k = start[key]
            for j in range(count):
                lines[k + j], write[k + j], prefetch[k + j] = first + j, record_write[r], record_prefetch[r]
            start[key] = k + count


@numba.njit(cache=True, nogil=True, _nrt=False)
def _shift_of(line_bytes: int) -> int:
    """log2 of a power-of-two line size, or -1."""
    if line_bytes & (line_bytes - 1):
        return -1
    shift = 0
    while (1 << shift) < line_bytes:
        shift += 1
    return shift


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
    position = scratch("position", events.size, np.int64)
    position[events] = np.arange(events.size)
    if not trace.accesses:
        empty = np.zeros(0, dtype=np.int64)
        none = np.zeros(events.size, dtype=np.int64)
        return LineStream(empty, empty.astype(bool), empty.astype(bool), none, none, none)
    sizes = [record.event.numel() for record in trace.accesses]
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    event = np.concatenate([record.event.numpy() for record in trace.accesses],
                           out=scratch("event", int(bounds[-1]), np.int64))
    address = np.concatenate([record.address.numpy() for record in trace.accesses],
                             out=scratch("address", int(bounds[-1]), np.int64))
    record_bytes = np.array([r.nbytes for r in trace.accesses], dtype=np.int64)
    execute = np.array([r.side is Side.EXECUTE for r in trace.accesses], dtype=np.int64)
    write = np.array([r.is_write for r in trace.accesses])
    prefetch = np.array([r.prefetch for r in trace.accesses])
    start = scratch("key start", 2 * events.size + 1, np.int64)
    access_lines, execute_lines, line_start = (scratch(name, events.size, np.int64)
                                               for name in ("access lines", "execute lines", "line start"))
    total = _count_lines(position, event, address, bounds, record_bytes, execute, line_bytes, start, access_lines,
                         execute_lines, line_start)
    lines = scratch("lines", total, np.int64)
    line_write, line_prefetch = scratch("line write", total, np.bool_), scratch("line prefetch", total, np.bool_)
    _place_lines(position, event, address, bounds, record_bytes, execute, write, prefetch, line_bytes, start, lines,
                 line_write, line_prefetch)
    return LineStream(lines, line_write, line_prefetch, access_lines, execute_lines, line_start)
