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

    line: np.ndarray       # int64 line address
    event: np.ndarray      # int64 issuing event
    execute: np.ndarray    # bool: issued by the execute unit (else by the access unit)
    write: np.ndarray      # bool


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
    by_core = np.argsort(core_of_event, kind="stable")
    rank = np.empty(num_events)
    rank[by_core] = np.arange(num_events) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.argsort(rank / counts[core_of_event], kind="stable")


@numba.njit(cache=True, nogil=True)
def _expand(
    first: np.ndarray, count: np.ndarray, event: np.ndarray, record: np.ndarray, record_execute: np.ndarray,
    record_write: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Access i becomes lines first[i] .. first[i] + count[i] - 1, each tagged with its access's event,
    side and direction."""
    total = count.sum()
    lines = np.empty(total, dtype=np.int64)
    events = np.empty(total, dtype=np.int64)
    execute = np.empty(total, dtype=np.bool_)
    write = np.empty(total, dtype=np.bool_)
    k = 0
    for i in range(first.size):
        for j in range(count[i]):
            lines[k], events[k] = first[i] + j, event[i]
            execute[k], write[k] = record_execute[record[i]], record_write[record[i]]
            k += 1
    return lines, events, execute, write


def line_stream(trace: LaunchTrace, line_bytes: int, events: np.ndarray) -> LineStream:
    """Expand every access of ``trace`` into its lines, in the device order ``events``.

    Within an event the access unit's lines come first: the execute unit's follow its callbacks.
    """
    if not trace.accesses:
        empty = np.zeros(0, dtype=np.int64)
        return LineStream(empty, empty, empty.astype(bool), empty.astype(bool))
    event = np.concatenate([record.event.numpy() for record in trace.accesses])
    address = np.concatenate([record.address.numpy() for record in trace.accesses])
    nbytes = np.concatenate([np.full(r.event.numel(), r.nbytes) for r in trace.accesses])
    record = np.repeat(np.arange(len(trace.accesses)), [r.event.numel() for r in trace.accesses])
    execute = np.array([r.side is Side.EXECUTE for r in trace.accesses])
    position = np.empty(events.size, dtype=np.int64)
    position[events] = np.arange(events.size)
    order = np.argsort(2 * position[event] + execute[record], kind="stable")
    event, address, nbytes, record = event[order], address[order], nbytes[order], record[order]
    first = address // line_bytes
    count = (address + nbytes - 1) // line_bytes - first + 1
    write = np.array([r.is_write for r in trace.accesses])
    return LineStream(*_expand(first, count, event, record, execute, write))
