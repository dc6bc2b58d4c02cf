"""The fast timing model: the real line stream through the shared (write-back) cache, then the cores'
pipelines.

Two passes over the stream, both compiled loops: the cache replay decides hits from the real addresses
(locality and reuse are real), and the pipeline replay times every event of every core with queue
backpressure (at the depth the scratchpad leaves the operand queues, ``dae_emulator.scratchpad``), request
slots, callbacks and the shared DRAM bus. The cycle-level reference
(``dae_emulator.reference``) simulates the same machine literally; ``dae_emulator.validate`` checks that
the two agree.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numba
import numpy as np

from dae_emulator.config import DeviceConfig
from dae_emulator.cost import CostRecord, Stalls, bound_from_utilization
from dae_emulator.energy import EventCounts, energy_of
from dae_emulator.scratchpad import token_capacity
from dae_emulator.timing.arena import zeroed
from dae_emulator.timing.cache import CacheReplay, SetAssociativeCache
from dae_emulator.timing.dram import Dram, bucket_capacity
from dae_emulator.timing.execute_unit import callback_cycles
from dae_emulator.timing.pipeline import Tally, fill_table, replay
from dae_emulator.timing.stream import LineStream, device_order, event_cores, line_stream
from dae_emulator.trace import LaunchTrace


def _tokens(trace: LaunchTrace, config: DeviceConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per event: tokens pushed, queue entries pushed (tokens and their operands' pieces), and execute-unit
    cycles of their callbacks with the device's dispatch and pop costs (arena scratch)."""
    count, entries = zeroed("tokens", trace.num_events, np.int64), zeroed("entries", trace.num_events, np.int64)
    cycles = zeroed("token cycles", trace.num_events, np.float64)
    for record in trace.tokens:
        _add_pushes(record.event.numpy(), record.queue_entries,
                    callback_cycles(record.vector_ops, record.scalar_ops, config.callback_dispatch_cycles,
                                    record.queue_entries - 1, config.queue_pop_cycles, config.scalar_issue_width),
                    count, entries, cycles)
    return count, entries, cycles


@numba.njit(cache=True, nogil=True, _nrt=False)
def _add_pushes(event: np.ndarray, queue_entries: int, cycles_each: float, count: np.ndarray, entries: np.ndarray,
                cycles: np.ndarray) -> None:
    for e in event:
        count[e] += 1
        entries[e] += queue_entries
        cycles[e] += cycles_each


def _horizon(stream: LineStream, token_cycles: np.ndarray, entries: np.ndarray, core_of_event: np.ndarray,
             dram: Dram) -> float:
    """A cycle no launch runs past: each core's events alone and unoverlapped (their lines each on the miss
    path, their callbacks and queue pushes), plus all bus time."""
    miss_path = 1.0 + dram.miss_latency
    longest = _longest_core(stream.access_lines, stream.execute_lines, token_cycles, entries, core_of_event,
                            miss_path)
    return longest + stream.line.size * dram.transfer_cycles + miss_path


@numba.njit(cache=True, nogil=True)
def _longest_core(access_lines: np.ndarray, execute_lines: np.ndarray, token_cycles: np.ndarray,
                  entries: np.ndarray, core_of_event: np.ndarray, miss_path: float) -> float:
    """The longest core's serial cycles."""
    serial = np.zeros(core_of_event.max() + 1 if core_of_event.size else 1)
    for e in range(core_of_event.size):
        lines = access_lines[e] + execute_lines[e]
        serial[core_of_event[e]] += lines * miss_path + (token_cycles[e] + entries[e]) + 1.0
    return serial.max()


@numba.njit(cache=True, nogil=True, _nrt=False)
def _read_outcomes(write: np.ndarray, hit: np.ndarray) -> tuple[int, int]:
    """(reads that hit, reads that missed)."""
    hits = misses = 0
    for i in range(write.size):
        if not write[i]:
            if hit[i]:
                hits += 1
            else:
                misses += 1
    return hits, misses


