"""The decoupled pipeline of every core, replayed event by event over the real line stream.

Per event: the access unit reserves queue entries, issues the event's lines (``access_unit``) and pushes
its queue entries, one per cycle, overlapping the line issue (a row pushed element by element costs as many
cycles as it has elements; a buffered row, one); a line's
data comes back after the cache latency if it hit, or after DRAM's bus and latency if it missed (``dram``),
and a line sent to DRAM (a write that missed, a dirty line evicted) books its transfer on the bus;
the event's tokens are ready when its last read is back, and the execute unit pops and runs them, then
issues its own lines (``execute_unit``). Each step takes the earliest cycle all its inputs allow, so queue
backpressure, request slots, callbacks and the shared bus shape the time together. Cores are walked side by
side in the stream's device order; their coupling is the shared cache (already replayed) and the bus.
"""
from __future__ import annotations

import enum

import numba
import numpy as np

from dae_emulator.timing.access_unit import HIT, MISS, entries_free_at, hold_slot, slot_free_at
from dae_emulator.timing.arena import scratch, zeroed
from dae_emulator.timing.dram import bus_transfer
from dae_emulator.timing.execute_unit import run_callbacks


class Tally(enum.IntEnum):
    """Columns of the per-core result of ``replay``."""

    FINISH = 0          # cycle its last unit finished
    ISSUE = 1           # access-unit cycles spent issuing
    QUEUE_FULL = 2      # access-unit cycles waiting for a queue entry
    SLOTS_FULL = 3      # access-unit cycles waiting for a request slot
    BUSY = 4            # execute-unit cycles running callbacks and issuing its own lines
    QUEUE_EMPTY = 5     # execute-unit cycles waiting for a ready token
    OWN_LOADS = 6       # execute-unit cycles waiting for its own loads


_COLUMNS = len(Tally)
_FILLS = 1 << 16        # in-flight fills remembered (far more than all cores' request slots together)


def fill_table() -> tuple[np.ndarray, np.ndarray]:
    """An empty table of in-flight fills for ``replay``: the line each entry last filled (-1: none), and when
    its data arrives (arena scratch)."""
    filling = scratch("fill table lines", _FILLS, np.int64)
    filling.fill(-1)
    return filling, zeroed("fill table cycles", _FILLS, np.float64)


@numba.njit(cache=True, nogil=True, _nrt=False)
def _after_fill(filling: np.ndarray, filled_at: np.ndarray, line: int, data: float, hit: bool) -> float:
    """When a read of ``line`` whose data would come at ``data`` really gets it: a miss's ``data`` is its
    fill, remembered in the table (``filling``: the line each entry last filled, ``filled_at``: when); a hit
    on a line whose fill is still on its way waits for it."""
    entry = line & (filling.size - 1)
    if not hit:
        filling[entry], filled_at[entry] = line, data
    elif filling[entry] == line:
        return max(data, filled_at[entry])
    return data


