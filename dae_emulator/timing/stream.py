"""The trace as the hardware sees it: cache-line requests in one device-wide issue order.

A row access of ``nbytes`` at ``address`` touches every line from ``address // line`` to
``(address + nbytes - 1) // line``. Outer items are split into contiguous per-core blocks. Inside a core,
requests go in event order, then in the order of the trace's access records, then in record order. The
cores run concurrently, and the shared cache needs one global order: the device order interleaves the
cores' events so that they advance at equal pace (the k-th of a core's n events at fraction k / n).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dae_emulator.trace import LaunchTrace, Side


@dataclass(frozen=True)
class LineStream:
    """Every line request of a launch in device order; each event's requests are contiguous."""

    line: np.ndarray       # int64 line address
    event: np.ndarray      # int64 issuing event
    core: np.ndarray       # int64 core that issues it
    execute: np.ndarray    # bool: issued by the execute unit (else by the access unit)
    write: np.ndarray      # bool


def event_cores(trace: LaunchTrace, cores: int) -> np.ndarray:
    """Core of each event: core ``c`` takes outer items ``[c * n // cores, (c + 1) * n // cores)``."""
    items = trace.event_item.numpy()
    return ((items + 1) * cores + trace.num_items - 1) // trace.num_items - 1


def device_order(core_of_event: np.ndarray, cores: int) -> np.ndarray:
    """Position of each event in the device order."""
    num_events = core_of_event.size
    if cores == 1:
        return np.arange(num_events)
    counts = np.bincount(core_of_event, minlength=cores)
    by_core = np.argsort(core_of_event, kind="stable")
    rank = np.empty(num_events)
    rank[by_core] = np.arange(num_events) - np.repeat(np.cumsum(counts) - counts, counts)
    position = np.empty(num_events, dtype=np.int64)
    position[np.argsort(rank / counts[core_of_event], kind="stable")] = np.arange(num_events)
    return position


def line_stream(trace: LaunchTrace, line_bytes: int, core_of_event: np.ndarray, cores: int) -> LineStream:
    """Expand every access of ``trace`` into its lines, in device order."""
    if not trace.accesses:
        empty = np.zeros(0, dtype=np.int64)
        return LineStream(empty, empty, empty, empty.astype(bool), empty.astype(bool))
    event = np.concatenate([record.event.numpy() for record in trace.accesses])
    address = np.concatenate([record.address.numpy() for record in trace.accesses])
    nbytes = np.concatenate([np.full(r.event.numel(), r.nbytes) for r in trace.accesses])
    record = np.repeat(np.arange(len(trace.accesses)), [r.event.numel() for r in trace.accesses])
    order = np.argsort(device_order(core_of_event, cores)[event], kind="stable")
    event, address, nbytes, record = event[order], address[order], nbytes[order], record[order]

    first = address // line_bytes
    count = (address + nbytes - 1) // line_bytes - first + 1
    within = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    record = np.repeat(record, count)
    execute = np.array([r.side is Side.EXECUTE for r in trace.accesses])
    write = np.array([r.is_write for r in trace.accesses])
    event = np.repeat(event, count)
    return LineStream(
        line=np.repeat(first, count) + within, event=event, core=core_of_event[event],
        execute=execute[record], write=write[record],
    )
