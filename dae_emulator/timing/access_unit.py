"""Lower bounds on each core's access unit: issue rate and Little's law on its two in-flight limits.

The access unit walks its events in order, issuing one line request per cycle (an event with no lines
still takes a cycle). Before an event issues, it reserves a queue entry for each token the event pushes;
the entry is freed when the execute unit pops the token, which is no earlier than the event's last line
arrives. A read holds one of ``max_outstanding`` request slots from issue to data (writes are posted).
Little's law turns each limit into a time: a core can go no faster than (total occupancy) / (capacity),
where a read occupies a slot for its latency and a token occupies an entry from reservation to data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dae_emulator.config import DeviceConfig
from dae_emulator.timing.stream import LineStream


@dataclass(frozen=True)
class AccessUnitTime:
    """Per-core cycles (arrays indexed by core)."""

    issue: np.ndarray          # issuing its lines and events, one per cycle
    outstanding: np.ndarray    # reads' total latency / max_outstanding
    queue: np.ndarray          # tokens' total queue residence / queue_capacity
    read_latency: np.ndarray   # mean latency of its reads: the pipeline fill before the first data


def event_max(values: np.ndarray, events: np.ndarray, num_events: int) -> np.ndarray:
    """Per event, the largest of ``values`` (0 where an event has none); ``events`` must be grouped."""
    result = np.zeros(num_events)
    if values.size:
        starts = np.flatnonzero(np.r_[True, events[1:] != events[:-1]])
        result[events[starts]] = np.maximum.reduceat(values, starts)
    return result


def access_unit_time(
    stream: LineStream, latency: np.ndarray, tokens_per_event: np.ndarray, core_of_event: np.ndarray,
    config: DeviceConfig,
) -> AccessUnitTime:
    """``latency``: cycles from issue to data of each line of ``stream`` (0 for writes)."""
    cores, num_events = config.cores, core_of_event.size
    mine = ~stream.execute
    reads = mine & ~stream.write
    lines = np.bincount(stream.event[mine], minlength=num_events)
    issue = np.maximum(lines, 1)
    data = event_max(latency[reads], stream.event[reads], num_events)
    residence = tokens_per_event * (issue - 1 + np.maximum(data, 1))
    read_count = np.bincount(stream.core[reads], minlength=cores)
    read_latency = np.bincount(stream.core[reads], weights=latency[reads], minlength=cores)
    return AccessUnitTime(
        issue=np.bincount(core_of_event, weights=issue, minlength=cores),
        outstanding=read_latency / config.max_outstanding,
        queue=np.bincount(core_of_event, weights=residence, minlength=cores) / config.queue_capacity,
        read_latency=read_latency / np.maximum(read_count, 1),
    )