@numba.njit(cache=True, nogil=True)
def replay(
    events: np.ndarray, event_core: np.ndarray, line_start: np.ndarray, access_lines: np.ndarray,
    execute_lines: np.ndarray, tokens: np.ndarray, entries: np.ndarray, token_cycles: np.ndarray,
    address: np.ndarray, hit: np.ndarray, write: np.ndarray, prefetch: np.ndarray, dram_write: np.ndarray,
    flush_lines: int, cores: int, max_outstanding: int, queue_capacity: int, cache_latency: float,
    dram_latency: float, transfer: float, fill: np.ndarray, full: np.ndarray, width: float, capacity: int,
    mark: int, filling: np.ndarray, filled_at: np.ndarray, waits_for_own_loads: bool,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Per-core tallies (rows: cores, columns: ``Tally``), the cycle the last transfer or data ended, and
    the tallies as they stood before ``events[mark]`` (``mark == events.size``: after the last event, before
    the write-backs), where a core's ``FINISH`` is when its units were then free: interval sampling times
    the events from the mark on after warming the pipelines on those before it.
    ``dram_write``: the line's access sends a line to DRAM (a write that missed the cache, or the dirty
    line a read's allocation evicted), a transfer it books on the bus; a write that hits costs the bus
    nothing. A ``prefetch`` line takes a request slot until its data is back, but nothing waits for it.
    ``flush_lines`` dirty lines are written back once every core has finished. A read that hits a line
    whose fill is still on its way (``address``: the line of each request) gets its data when the fill
    does, not sooner (``_after_fill``; a table indexed by line, ``fill_table()``, where a collision
    forgets the older fill, which then counts as arrived). Unless ``waits_for_own_loads``, the execute unit
    runs on while its own loads are out (an out-of-order core); they still end before the launch does."""
    tally = np.zeros((cores, _COLUMNS))
    ring = np.zeros((cores, 2, max_outstanding))         # request slots: ``access_unit``'s two rings
    ring_head = np.zeros((cores, 2), dtype=np.int64)
    ring_count = np.zeros((cores, 2), dtype=np.int64)
    pops = np.zeros((cores, queue_capacity))
    pushed = np.zeros(cores, dtype=np.int64)
    access_free = np.zeros(cores)
    execute_free = np.zeros(cores)
    last_data = 0.0
    marked = np.zeros((cores, _COLUMNS))
    for position in range(events.size + 1):
        if position == mark:
            marked[:] = tally
            for core in range(cores):
                marked[core, Tally.FINISH] = max(access_free[core], execute_free[core])
        if position == events.size:
            break
        event = events[position]
        core = event_core[event]
        n_tokens = tokens[event]
        # access unit: reserve the queue entries, then issue one line per cycle
        start = max(access_free[core], entries_free_at(pops, core, pushed[core], n_tokens))
        tally[core, Tally.QUEUE_FULL] += start - access_free[core]
        cycle, ready = start, start
        first = line_start[event]
        for line in range(first, first + access_lines[event]):
            if dram_write[line]:
                last_data = max(last_data, bus_transfer(fill, full, width, transfer, capacity, cycle + cache_latency))
            if not write[line]:
                wanted = cycle
                cycle = slot_free_at(ring, ring_head, ring_count, core, cycle)
                tally[core, Tally.SLOTS_FULL] += cycle - wanted
                data = cycle + cache_latency
                if not hit[line]:
                    data = bus_transfer(fill, full, width, transfer, capacity, data) + dram_latency
                data = _after_fill(filling, filled_at, address[line], data, hit[line])
                hold_slot(ring, ring_head, ring_count, core, data, HIT if hit[line] else MISS)
                if not prefetch[line]:
                    ready = max(ready, data)
                last_data = max(last_data, data)
            cycle += 1.0
        cycle = max(cycle, start + max(entries[event], 1))     # one queue entry pushed per cycle
        tally[core, Tally.ISSUE] += max(access_lines[event], entries[event], 1)
        access_free[core] = cycle
        ready = max(ready, cycle)
        # execute unit: callbacks, then its own lines, then wait for its own loads
        free = execute_free[core]
        if n_tokens:
            free, waited = run_callbacks(pops, core, pushed[core], n_tokens, token_cycles[event], ready, free)
            tally[core, Tally.QUEUE_EMPTY] += waited
            tally[core, Tally.BUSY] += token_cycles[event]
            pushed[core] += n_tokens
        own_data = 0.0
        first += access_lines[event]
        for line in range(first, first + execute_lines[event]):
            data = free + cache_latency
            if dram_write[line]:
                last_data = max(last_data, bus_transfer(fill, full, width, transfer, capacity, data))
            if not write[line]:
                if not hit[line]:
                    data = bus_transfer(fill, full, width, transfer, capacity, data) + dram_latency
                data = _after_fill(filling, filled_at, address[line], data, hit[line])
                own_data = max(own_data, data)
                last_data = max(last_data, data)
            free += 1.0
            tally[core, Tally.BUSY] += 1.0
        if waits_for_own_loads:
            tally[core, Tally.OWN_LOADS] += max(own_data - free, 0.0)
            free = max(free, own_data)
        execute_free[core] = free
    for core in range(cores):
        tally[core, Tally.FINISH] = max(access_free[core], execute_free[core])
    flush = tally[:, Tally.FINISH].max() + cache_latency
    for _ in range(flush_lines):
        last_data = max(last_data, bus_transfer(fill, full, width, transfer, capacity, flush))
    return tally, last_data, marked