def _event_counts(trace: LaunchTrace, config: DeviceConfig, lines: int, dram_bytes: int) -> EventCounts:
    """A token takes one queue entry, and its operand one per vector-sized piece."""
    entries = [1 + -(-record.operand_bytes // config.vector_bytes) for record in trace.tokens]
    return EventCounts(
        dram_bytes=dram_bytes,
        cache_accesses=lines,
        queue_entries=sum(record.event.numel() * n for record, n in zip(trace.tokens, entries)),
        vector_ops=sum(record.event.numel() * record.vector_ops for record in trace.tokens),
        scalar_ops=sum(record.event.numel() * record.scalar_ops for record in trace.tokens),
    )


@dataclass(frozen=True)
class PreparedLaunch:
    """What both the full and the interval-sampled pipeline replays need: the per-event token counts, the
    line stream in device order, and the cache's verdict on every line (the cache is always replayed in
    full: it is the functional warming of interval sampling)."""

    trace: LaunchTrace
    config: DeviceConfig
    dram: Dram
    capacity: int                # usable operand-queue entries
    tokens: np.ndarray           # per event
    entries: np.ndarray          # per event
    token_cycles: np.ndarray     # per event
    core_of_event: np.ndarray
    events: np.ndarray           # device order
    stream: LineStream
    cached: CacheReplay

    @functools.cached_property
    def horizon(self) -> float:
        """A cycle the whole launch does not run past (``_horizon``), worked out once."""
        return _horizon(self.stream, self.token_cycles, self.entries, self.core_of_event, self.dram)

    @property
    def bucket_width(self) -> float:
        """The bus calendar's bucket width for the whole launch (``Dram.bucket_width``)."""
        return self.dram.bucket_width(self.horizon + self.dram.cache_latency_cycles)   # the final write-backs start late

    def replay(self, events: np.ndarray, horizon: float, width: float, flush_lines: int,
               mark: int) -> tuple[np.ndarray, float, np.ndarray]:
        """The pipelines over ``events`` from empty (``pipeline.replay``), on a bus calendar of buckets of
        ``width`` covering ``horizon`` cycles; also the tallies as they stood before ``events[mark]``."""
        dram, stream = self.dram, self.stream
        fill, full, width = dram.calendar(horizon + dram.cache_latency_cycles, width)
        return replay(
            events, self.core_of_event, stream.line_start, stream.access_lines, stream.execute_lines, self.tokens,
            self.entries, self.token_cycles, stream.line, self.cached.hits, stream.write, stream.prefetch,
            self.cached.dram_write, flush_lines, self.config.cores, self.config.max_outstanding, self.capacity,
            dram.cache_latency_cycles, dram.latency_cycles, dram.transfer_cycles, fill, full, width,
            bucket_capacity(width, dram.transfer_cycles), mark, *fill_table(), not self.config.out_of_order_execute,
        )

    def record(self, cycles: float, tally: np.ndarray) -> CostRecord:
        """The launch's cost record from its cycles and per-core tallies; its traffic comes from the cache
        replay (exact however the pipelines were timed)."""
        config, dram, stream, cached = self.config, self.dram, self.stream, self.cached
        finish = tally[:, Tally.FINISH]
        read_hits, read_misses = _read_outcomes(stream.write, cached.hits)
        written_lines = int(np.count_nonzero(cached.dram_write)) + cached.dirty_at_end
        critical = int(np.argmax(finish))
        span = max(cycles, 1.0)
        seconds = cycles / (config.clock_ghz * 1e9)
        dram_bytes_read, dram_bytes_written = read_misses * config.line_bytes, written_lines * config.line_bytes
        counts = _event_counts(self.trace, config, stream.line.size, dram_bytes_read + dram_bytes_written)
        return CostRecord(
            cycles=cycles,
            seconds=seconds,
            dram_bytes_read=dram_bytes_read,
            dram_bytes_written=dram_bytes_written,
            cache_bytes=stream.line.size * config.line_bytes,
            cache_hits=read_hits,
            cache_misses=read_misses,
            stalls=Stalls(
                access_queue_full=float(tally[:, Tally.QUEUE_FULL].sum()),
                execute_queue_empty=float(tally[:, Tally.QUEUE_EMPTY].sum()),
                memory_latency=float(tally[:, Tally.SLOTS_FULL].sum() + tally[:, Tally.OWN_LOADS].sum()),
            ),
            bound=bound_from_utilization(
                (read_misses + written_lines) * dram.transfer_cycles / span,
                tally[critical, Tally.BUSY] / span, tally[critical, Tally.ISSUE] / span,
            ),
            energy=energy_of(counts, config, seconds),
            core_cycles=tuple(float(c) for c in finish),
        )


def prepare(trace: LaunchTrace, config: DeviceConfig) -> PreparedLaunch:
    """Token counts, line stream and cache replay of ``trace`` on ``config``."""
    tokens, entries, token_cycles = _tokens(trace, config)
    most_tokens = int(tokens.max(initial=0))
    if most_tokens > config.queue_capacity:
        raise ValueError(f"an event of {trace.program} pushes more tokens than a queue holds")
    capacity = token_capacity(trace.queue_depth, config.queue_capacity, most_tokens)
    core_of_event = event_cores(trace, config.cores)
    events = device_order(core_of_event, config.cores)
    stream = line_stream(trace, config.line_bytes, events)
    cached = SetAssociativeCache.from_config(config).replay(stream.line, stream.write)
    return PreparedLaunch(trace, config, Dram.from_config(config), capacity, tokens, entries, token_cycles,
                          core_of_event, events, stream, cached)


def full_cycles(launch: PreparedLaunch) -> tuple[float, np.ndarray]:
    """The launch's cycles and per-core tallies, every event timed."""
    tally, last_transfer, _ = launch.replay(launch.events, launch.horizon, launch.bucket_width,
                                            launch.cached.dirty_at_end, launch.events.size)
    return max(float(tally[:, Tally.FINISH].max(initial=0.0)), last_transfer), tally


def horizon_among(launch: PreparedLaunch, events: np.ndarray) -> float:
    """``_horizon`` of only ``events``, plus the write-backs at the launch's end."""
    stream, dram = launch.stream, launch.dram
    miss_path = 1.0 + dram.miss_latency
    longest, lines = _longest_core_among(events, stream.access_lines, stream.execute_lines, launch.token_cycles,
                                         launch.entries, launch.core_of_event, launch.config.cores, miss_path)
    return longest + (lines + launch.cached.dirty_at_end) * dram.transfer_cycles + miss_path


@numba.njit(cache=True, nogil=True)
def _longest_core_among(events: np.ndarray, access_lines: np.ndarray, execute_lines: np.ndarray,
                        token_cycles: np.ndarray, entries: np.ndarray, core_of_event: np.ndarray, cores: int,
                        miss_path: float) -> tuple[float, int]:
    """The longest core's serial cycles over ``events``, and their lines."""
    serial = np.zeros(cores)
    total = 0
    for e in events:
        lines = access_lines[e] + execute_lines[e]
        total += lines
        serial[core_of_event[e]] += lines * miss_path + (token_cycles[e] + entries[e]) + 1.0
    return serial.max(), total


def estimate(trace: LaunchTrace, config: DeviceConfig) -> CostRecord:
    """Modeled cost of running ``trace`` on ``config``, every event timed."""
    launch = prepare(trace, config)
    return launch.record(*full_cycles(launch))
