"""The reference machine: blocks wired together and a clock that advances them cycle by cycle.

Order within a cycle: DRAM and the cache deliver data first, then each core's execute unit (so a token
whose data arrived this cycle can be popped this cycle) and then its access unit (so an entry popped this
cycle can be reused this cycle). Cycles where no block acts by itself are skipped.
"""
from __future__ import annotations

from dataclasses import dataclass

from dae_emulator.config import DeviceConfig
from dae_emulator.cost import CostRecord, Stalls, bound_from_utilization
from dae_emulator.energy import EventCounts, energy_of
from dae_emulator.reference.access_unit import AccessUnit
from dae_emulator.reference.cache import Cache
from dae_emulator.reference.dram import Dram
from dae_emulator.reference.execute_unit import ExecuteUnit
from dae_emulator.reference.program import core_programs
from dae_emulator.reference.queue import TokenQueue
from dae_emulator.scratchpad import token_capacity
from dae_emulator.trace import LaunchTrace


@dataclass(frozen=True)
class Core:
    queue: TokenQueue
    access: AccessUnit
    execute: ExecuteUnit

    def done(self) -> bool:
        return self.access.done() and self.execute.done()


class Machine:
    def __init__(self, trace: LaunchTrace, config: DeviceConfig) -> None:
        self.config = config
        self.dram = Dram(config)
        self.cache = Cache(config, self.dram)
        self.cores = []
        programs = core_programs(trace, config)
        most = max((len(event.tokens) for events in programs for event in events), default=0)
        capacity = token_capacity(trace.queue_depth, config.queue_capacity, most)   # what the scratchpad holds
        for events in programs:
            queue = TokenQueue(capacity)
            self.cores.append(Core(
                queue, AccessUnit(events, queue, self.cache, config.max_outstanding),
                ExecuteUnit(events, queue, self.cache, not config.out_of_order_execute),
            ))

    def run(self, max_cycles: int = 10**9) -> CostRecord:
        blocks = [self.dram, self.cache] + [b for core in self.cores for b in (core.execute, core.access, core.queue)]
        for block in blocks:
            block.reset()
        finish = [0] * len(self.cores)
        cycle, flushed = 0, False
        while True:
            for block in blocks:
                block.advance(cycle)
            for index, core in enumerate(self.cores):
                if not finish[index] and core.done():
                    finish[index] = cycle
            if not flushed and self.cache.done() and all(core.done() for core in self.cores):
                self.cache.flush(cycle)
                flushed = True
            if flushed and self.dram.done():
                return self._record(cycle, finish)
            wakeups = [c for c in (block.next_cycle(cycle) for block in blocks) if c is not None]
            if not wakeups or cycle > max_cycles:
                raise RuntimeError(f"reference machine stuck at cycle {cycle}")
            cycle = min(wakeups)

    def _record(self, cycles: int, finish: list[int]) -> CostRecord:
        config = self.config
        cache, dram = self.cache.stats(), self.dram.stats()
        access = [core.access.stats() for core in self.cores]
        execute = [core.execute.stats() for core in self.cores]
        queues = [core.queue.stats() for core in self.cores]
        critical = max(range(len(finish)), key=finish.__getitem__)
        span = max(cycles, 1)
        seconds = cycles / (config.clock_ghz * 1e9)
        counts = EventCounts(
            dram_bytes=dram.bytes_read + dram.bytes_written,
            cache_accesses=cache.accesses,
            queue_entries=sum(q.pushes + q.operand_entries for q in queues),
            vector_ops=sum(e.vector_ops for e in execute),
            scalar_ops=sum(e.scalar_ops for e in execute),
        )
        return CostRecord(
            cycles=float(cycles),
            seconds=seconds,
            dram_bytes_read=dram.bytes_read,
            dram_bytes_written=dram.bytes_written,
            cache_bytes=cache.accesses * config.line_bytes,
            cache_hits=cache.read_hits,
            cache_misses=cache.read_misses,
            stalls=Stalls(
                access_queue_full=float(sum(a.queue_full for a in access)),
                execute_queue_empty=float(sum(e.queue_empty for e in execute)),
                memory_latency=float(sum(a.outstanding_full for a in access) + sum(e.own_loads for e in execute)),
            ),
            bound=bound_from_utilization(
                dram.busy_cycles / span, execute[critical].busy_cycles / span, access[critical].issue_cycles / span,
            ),
            energy=energy_of(counts, config, seconds),
            core_cycles=tuple(float(f) for f in finish),
        )


def simulate(trace: LaunchTrace, config: DeviceConfig) -> CostRecord:
    """Cost of ``trace`` on ``config``, simulated cycle by cycle (for small traces: thousands of accesses)."""
    return Machine(trace, config).run()
