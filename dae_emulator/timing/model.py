"""The fast timing model: the real access stream through a simulated cache, then bounds per core.

Only the cache is simulated request by request (it is what makes locality and reuse real); the rest is
the analytic model of a decoupled core. Each core's time is the largest of its lower bounds -- issuing
its requests, running its callbacks, and Little's law on its request slots and queue entries -- plus the
pipeline fill (first data) or drain (last callback) the bound leaves exposed; the device's time is the
slowest core's, or DRAM's bus moving every missing and written line, whichever is longer. The cycle-level
reference (``dae_emulator.reference``) simulates the same machine literally; ``dae_emulator.validate``
checks that the two agree.
"""
from __future__ import annotations

import numpy as np

from dae_emulator.config import DeviceConfig
from dae_emulator.cost import Bound, CostRecord, Stalls
from dae_emulator.energy import EventCounts, energy_of
from dae_emulator.timing.access_unit import access_unit_time
from dae_emulator.timing.cache import SetAssociativeCache
from dae_emulator.timing.dram import Dram
from dae_emulator.timing.execute_unit import execute_unit_time
from dae_emulator.timing.stream import event_cores, line_stream
from dae_emulator.trace import LaunchTrace


def _tokens_per_event(trace: LaunchTrace) -> np.ndarray:
    counts = np.zeros(trace.num_events)
    for record in trace.tokens:
        counts += np.bincount(record.event.numpy(), minlength=trace.num_events)
    return counts


def _event_counts(trace: LaunchTrace, config: DeviceConfig, lines: int, dram_bytes: int) -> EventCounts:
    operand_entries = sum(
        record.event.numel() * -(-record.operand_bytes // config.vector_bytes) for record in trace.tokens
    )
    return EventCounts(
        dram_bytes=dram_bytes,
        cache_accesses=lines,
        queue_entries=sum(record.event.numel() for record in trace.tokens) + operand_entries,
        vector_ops=sum(record.event.numel() * record.vector_ops for record in trace.tokens),
        scalar_ops=sum(record.event.numel() * record.scalar_ops for record in trace.tokens),
    )


def estimate(trace: LaunchTrace, config: DeviceConfig) -> CostRecord:
    """Modeled cost of running ``trace`` on ``config``."""
    tokens_per_event = _tokens_per_event(trace)
    if tokens_per_event.size and tokens_per_event.max() > config.queue_capacity:
        raise ValueError(f"an event of {trace.program} pushes more tokens than a queue holds")
    dram = Dram.from_config(config)
    core_of_event = event_cores(trace, config.cores)
    stream = line_stream(trace, config.line_bytes, core_of_event, config.cores)
    hits = SetAssociativeCache.from_config(config).replay(stream.line, stream.write)
    latency = np.where(stream.write, 0.0, np.where(hits, dram.cache_latency_cycles, dram.miss_latency))

    access = access_unit_time(stream, latency, tokens_per_event, core_of_event, config)
    execute = execute_unit_time(trace, stream, latency, core_of_event, config)
    reads = ~stream.write
    read_misses = int(np.count_nonzero(reads & ~hits))
    dram_lines = read_misses + int(np.count_nonzero(stream.write))
    bandwidth = dram.bandwidth_cycles(dram_lines) + (dram.miss_latency if dram_lines else 0.0)

    per_bound = {
        Bound.ACCESS_ISSUE: access.issue + access.read_latency + execute.token_cycles,
        Bound.COMPUTE: execute.busy + access.read_latency,
        Bound.MEMORY_LATENCY: np.maximum(access.outstanding, access.queue),
    }
    core_cycles = np.maximum.reduce(list(per_bound.values()))
    critical = int(np.argmax(core_cycles))
    cycles = max(float(core_cycles[critical]), bandwidth)
    if bandwidth >= core_cycles[critical]:
        bound = Bound.MEMORY_BANDWIDTH
    else:
        bound = max(per_bound, key=lambda b: per_bound[b][critical])

    access_idle = np.maximum(core_cycles - access.issue, 0.0)
    queue_side = np.maximum(per_bound[Bound.COMPUTE], access.queue) >= np.maximum(access.outstanding, bandwidth)
    stalls = Stalls(
        access_queue_full=float(access_idle[queue_side].sum()),
        execute_queue_empty=float(np.maximum(core_cycles - execute.busy, 0.0).sum()),
        memory_latency=float(access_idle[~queue_side].sum() + execute.load_wait.sum()),
    )
    seconds = cycles / (config.clock_ghz * 1e9)
    dram_bytes_written = int(np.count_nonzero(stream.write)) * config.line_bytes
    dram_bytes_read = read_misses * config.line_bytes
    counts = _event_counts(trace, config, stream.line.size, dram_bytes_read + dram_bytes_written)
    return CostRecord(
        cycles=cycles,
        seconds=seconds,
        dram_bytes_read=dram_bytes_read,
        dram_bytes_written=dram_bytes_written,
        cache_bytes=stream.line.size * config.line_bytes,
        cache_hits=int(np.count_nonzero(reads & hits)),
        cache_misses=read_misses,
        stalls=stalls,
        bound=bound,
        energy=energy_of(counts, config, seconds),
        core_cycles=tuple(float(c) for c in core_cycles),
    )
