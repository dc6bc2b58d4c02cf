"""Each core's execute unit: callbacks at one instruction per cycle, plus its own memory accesses.

A token's callback takes ``vector_ops + scalar_ops`` cycles (at least one). The execute unit's own
accesses (stores, the loads of read-modify-writes) issue one line per cycle after the event's callbacks;
it then waits for its loads, since nothing runs ahead of the execute unit to hide them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dae_emulator.config import DeviceConfig
from dae_emulator.timing.access_unit import event_max
from dae_emulator.timing.stream import LineStream
from dae_emulator.trace import LaunchTrace


@dataclass(frozen=True)
class ExecuteUnitTime:
    """Per-core cycles (arrays indexed by core)."""

    busy: np.ndarray           # callbacks, own line issues and waits for own loads
    load_wait: np.ndarray      # of which waiting for its own loads
    token_cycles: np.ndarray   # mean cycles of one callback (the pipeline drain after the last data)


def callback_cycles(vector_ops: int, scalar_ops: int) -> int:
    return max(1, vector_ops + scalar_ops)


def execute_unit_time(
    trace: LaunchTrace, stream: LineStream, latency: np.ndarray, core_of_event: np.ndarray,
    config: DeviceConfig,
) -> ExecuteUnitTime:
    """``latency``: cycles from issue to data of each line of ``stream`` (0 for writes)."""
    cores = config.cores
    compute = np.zeros(cores)
    tokens = np.zeros(cores)
    for record in trace.tokens:
        core = core_of_event[record.event.numpy()]
        counts = np.bincount(core, minlength=cores)
        compute += counts * callback_cycles(record.vector_ops, record.scalar_ops)
        tokens += counts
    mine = stream.execute
    reads = mine & ~stream.write
    wait = event_max(latency[reads], stream.event[reads], core_of_event.size)
    load_wait = np.bincount(core_of_event, weights=wait, minlength=cores)
    issue = np.bincount(stream.core[mine], minlength=cores)
    return ExecuteUnitTime(
        busy=compute + issue + load_wait, load_wait=load_wait, token_cycles=compute / np.maximum(tokens, 1),
    )
